"""Monitoring: drift and quality of scored days (``monitor``), sample-size-aware thresholds (``drift_thresholds``)
and the drift records the retraining sensor reads (``drift_records``)."""
