"""Checks that cover the ML Test Score's tests (Breck et al., 2017), each run by a pipeline stage, and the registry
that scores them (``driftloop test-score``)."""
