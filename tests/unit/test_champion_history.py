"""The champion history rebuilt from its events: which moves took effect, the lineage rollbacks walk, the table."""

from __future__ import annotations

from driftloop.model.champion_history import ChampionEvent, ChampionHistory, events_of_version


def _event(seq, version, previous, kind="gate", request=""):
    at = f"2026-01-0{seq}T00:00:00"
    return ChampionEvent(seq, version, previous, kind, "train run x", f"move {seq}", at, request)


def _history(champion, *events):
    return ChampionHistory("churn", champion, list(events))


def test_events_round_trip_through_version_tags():
    event = _event(3, "7", "5", kind="rollback", request="rollback/r1")
    tags = {event.tag_key: event.tag_value(), "promotion_decision": "promoted"}
    assert event.tag_key == "driftloop.champion_event.000003"
    assert events_of_version("7", tags) == [event]


def test_promotions_push_and_rollbacks_pop_the_lineage():
    history = _history(
        "2", _event(1, "1", None), _event(2, "2", "1"), _event(3, "3", "2"), _event(4, "2", "3", "rollback")
    )
    assert history.lineage() == ["1", "2"], "the next rollback goes to 1, not back to 3"
    history = _history(
        "1",
        _event(1, "1", None),
        _event(2, "2", "1"),
        _event(3, "3", "2"),
        _event(4, "2", "3", "rollback"),
        _event(5, "1", "2", "rollback"),
    )
    assert history.lineage() == ["1"] and history.pending is None
    assert [t.state for t in history.tenures()] == ["ended", "ended", "ended", "ended", "current"]
    assert history.tenures()[0].until == "2026-01-02T00:00:00" and history.next_seq == 6


def test_a_recorded_move_whose_alias_never_moved_is_pending_until_a_later_move_shows_it_never_took_effect():
    pending = _history("1", _event(1, "1", None), _event(2, "2", "1"))
    assert pending.pending == _event(2, "2", "1") and pending.lineage() == ["1"]
    assert [t.state for t in pending.tenures()] == ["current", "pending"]
    superseded = _history("3", _event(1, "1", None), _event(2, "2", "1"), _event(3, "3", "1"))
    assert superseded.pending is None and superseded.lineage() == ["1", "3"]
    assert [t.state for t in superseded.tenures()] == ["ended", "never took effect", "current"]
    assert superseded.tenures()[0].until == "2026-01-03T00:00:00"
    assert superseded.promotion_of("2") == _event(2, "2", "1") and superseded.promotion_of("9") is None


def test_the_table_names_every_move():
    table = _history("2", _event(1, "1", None, "force_promote"), _event(2, "2", "1")).table()
    assert "champion now: 2" in table and "force_promote" in table and "(replaced 1)" in table
    assert "no recorded moves" in _history(None).table()
