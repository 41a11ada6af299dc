"""Ingest copies a complete landed batch into a new delivery of its raw partition, keeping earlier deliveries; a
rerun that copies the same bytes stores nothing new."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from driftloop.ingest.landing import BatchNotLanded, copy_batch_to_raw
from driftloop.settings import load_settings
from driftloop.storage import lake, raw_zone

DAY = date(2026, 2, 3)


def _land(folder, files, marker=True):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    if marker:
        (folder / "_SUCCESS").write_text("")
    return folder


def test_a_complete_batch_is_copied_byte_for_byte(data_root):
    settings = load_settings()
    source = _land(
        data_root / "landing" / "dt=2026-02-03", {"activity_events.csv": "a\n1\n", "churn_labels.csv": "b\n"}
    )
    raw = copy_batch_to_raw(DAY, source, settings)
    assert raw.new and raw.delivery.startswith("delivery=")
    assert raw.uri == str(lake.partition_dir(settings.raw_dir, DAY) / raw.delivery)
    assert (Path(raw.uri) / "activity_events.csv").read_text() == "a\n1\n"
    assert (Path(raw.uri) / "_SUCCESS").exists(), "the delivery's marker is written last"
    assert sorted(raw.files) == ["activity_events.csv", "churn_labels.csv"]
    assert raw.files["activity_events.csv"]["bytes"] == 4


def test_a_re_delivery_is_kept_beside_the_first_and_a_rerun_stores_nothing_new(data_root):
    settings = load_settings()
    first = _land(data_root / "first", {"activity_events.csv": "old\n", "churn_labels.csv": "old\n"})
    original = copy_batch_to_raw(DAY, first, settings)
    second = _land(data_root / "second", {"activity_events.csv": "new\n"})
    raw = copy_batch_to_raw(DAY, second, settings)
    assert sorted(p.name for p in Path(raw.uri).iterdir()) == ["_SUCCESS", "activity_events.csv"]
    assert (Path(raw.uri) / "activity_events.csv").read_text() == "new\n"
    assert (Path(original.uri) / "churn_labels.csv").read_text() == "old\n", "the first delivery is kept"
    assert [d.name for d in raw_zone.deliveries(DAY, settings)] == [original.delivery, raw.delivery]

    rerun = copy_batch_to_raw(DAY, second, settings)
    assert (rerun.new, rerun.delivery) == (False, raw.delivery)
    assert len(raw_zone.deliveries(DAY, settings)) == 2


def test_a_batch_without_its_marker_is_not_copied(data_root):
    settings = load_settings()
    source = _land(data_root / "partial", {"activity_events.csv": "a\n"}, marker=False)
    with pytest.raises(BatchNotLanded, match="_SUCCESS"):
        copy_batch_to_raw(DAY, source, settings)
    assert not lake.partition_dir(settings.raw_dir, DAY).exists()
