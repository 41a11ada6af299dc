"""The ML Test Score (Breck et al., 2017) as a registry of the checks that cover its 28 tests, and the score.

A check declares the rubric test it covers where it is defined, with :func:`covers` (a decorator), or, for code that
predates this registry, with :func:`declare`; a test the project covers only by hand is declared with
:func:`manual`. Nothing here types in a point: :func:`score` verifies each declaration against the code as it is —

- the check (``module:function``) imports;
- the pipeline stage it names (``module:function`` or a ``dags/*.py`` file) really calls it (its name occurs in the
  stage's syntax tree, or in that of a driftloop function the stage calls, a few calls deep);
- every test id (``path::test_name``) names a test function that exists;
- a manual one's evidence (``path#text``) is a file holding that text —

and gives a full point to a verified automated check, half a point to a verified manual one and nothing otherwise.
A section's score is the sum over its seven tests (each test counts its best declaration); the score is the minimum
over the four sections.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]

SECTIONS = ("data", "model", "infrastructure", "monitoring")
SECTION_TITLES = {
    "data": "Tests for features and data",
    "model": "Tests for model development",
    "infrastructure": "Tests for ML infrastructure",
    "monitoring": "Monitoring tests for ML",
}


@dataclass(frozen=True)
class RubricTest:
    """One of the paper's 28 tests: its section, its number there and its title."""

    id: str
    section: str
    number: int
    title: str


RUBRIC = tuple(
    RubricTest(f"{section}.{number}", section, number, title)
    for section, titles in (
        (
            "data",
            (
                "Feature expectations are captured in a schema",
                "All features are beneficial",
                "No feature's cost is too much",
                "Features adhere to meta-level requirements",
                "The data pipeline has appropriate privacy controls",
                "New features can be added quickly",
                "All input feature code is tested",
            ),
        ),
        (
            "model",
            (
                "Model specs are reviewed and submitted",
                "Offline and online metrics correlate",
                "All hyperparameters have been tuned",
                "The impact of model staleness is known",
                "A simpler model is not better",
                "Model quality is sufficient on important data slices",
                "The model is tested for considerations of inclusion",
            ),
        ),
        (
            "infrastructure",
            (
                "Training is reproducible",
                "Model specs are unit tested",
                "The ML pipeline is integration tested",
                "Model quality is validated before serving",
                "The model is debuggable",
                "Models are canaried before serving",
                "Serving models can be rolled back",
            ),
        ),
        (
            "monitoring",
            (
                "Dependency changes result in notification",
                "Data invariants hold for inputs",
                "Training and serving are not skewed",
                "Models are not too stale",
                "Models are numerically stable",
                "Computing performance has not regressed",
                "Prediction quality has not regressed",
            ),
        ),
    )
    for number, title in enumerate(titles, start=1)
)
RUBRIC_IDS = {test.id for test in RUBRIC}


@dataclass(frozen=True)
class Coverage:
    """A declaration that ``check`` covers rubric test ``test``: automated (run by ``stage``, tested by ``tests``)
    or, when ``evidence`` is set, manual (a documented practice, half a point)."""

    test: str
    check: str | None
    stage: str | None = None
    tests: tuple[str, ...] = ()
    evidence: str | None = None
    note: str = ""

    @property
    def automated(self) -> bool:
        """Whether this declaration claims a check the pipeline runs (not a manual practice)."""
        return self.evidence is None


@dataclass(frozen=True)
class Verified:
    """A declaration with the points it earned and what failed its verification."""

    coverage: Coverage
    points: float
    problems: list[str] = field(default_factory=list)


_DECLARED: list[Coverage] = []


def _register(coverage: Coverage) -> Coverage:
    if coverage.test not in RUBRIC_IDS:
        raise ValueError(f"{coverage.check}: {coverage.test!r} is not a rubric test ({', '.join(sorted(RUBRIC_IDS))})")
    if coverage not in _DECLARED:
        _DECLARED.append(coverage)
    return coverage


def covers(test: str, *, stage: str, tests: tuple[str, ...], note: str = "") -> Callable:
    """Decorate a check function: it covers rubric ``test``, the pipeline runs it in ``stage`` (``module:function``
    or ``dags/file.py``) and ``tests`` (``path::name``) test it."""

    def decorate(function: Callable) -> Callable:
        _register(Coverage(test, f"{function.__module__}:{function.__qualname__}", stage, tuple(tests), note=note))
        return function

    return decorate


def declare(test: str, check: str | None, *, stage: str | None, tests: tuple[str, ...], note: str = "") -> None:
    """Declare that existing code (``module:function``; None for a test-only practice such as integration tests)
    covers rubric ``test``."""
    _register(Coverage(test, check, stage, tuple(tests), note=note))


def manual(test: str, *, evidence: str, note: str) -> None:
    """Declare a practice followed by hand, documented at ``evidence`` (``path#text``): half a point."""
    _register(Coverage(test, None, None, (), evidence=evidence, note=note))


def _resolve(dotted: str) -> object:
    module_name, _, qualname = dotted.partition(":")
    target: object = importlib.import_module(module_name)
    for part in qualname.split(".") if qualname else ():
        target = getattr(target, part)
    return target


@cache
def _tree(path: Path) -> ast.AST:
    return ast.parse(path.read_text(), filename=str(path))


def _names_in(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.alias):
            names.add(node.name.rsplit(".", 1)[-1])
    return names


