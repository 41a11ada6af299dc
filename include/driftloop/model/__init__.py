"""The model: training set, training, evaluation, the champion gate, the MLflow registry and the champion
history, and the steps of one training run (``training_run``)."""
