"""A table of malformed deliveries, each re-delivering an accepted day through ingest and validation: the check the
user sees is named, and the accepted data of every day stays byte-identical (the raw zone keeps every delivery).

The use case is churn with one addition, ``max_rows = 20`` on ``activity_events`` (a bound the spike kind needs; the
hand-written batches hold 4 events). 2026-05-01 and 2026-05-04 are accepted first, so 2026-05-04 has one batch of
history (fewer than the 3 the comparison with recent batches needs: the spec's bounds stand in) and its labels, which
describe 2026-05-01, can be checked against 2026-05-01's profiles.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import date
from pathlib import Path

import pytest

from driftloop.ingest.landing import copy_batch_to_raw
from driftloop.ingest.validation import BatchRejected, validate_batch
from driftloop.settings import REPO_ROOT, get_settings, load_settings
from driftloop.storage import lake, raw_zone

DAY = date(2026, 5, 4)
EARLIER = date(2026, 5, 1)
ACTIVITY_HEADER = "event_id,customer_id,event_time,event_type,device,genre,minutes_watched"
ACTIVITY = [
    "e1,1,2026-05-04T08:00:00Z,session,tv,drama,42.5",
    "e2,2,2026-05-04T00:00:00Z,session,mobile,comedy,10.0",
    "e3,2,2026-05-04T23:59:59Z,support_contact,,,",
    "e4,3,2026-05-04T10:00:00Z,payment_failure,,,",
]
PROFILES_HEADER = "snapshot_date,customer_id,plan,monthly_charge,region,signup_date"
PROFILES = [
    "2026-05-04,1,basic,8.99,north,2025-01-01",
    "2026-05-04,2,premium,17.99,,2025-06-15",
    "2026-05-04,3,standard,12.99,west,2026-04-04",
]
LABELS_HEADER = "customer_id,as_of_date,churned,future_watch_hours"
LABELS = ["1,2026-05-01,0,12.5", "3,2026-05-01,1,0.0"]


def _csv(header: str, rows: list[str]) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def _clean() -> dict[str, bytes]:
    return {
        "activity_events.csv": _csv(ACTIVITY_HEADER, ACTIVITY),
        "customer_profiles.csv": _csv(PROFILES_HEADER, PROFILES),
        "churn_labels.csv": _csv(LABELS_HEADER, LABELS),
    }


def _with(**files: bytes | None) -> dict[str, bytes]:
    """The clean batch with ``<table>=bytes`` replaced (None: the file is left out)."""
    batch = _clean()
    for table, data in files.items():
        batch.pop(f"{table}.csv")
        if data is not None:
            batch[f"{table}.csv"] = data
    return batch


def _activity(rows: list[str], header: str = ACTIVITY_HEADER) -> bytes:
    return _csv(header, rows)


def _replaced(rows: list[str], index: int, old: str, new: str) -> list[str]:
    return [row.replace(old, new) if i == index else row for i, row in enumerate(rows)]


SPIKE = [f"s{i},{1 + i % 3},2026-05-04T12:00:00Z,session,tv,drama,5.0" for i in range(40)]
NO_DEVICE = [",".join(v if i != 4 else "" for i, v in enumerate(row.split(","))) for row in ACTIVITY]

# kind -> (the delivered files, the (file, check) pairs the user sees; empty: accepted)
DELIVERIES = {
    "truncated_mid_row": (
        _with(activity_events=_activity(ACTIVITY)[:-20]),
        {("activity_events.csv", "row_field_count"), ("activity_events.csv", "file_complete")},
    ),
    "cut_inside_last_value": (
        _with(activity_events=_activity([*ACTIVITY[1:], ACTIVITY[0]])[:-3]),  # 42.5 cut to 42
        {("activity_events.csv", "file_complete")},
    ),
    "short_row": (
        _with(activity_events=_activity(_replaced(ACTIVITY, 1, ",10.0", ""))),
        {("activity_events.csv", "row_field_count")},
    ),
    "long_row": (
        _with(activity_events=_activity(_replaced(ACTIVITY, 2, ",,,", ",,,,"))),
        {("activity_events.csv", "row_field_count")},
    ),
    "utf8_bom": (_with(activity_events=b"\xef\xbb\xbf" + _activity(ACTIVITY)), set()),
    "crlf_line_ends": (_with(customer_profiles=_csv(PROFILES_HEADER, PROFILES).replace(b"\n", b"\r\n")), set()),
    "plus_0500_offsets": (
        _with(
            activity_events=_activity(
                [
                    row.replace("T08:00:00Z", "T13:00:00+05:00")
                    .replace("T00:00:00Z", "T05:00:00+05:00")
                    .replace("T23:59:59Z", "T23:59:59+00:00")
                    .replace("T10:00:00Z", "T15:00:00+05:00")
                    for row in ACTIVITY
                ]
            )
        ),
        set(),
    ),
    "naive_timestamps": (
        _with(activity_events=_activity([row.replace("Z,", ",") for row in ACTIVITY])),
        {("activity_events.csv", "timestamp_has_offset")},
    ),
    "mixed_naive_and_aware": (
        _with(activity_events=_activity(_replaced(ACTIVITY, 0, "08:00:00Z", "08:00:00"))),
        {("activity_events.csv", "timestamp_has_offset")},
    ),
    "inf_minutes": (
        _with(activity_events=_activity(_replaced(ACTIVITY, 0, "42.5", "inf"))),
        {("activity_events.csv", "finite_number")},
    ),
    "infinity_regression_target": (
        _with(churn_labels=_csv(LABELS_HEADER, _replaced(LABELS, 0, "12.5", "Infinity"))),
        {("churn_labels.csv", "finite_number")},
    ),
    "1e400_overflow": (
        _with(activity_events=_activity(_replaced(ACTIVITY, 1, "10.0", "1e400"))),
        {("activity_events.csv", "finite_number")},
    ),
    "1e308_in_target": (
        _with(churn_labels=_csv(LABELS_HEADER, _replaced(LABELS, 1, ",0.0", ",1e308"))),
        {("churn_labels.csv", "value_in_range")},
    ),
    "textual_NaN": (
        _with(activity_events=_activity(_replaced(ACTIVITY, 0, "42.5", "NaN"))),
        {("activity_events.csv", "no_textual_nan")},
    ),
    "textual_nan_in_a_date": (
        _with(customer_profiles=_csv(PROFILES_HEADER, _replaced(PROFILES, 2, "2026-04-04", "nan"))),
        {("customer_profiles.csv", "no_textual_nan")},
    ),
    "n/a_in_a_number": (
        _with(activity_events=_activity(_replaced(ACTIVITY, 0, "42.5", "n/a"))),
        {("activity_events.csv", "coercible_to_dtype")},
    ),
    "latin1_bytes": (
        _with(activity_events=_activity(ACTIVITY).replace(b"e3,", "é3,".encode("latin-1"))),
        {("activity_events.csv", "file_readable")},
    ),
    "unterminated_quote": (
        _with(activity_events=_activity(_replaced(ACTIVITY, 3, ",payment_failure", ',"payment_failure'))),
        {("activity_events.csv", "file_readable")},
    ),
    "semicolon_delimiter": (
        _with(activity_events=_activity(ACTIVITY).replace(b",", b";")),
        {("activity_events.csv", "comma_delimited")},
    ),
    "renamed_column": (
        _with(activity_events=_activity(ACTIVITY, ACTIVITY_HEADER.replace("minutes_watched", "minutes"))),
        {("activity_events.csv", "column_present"), ("activity_events.csv", "column_in_contract")},
    ),
    "extra_column": (
        _with(customer_profiles=_csv(PROFILES_HEADER + ",coupon", [row + ",SPRING" for row in PROFILES])),
        {("customer_profiles.csv", "column_in_contract")},
    ),
    "column_named_twice": (
        _with(churn_labels=_csv(LABELS_HEADER + ",churned", [row + ",0" for row in LABELS])),
        {("churn_labels.csv", "column_unique")},
    ),
    "duplicate_key": (
        _with(activity_events=_activity([*ACTIVITY, ACTIVITY[0]])),
        {("activity_events.csv", "key_unique")},
    ),
    "null_key": (
        _with(activity_events=_activity(_replaced(ACTIVITY, 1, "e2,2,", "e2,,"))),
        {("activity_events.csv", "not_nullable")},
    ),
    "event_of_an_unknown_customer": (
        _with(activity_events=_activity(_replaced(ACTIVITY, 3, "e4,3,", "e4,9,"))),
        {("activity_events.csv", "reference_exists")},
    ),
    "label_of_an_unknown_customer": (
        _with(churn_labels=_csv(LABELS_HEADER, [*LABELS, "7,2026-05-01,1,0.0"])),
        {("churn_labels.csv", "reference_exists")},
    ),
    "empty_file": (_with(customer_profiles=b""), {("customer_profiles.csv", "file_readable")}),
    "header_only": (
        _with(customer_profiles=_csv(PROFILES_HEADER, [])),
        {("customer_profiles.csv", "row_count_in_bounds")},
    ),
    "missing_table": (_with(churn_labels=None), {("churn_labels.csv", "file_present")}),
    "row_count_spike_without_history": (
        _with(activity_events=_activity(SPIKE)),
        {("activity_events.csv", "row_count_in_bounds")},
    ),
    "all_null_column": (
        _with(activity_events=_activity(NO_DEVICE)),
        {("activity_events.csv", "null_rate_in_bounds")},
    ),
    "wrong_day": (
        _with(activity_events=_activity(_replaced(ACTIVITY, 0, "2026-05-04T08", "2026-05-03T08"))),
        {("activity_events.csv", "day_column_in_batch_interval")},
    ),
    "out_of_range": (
        _with(activity_events=_activity(_replaced(ACTIVITY, 1, "10.0", "-5"))),
        {("activity_events.csv", "value_in_range")},
    ),
    "unknown_category": (
        _with(customer_profiles=_csv(PROFILES_HEADER, _replaced(PROFILES, 0, "basic", "gold"))),
        {("customer_profiles.csv", "value_in_categories")},
    ),
}
FILE_LEVEL = {"file_present", "file_readable", "comma_delimited", "column_unique"}


@pytest.fixture(scope="module")
def bounded_churn(tmp_path_factory) -> Path:
    """A copy of the churn use case whose activity_events declare ``max_rows = 20``."""
    folder = tmp_path_factory.mktemp("usecases") / "churn_bounded"
    shutil.copytree(REPO_ROOT / "usecases" / "churn", folder, ignore=shutil.ignore_patterns("tests", "__pycache__"))
    spec = folder / "usecase.toml"
    spec.write_text(
        spec.read_text().replace('day_column = "event_time"\n', 'day_column = "event_time"\nmax_rows = 20\n')
    )
    return folder


@pytest.fixture
def settings(data_root, bounded_churn, monkeypatch):
    """Settings of the bounded churn copy with a 3-day label horizon on a fresh data root."""
    monkeypatch.setenv("DRIFTLOOP_USECASE", str(bounded_churn))
    monkeypatch.setenv("DRIFTLOOP_LABEL_HORIZON_DAYS", "3")
    get_settings.cache_clear()
    return load_settings()


def _deliver(settings, day: date, files: dict[str, bytes], name: str = "delivery"):
    """Land ``files`` as ``day``'s batch (with its _SUCCESS marker) and copy it into the raw zone."""
    folder = settings.data_root / "landing" / name / lake.partition_name(day)
    folder.mkdir(parents=True)
    for file_name, data in files.items():
        (folder / file_name).write_bytes(data)
    (folder / "_SUCCESS").write_bytes(b"")
    return copy_batch_to_raw(day, folder, settings)


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _accept_history(settings) -> str:
    """Accept 2026-05-01 (the clean rows moved three days back) and 2026-05-04; returns 2026-05-04's delivery."""
    clean = _clean()
    earlier = {name: clean[name].replace(b"2026-05-04", b"2026-05-01") for name in clean}
    earlier["churn_labels.csv"] = clean["churn_labels.csv"].replace(b"2026-05-01", b"2026-04-28")
    validate_batch(EARLIER, settings, _deliver(settings, EARLIER, earlier, "earlier").delivery)
    return validate_batch(DAY, settings, _deliver(settings, DAY, _clean(), "first").delivery).delivery