def _stage_problem(stage: str, check_name: str) -> str | None:
    if stage.endswith(".py"):
        path = REPO_ROOT / stage
        if not path.is_file():
            return f"stage {stage} does not exist"
        tree = _tree(path)
        names = _names_in(tree)
    else:
        try:
            names = _called_names(stage)
        except (ImportError, AttributeError, OSError, TypeError, SyntaxError) as exc:
            return f"stage {stage} cannot be read: {exc}"
    if check_name not in names:
        return f"stage {stage} does not call {check_name}"
    return None


def _called_names(stage: str, depth: int = 3, seen: set[str] | None = None) -> set[str]:
    """The names a stage function uses, with those of the driftloop functions it calls by a name of its module
    (followed ``depth`` levels deep): a stage that calls a check through a helper still calls it."""
    seen = set() if seen is None else seen
    seen.add(stage)
    module_name, _, _ = stage.partition(":")
    module = importlib.import_module(module_name)
    names = _names_in(ast.parse(textwrap.dedent(inspect.getsource(_resolve(stage)))))
    if depth:
        for name in sorted(names):
            helper = getattr(module, name, None)
            if not inspect.isfunction(helper) or not helper.__module__.startswith("driftloop"):
                continue
            target = f"{helper.__module__}:{helper.__qualname__}"
            if target not in seen:
                names |= _called_names(target, depth - 1, seen)
    return names


def _test_problem(test_id: str) -> str | None:
    path, *names = test_id.split("::")
    file = REPO_ROOT / path
    if not file.is_file() or not names:
        return f"test {test_id}: no such file or no test named"
    scope: list[ast.stmt] = list(_tree(file).body)
    for name in names:
        found = [n for n in scope if isinstance(n, ast.FunctionDef | ast.ClassDef) and n.name == name]
        if not found:
            return f"test {test_id}: {name} is not defined in {path}"
        scope = list(found[0].body) if isinstance(found[0], ast.ClassDef) else []
    if not names[-1].startswith("test"):
        return f"test {test_id}: {names[-1]} is not a test function"
    return None


def verify(coverage: Coverage) -> Verified:
    """Check one declaration against the code (see the module docstring) and give its points."""
    problems = []
    if not coverage.automated:
        path, _, text = (coverage.evidence or "").partition("#")
        file = REPO_ROOT / path
        if not file.is_file() or text not in file.read_text():
            problems.append(f"evidence {coverage.evidence} not found")
        return Verified(coverage, 0.0 if problems else 0.5, problems)
    if coverage.check is not None:
        try:
            _resolve(coverage.check)
        except (ImportError, AttributeError) as exc:
            problems.append(f"check {coverage.check} does not import: {exc}")
        if coverage.stage is None:
            problems.append(f"check {coverage.check} names no pipeline stage that runs it")
        elif not problems:
            problem = _stage_problem(coverage.stage, coverage.check.rpartition(":")[2].rsplit(".", 1)[-1])
            problems += [problem] if problem else []
    if not coverage.tests:
        problems.append("no test id")
    problems += [p for p in map(_test_problem, coverage.tests) if p]
    return Verified(coverage, 0.0 if problems else 1.0, problems)


def load_declarations() -> list[Coverage]:
    """Every declaration: imports each module of the ``driftloop.quality`` package (whose checks declare themselves)
    and returns the declarations in rubric order."""
    import driftloop.quality as package

    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")
    order = {test.id: index for index, test in enumerate(RUBRIC)}
    return sorted(_DECLARED, key=lambda c: order[c.test])


@dataclass(frozen=True)
class TestScore:
    """One rubric test, its verified declarations and its points (the best of them)."""

    test: RubricTest
    verified: list[Verified]

    @property
    def points(self) -> float:
        """The best declaration's points (0 when none)."""
        return max((v.points for v in self.verified), default=0.0)


@dataclass(frozen=True)
class Score:
    """The rubric scored: per test, per section, and the minimum over sections."""

    tests: list[TestScore]

    def section(self, name: str) -> float:
        """The sum of a section's test points."""
        return sum(t.points for t in self.tests if t.test.section == name)

    @property
    def total(self) -> float:
        """The ML Test Score: the minimum over the sections."""
        return min(self.section(name) for name in SECTIONS)


def score(declarations: list[Coverage] | None = None) -> Score:
    """Verify every declaration and score the 28 tests."""
    declarations = load_declarations() if declarations is None else declarations
    verified = [verify(c) for c in declarations]
    return Score([TestScore(t, [v for v in verified if v.coverage.test == t.id]) for t in RUBRIC])


def render(result: Score) -> str:
    """The score as text: the four sections with each test, its points and what earned them, then the score."""
    lines = []
    for section in SECTIONS:
        lines.append(f"{SECTION_TITLES[section]} ({section}): {result.section(section):g} / 7")
        for test in (t for t in result.tests if t.test.section == section):
            lines.append(f"  {test.test.id:<17} {test.points:>3g}  {test.test.title}")
            for v in test.verified:
                c = v.coverage
                what = c.check or (f"manual, documented in {c.evidence}" if c.evidence else "tests")
                lines.append(f"      {v.points:g} {what}" + (f" (stage {c.stage})" if c.stage else ""))
                lines += [f"          test {t}" for t in c.tests]
                lines += [f"          NOT COUNTED: {p}" for p in v.problems]
            if not test.verified:
                lines.append("      0 nothing covers this test")
        lines.append("")
    lines.append(
        f"ML Test Score: {result.total:g} (the minimum over sections: "
        + ", ".join(f"{s} {result.section(s):g}" for s in SECTIONS)
        + ")"
    )
    return "\n".join(lines)
