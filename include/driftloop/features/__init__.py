"""Features: daily per-entity partitions from the use case's feature function (``partitions``), Feast operations
(``feature_store``) and the point-in-time lookups training and scoring share (``point_in_time``)."""