@pytest.mark.parametrize("kind", DELIVERIES)
def test_a_malformed_re_delivery_names_its_check_and_leaves_accepted_data_byte_identical(settings, kind):
    files, expected = DELIVERIES[kind]
    first = _accept_history(settings)
    accepted = _digest(settings.validated_dir)

    raw = _deliver(settings, DAY, files, kind)
    if not expected:
        batch = validate_batch(DAY, settings, raw.delivery)
        assert batch.row_counts == {"activity_events": 4, "customer_profiles": 3, "churn_labels": 2}
        assert all(change == {"added": 0, "removed": 0, "changed": 0} for change in batch.changes.values())
        assert _digest(settings.validated_dir) == accepted, "the same rows, however delivered, give the same files"
        assert {e["delivery"] for e in raw_zone.read_manifest(DAY, settings)["tables"].values()} == {raw.delivery}
        return
    with pytest.raises(BatchRejected) as rejected:
        validate_batch(DAY, settings, raw.delivery)

    assert {(failure.file, failure.check) for failure in rejected.value.failures} == expected
    for failure in rejected.value.failures:
        assert f"{failure.file}: {failure.check}" in str(rejected.value)
        if failure.check in FILE_LEVEL:
            assert failure.failing_count is None and f"{failure.check}: 0 rows" not in str(rejected.value)
        else:
            assert failure.sample_rows or failure.check.startswith(("row_count", "column_")), failure
    assert _digest(settings.validated_dir) == accepted
    assert [d.name for d in raw_zone.deliveries(DAY, settings)] == [first, raw.delivery], "raw keeps both deliveries"
    assert {e["delivery"] for e in raw_zone.read_manifest(DAY, settings)["tables"].values()} == {first}
    report = json.loads(rejected.value.report_path.read_text())
    assert (report["delivery"], sorted(report["files"])) == (raw.delivery, sorted(files))


