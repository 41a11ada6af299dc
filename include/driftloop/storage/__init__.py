"""The data lake's storage layer: day-partitioned folders with atomic replacement (``lake``) and the raw zone on a
folder or S3 (``raw_zone``)."""
