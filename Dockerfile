# driftloop's image: Airflow 3.3 with the locked requirements and the driftloop package baked in, so nothing is
# fetched when a container starts. One image serves every Airflow component, the Celery workers and the MLflow
# tracking server of docker-compose.yaml.
#
#   docker build -t driftloop:latest .                                  # CPU image (xgboost-cpu, smaller)
#   docker build -t driftloop:gpu --build-arg XGBOOST_FLAVOR=cuda .     # GPU workers (NVIDIA container runtime)
ARG AIRFLOW_VERSION=3.3.2
ARG PYTHON_VERSION=3.11
FROM apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION}

ARG AIRFLOW_VERSION
# cuda: XGBoost's standard wheel, built with CUDA (it uses the GPU the NVIDIA runtime exposes and the CPU otherwise);
# cpu: the xgboost-cpu wheel of the same version, without the CUDA libraries.
ARG XGBOOST_FLAVOR=cpu
ARG XGBOOST_VERSION=3.2.0

USER airflow
WORKDIR /opt/airflow
COPY --chown=airflow:root requirements.lock /opt/driftloop/requirements.lock
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -r /opt/driftloop/requirements.lock \
 && if [ "${XGBOOST_FLAVOR}" = "cpu" ]; then \
      pip uninstall -y xgboost nvidia-nccl-cu12 \
      && pip install --no-cache-dir "xgboost-cpu==${XGBOOST_VERSION}"; \
    fi

COPY --chown=airflow:root pyproject.toml README.md /opt/driftloop/
COPY --chown=airflow:root include /opt/driftloop/include
RUN pip install --no-cache-dir --no-deps /opt/driftloop

COPY --chown=airflow:root dags /opt/airflow/dags
COPY --chown=airflow:root plugins /opt/airflow/plugins
COPY --chown=airflow:root feature_repo /opt/airflow/feature_repo
COPY --chown=airflow:root usecases /opt/airflow/usecases

ENV AIRFLOW__CORE__DAGS_FOLDER=/opt/airflow/dags \
    AIRFLOW__CORE__PLUGINS_FOLDER=/opt/airflow/plugins \
    AIRFLOW__CORE__LOAD_EXAMPLES=False \
    DRIFTLOOP_FEATURE_REPO=/opt/airflow/feature_repo \
    DRIFTLOOP_USECASES_DIR=/opt/airflow/usecases \
    DRIFTLOOP_DATA_ROOT=/opt/airflow/data
