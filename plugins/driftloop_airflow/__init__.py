"""Airflow-side pieces of driftloop: the asset registry, DAG defaults and the landing sensor.

Airflow puts ``plugins/`` on ``sys.path`` of the dag-processor, workers and triggerer, so DAG files import these
modules and the triggerer can load the triggers they defer to. Pipeline logic stays in the ``driftloop`` package.
"""
