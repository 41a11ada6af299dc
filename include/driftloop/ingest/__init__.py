"""Ingest: landed batches copied into the raw zone (``landing``), the batch's tables as the use case declares them
(``tables``), and their validation against the data contracts (``validation``)."""