def test_the_line_of_each_structural_failure_is_named(settings):
    _accept_history(settings)
    cut = _deliver(settings, DAY, DELIVERIES["truncated_mid_row"][0], "cut")
    with pytest.raises(BatchRejected) as rejected:
        validate_batch(DAY, settings, cut.delivery)
    failures = {failure.check: failure for failure in rejected.value.failures}
    assert [row["line"] for row in failures["row_field_count"].sample_rows] == [5]
    assert failures["file_complete"].failing_count == 1 and "line 5" in failures["file_complete"].detail

    latin1 = _deliver(settings, DAY, DELIVERIES["latin1_bytes"][0], "latin1")
    with pytest.raises(BatchRejected) as rejected:
        validate_batch(DAY, settings, latin1.delivery)
    [failure] = rejected.value.failures
    assert "line 4, column 1: byte 0xe9 is not UTF-8" in failure.detail

    semicolons = _deliver(settings, DAY, DELIVERIES["semicolon_delimiter"][0], "semicolons")
    with pytest.raises(BatchRejected) as rejected:
        validate_batch(DAY, settings, semicolons.delivery)
    [failure] = rejected.value.failures
    assert "looks ';'-delimited" in failure.detail and "7 of them contract columns" in failure.detail


def test_the_comparison_with_recent_batches_says_it_was_skipped_in_the_log_and_the_report(settings, caplog):
    _accept_history(settings)
    raw = _deliver(settings, DAY, DELIVERIES["row_count_spike_without_history"][0], "spike")
    with pytest.raises(BatchRejected) as rejected:
        validate_batch(DAY, settings, raw.delivery)

    report = json.loads(rejected.value.report_path.read_text())
    skipped = {(note["table"], note["check"]): note["reason"] for note in report["skipped_checks"]}
    reason = skipped[("activity_events", "row_count_vs_recent")]
    assert reason.startswith("1 non-empty accepted batches in the 7 days before, 3 needed")
    assert reason.endswith("checked against min_rows=1, max_rows=20 instead")
    assert "no min_rows/max_rows declared" in skipped[("churn_labels", "row_count_vs_recent")]
    assert f"activity_events: row_count_vs_recent skipped: {reason}" in caplog.text
    earlier = raw_zone.read_manifest(EARLIER, settings)["tables"]["activity_events"]["skipped_checks"]
    assert earlier[0].startswith("0 non-empty accepted batches"), "an accepted day's manifest records its skips too"


