"""The registered model as MLflow serves it: a pyfunc that builds the model matrix, then asks the booster.

XGBoost reads categorical inputs only as pandas ``category`` columns, a dtype that neither JSON nor MLflow's column
types carry, so MLflow's own XGBoost pyfunc cannot score a serving request with categorical columns (the input
example failed to validate with "<column>: object"). This model takes the features as MLflow types them (categoricals
as strings, numbers as doubles), turns them into the matrix with ``build_model_matrix`` and the categories the
version was trained with (kept in its ``model_config``, so the version does not depend on today's use case spec),
and predicts with the booster artifact through its best iteration.

It is logged as code (MLflow's models from code: this file, which ends by declaring the model with ``set_model``),
not as a pickled object; loading it needs the ``driftloop`` package.
"""

from __future__ import annotations

import mlflow.models
import mlflow.pyfunc
import pandas as pd
import xgboost as xgb

from driftloop.model.training import build_model_matrix

BOOSTER_ARTIFACT = "booster"


def model_config(feature_columns: list[str], categorical: dict[str, tuple[str, ...]]) -> dict:
    """What the served model needs besides its booster: the input columns in order and the categories of each
    categorical one."""
    return {
        "feature_columns": list(feature_columns),
        "categories": {c: list(values) for c, values in categorical.items() if c in feature_columns},
    }


def serving_frame(matrix: pd.DataFrame) -> pd.DataFrame:
    """A model matrix as a serving request carries it: categorical columns as plain strings (missing stays missing)."""
    categorical = [c for c in matrix.columns if isinstance(matrix[c].dtype, pd.CategoricalDtype)]
    return matrix.astype({c: "object" for c in categorical})


class BoosterWithModelMatrix(mlflow.pyfunc.PythonModel):
    """XGBoost booster behind driftloop's model matrix (see the module docstring)."""

    def load_context(self, context) -> None:
        """Load the booster artifact and the column configuration."""
        self.booster = xgb.Booster()
        self.booster.load_model(context.artifacts[BOOSTER_ARTIFACT])
        self.feature_columns = list(context.model_config["feature_columns"])
        self.categories = {c: tuple(v) for c, v in context.model_config["categories"].items()}

    def predict(self, context, model_input: pd.DataFrame, params=None):
        """Scores (a probability or a value) for each row of feature values."""
        return self.predict_frame(pd.DataFrame(model_input))

    def predict_frame(self, frame: pd.DataFrame):
        """Scores for raw feature rows (other columns are ignored), through the same matrix as training."""
        return self.booster.inplace_predict(build_model_matrix(frame, self.feature_columns, self.categories))


mlflow.models.set_model(BoosterWithModelMatrix())
