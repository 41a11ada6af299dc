"""driftloop: the pipeline logic of a continuous-training loop, free of Airflow so a CLI can run it too."""

__version__ = "0.1.0"