@pytest.mark.parametrize(
    ("variable", "policy", "delivery", "outcome"),
    [
        ("TEXTUAL_NAN", "null", "textual_NaN", None),  # read as missing: minutes_watched is nullable
        ("TEXTUAL_NAN", "null", "textual_nan_in_a_date", "not_nullable"),  # read as missing: signup_date is not
        ("NAIVE_TIMESTAMPS", "utc", "naive_timestamps", None),  # every timestamp naive: taken as UTC
        ("NAIVE_TIMESTAMPS", "utc", "mixed_naive_and_aware", "timestamp_offsets_consistent"),  # mixed: rejected
    ],
)
def test_the_textual_nan_and_naive_timestamp_policies_are_settings(
    settings, monkeypatch, variable, policy, delivery, outcome
):
    monkeypatch.setenv(f"DRIFTLOOP_VALIDATION_{variable}", policy)
    settings = load_settings()
    _accept_history(settings)
    raw = _deliver(settings, DAY, DELIVERIES[delivery][0], delivery)
    if outcome is None:
        assert validate_batch(DAY, settings, raw.delivery).delivery == raw.delivery
        return
    with pytest.raises(BatchRejected) as rejected:
        validate_batch(DAY, settings, raw.delivery)
    assert [failure.check for failure in rejected.value.failures] == [outcome]
