"""Serving: batch scoring of the champion to Parquet and PostgreSQL (``scoring``)."""
