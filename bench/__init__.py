"""driftloop's benchmarks: every stage against its floor, measured side by side (``make bench``)."""
