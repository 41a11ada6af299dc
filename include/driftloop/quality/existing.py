"""Which code that predates the test-score registry covers which rubric test, and the practices followed by hand.

Each line names the check, the stage that runs it and the tests behind it; ``driftloop test-score`` verifies every
name (see :mod:`driftloop.quality.registry`), so a renamed function or test costs its point instead of being
believed.
"""

from __future__ import annotations

from driftloop.quality.registry import declare, manual

VALIDATION = "tests/unit/test_validation.py"
TRAINING = "tests/unit/test_training.py"

declare(
    "data.1",
    "driftloop.ingest.validation:contract_for",
    stage="driftloop.ingest.validation:_check_rows",
    tests=(
        f"{VALIDATION}::test_the_contract_is_generated_from_the_table_spec",
        f"{VALIDATION}::test_each_broken_rule_rejects_the_batch_with_only_its_check_column_and_count",
    ),
    note="pandera contracts generated from the use-case spec validate every delivered table",
)
manual(
    "data.6",
    evidence="README.md### How to add a feature",
    note="a new feature is declared, computed and tested in three documented steps; its lead time is not measured",
)
declare(
    "data.7",
    "driftloop.features.partitions:check_against_declaration",
    stage="driftloop.features.partitions:build_features_for_day",
    tests=(
        "usecases/churn/tests/test_features.py::test_rolling_windows_count_only_days_up_to_the_day",
        "usecases/churn/tests/test_features.py::test_produced_columns_and_types_are_exactly_the_feature_view_declaration",
    ),
)
manual(
    "model.1",
    evidence="include/driftloop/model/model_registry.py#def model_card(",
    note="every version carries a model card and its git commit; the review itself is by hand",
)
declare(
    "model.5",
    "driftloop.model.evaluation:baseline_predictions",
    stage="driftloop.model.training_run:step_evaluate",
    tests=(
        "tests/unit/test_evaluation.py::test_the_classification_baseline_learns_a_simple_signal_from_the_numeric_features",
        "tests/unit/test_promotion.py::test_the_gate",
    ),
    note="the gate promotes only a model that beats a linear baseline",
)
declare(
    "model.6",
    "driftloop.model.evaluation:evaluation_slices",
    stage="driftloop.model.training_run:step_evaluate",
    tests=(
        "tests/unit/test_evaluation.py::test_slices_are_scored_and_too_small_or_single_class_ones_are_skipped_with_the_reason",
        "tests/unit/test_promotion.py::test_the_gate",
    ),
)
declare(
    "infrastructure.1",
    "driftloop.model.training:train_model",
    stage="driftloop.model.training_run:step_train",
    tests=(f"{TRAINING}::test_the_same_data_params_and_seed_give_identical_predictions_on_cpu",),
    note="seeded training on a hashed, snapshotted training set",
)
declare(
    "infrastructure.2",
    "driftloop.model.training:build_model_matrix",
    stage="driftloop.model.training:_dmatrix",
    tests=(
        f"{TRAINING}::test_the_model_matrix_rejects_missing_features_and_values_that_are_not_numbers",
        f"{TRAINING}::test_hyperparameters_override_the_defaults_and_typos_or_reserved_keys_are_errors",
    ),
)
declare(
    "infrastructure.3",
    None,
    stage=None,
    tests=(
        "tests/integration/test_model_pipeline.py::test_the_first_model_becomes_champion_with_its_lineage_tags",
        "tests/system/test_drift_loop.py::test_drift_turns_into_exactly_one_retraining_through_the_scheduler",
    ),
    note="the DAGs run through Airflow in integration and system tests",
)
declare(
    "infrastructure.4",
    "driftloop.model.promotion:decide_promotion",
    stage="driftloop.model.training_run:step_gate",
    tests=("tests/unit/test_promotion.py::test_the_gate",),
)
manual(
    "infrastructure.5",
    evidence="README.md#### Training, the registry and scoring",
    note="runs, versions and reports are in MLflow with their inputs; stepping through one example is by hand",
)
declare(
    "infrastructure.7",
    "driftloop.model.model_registry:rollback",
    stage="dags/rollback.py",
    tests=(
        "tests/unit/test_model_registry.py::test_rollback_walks_the_champion_history_back_and_never_past_the_first_champion",
    ),
)
declare(
    "monitoring.2",
    "driftloop.ingest.validation:validate_batch",
    stage="dags/ingest.py",
    tests=(f"{VALIDATION}::test_a_rejected_batch_moves_to_quarantine_with_a_machine_readable_report",),
    note="every batch is validated on ingest, and scoring rejects unknown categories",
)
declare(
    "monitoring.3",
    "driftloop.model.training:build_model_matrix",
    stage="driftloop.model.model_registry:predict_with_version",
    tests=(
        f"{TRAINING}::test_the_model_matrix_is_identical_for_training_rows_and_scoring_rows",
        "tests/unit/test_point_in_time.py::test_lookups_at_one_moment_as_in_scoring_read_the_file_exactly_the_ttl_old",
    ),
    note="one model matrix and one point-in-time lookup for training and scoring",
)
declare(
    "monitoring.7",
    "driftloop.monitoring.monitor:matured_quality",
    stage="driftloop.monitoring.monitor:monitor_day",
    tests=(
        "tests/unit/test_monitoring.py::test_quality_presets_score_matured_predictions_like_sklearn",
        "tests/unit/test_monitoring.py::test_a_quality_drop_is_beyond_the_tolerance_in_the_metric_s_bad_direction",
    ),
)
