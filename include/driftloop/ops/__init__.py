"""Operations around a running Airflow: its REST client (``airflow_api``) and the demo that drives it (``demo``)."""
