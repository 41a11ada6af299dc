"""The test-score registry gives points only to declarations it can verify in the code, and the repository scores
at least 6 in every section."""

from __future__ import annotations

import pytest

from driftloop.cli import main
from driftloop.quality.registry import RUBRIC, SECTIONS, Coverage, score, verify

THIS = "tests/unit/test_quality_registry.py"


def test_the_rubric_has_the_papers_28_tests_seven_per_section():
    assert len(RUBRIC) == 28
    assert {s: sum(t.section == s for t in RUBRIC) for s in SECTIONS} == dict.fromkeys(SECTIONS, 7)


@pytest.mark.parametrize(
    ("coverage", "points", "problem"),
    [
        (
            Coverage(
                "monitoring.5",
                "driftloop.quality.numerics:check_training_curve",
                "driftloop.model.training_run:step_train",
                (f"{THIS}::test_the_rubric_has_the_papers_28_tests_seven_per_section",),
            ),
            1.0,
            None,
        ),
        (
            Coverage(
                "monitoring.5",
                "driftloop.quality.numerics:check_training_curve",
                "driftloop.model.training_run:step_split",
                (f"{THIS}::test_the_rubric_has_the_papers_28_tests_seven_per_section",),
            ),
            0.0,
            "does not call check_training_curve",
        ),
        (
            Coverage(
                "monitoring.5",
                "driftloop.quality.numerics:no_such_check",
                "driftloop.model.training_run:step_train",
                (f"{THIS}::test_the_rubric_has_the_papers_28_tests_seven_per_section",),
            ),
            0.0,
            "does not import",
        ),
        (
            Coverage(
                "monitoring.5",
                "driftloop.quality.numerics:check_training_curve",
                "driftloop.model.training_run:step_train",
                (f"{THIS}::test_that_does_not_exist",),
            ),
            0.0,
            "test_that_does_not_exist is not defined",
        ),
        (
            Coverage(
                "monitoring.5",
                "driftloop.quality.numerics:check_training_curve",
                "driftloop.model.training_run:step_train",
                (),
            ),
            0.0,
            "no test id",
        ),
        (Coverage("data.6", None, evidence="README.md#How to add a feature"), 0.5, None),
        (Coverage("data.6", None, evidence="README.md#a heading nobody wrote"), 0.0, "not found"),
    ],
)
def test_a_declaration_earns_its_point_only_when_check_stage_and_tests_exist(coverage, points, problem):
    verified = verify(coverage)
    assert verified.points == points
    assert (problem is None and not verified.problems) or any(problem in p for p in verified.problems)


def test_the_repository_scores_at_least_6_in_every_section_with_nothing_left_unverified():
    result = score()
    assert {s: result.section(s) >= 6 for s in SECTIONS} == dict.fromkeys(SECTIONS, True)
    unverified = [(t.test.id, v.coverage.check, v.problems) for t in result.tests for v in t.verified if v.problems]
    assert unverified == []
    assert result.total == min(result.section(s) for s in SECTIONS)


def test_the_command_prints_the_sections_and_the_score(capsys):
    assert main(["test-score", "--min-section", "6"]) == 0
    out = capsys.readouterr().out
    assert out.count(" / 7") == 4 and "ML Test Score: " in out
    assert "monitoring.5" in out and "driftloop.quality.numerics:check_training_curve" in out
    assert main(["test-score", "--min-section", "7.5"]) == 1
