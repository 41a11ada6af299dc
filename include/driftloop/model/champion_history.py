"""The champion history: which version was ``champion`` from when to when, moved by whom and why.

MLflow keeps only the alias's current target, so every move of ``champion`` is also written as an event: one model
version tag ``driftloop.champion_event.<seq>`` on the version that receives the alias, holding a small JSON record
(the version it replaces, the kind of move, who asked, why, when, and the request that made it). Why tags in the
registry rather than a table elsewhere:

- the events live in the same store as the alias they describe, so a move never depends on a second system being up,
  and no cross-store transaction is needed to keep them in step;
- the record is append-only: each event is its own tag, written once and never rewritten (a single registered-model
  tag holding a list would be rewritten on every move and is capped at a few thousand characters in some stores);
- it is queryable with the registry's own API (``search_model_versions``) and survives whatever MLflow survives.

An event is written *before* the alias moves, with the alias's holder read just before as its ``previous``. So an
event can exist for a move that never happened (the mover died in between). The history tells them apart from the
events themselves: an event took effect when the next event's ``previous`` is its version (the alias was seen there
afterwards), or, for the last event, when its version holds the alias now; the last event is *pending* otherwise, and
an earlier one *never took effect*. Rolling back walks the *lineage*: promotions push a version, rollbacks pop one,
so rolling back twice goes back two promotions and the first champion has nothing to roll back to.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

EVENT_TAG_PREFIX = "driftloop.champion_event."
PROMOTIONS = ("gate", "force_promote", "canary")
KINDS = (*PROMOTIONS, "rollback")
REASON_LIMIT = 2000


@dataclass(frozen=True)
class ChampionEvent:
    """One recorded move of ``champion`` onto ``version``; ``previous`` held the alias when it was recorded."""

    seq: int
    version: str
    previous: str | None
    kind: str
    actor: str
    reason: str
    at: str
    request: str

    @property
    def tag_key(self) -> str:
        """The model version tag that stores this event."""
        return f"{EVENT_TAG_PREFIX}{self.seq:06d}"

    def tag_value(self) -> str:
        """The event as the tag's JSON value (the version is the tag's owner, so it is left out)."""
        record = asdict(self)
        del record["seq"], record["version"]
        record["reason"] = record["reason"][:REASON_LIMIT]
        return json.dumps(record, sort_keys=True)

    @property
    def is_promotion(self) -> bool:
        """Whether the gate (or force_promote) made this move, as opposed to a rollback."""
        return self.kind in PROMOTIONS


def events_of_version(version: str, tags: dict[str, str]) -> list[ChampionEvent]:
    """The champion events stored in one version's tags."""
    events = []
    for key, value in tags.items():
        if not key.startswith(EVENT_TAG_PREFIX):
            continue
        record = json.loads(value)
        events.append(
            ChampionEvent(
                seq=int(key.removeprefix(EVENT_TAG_PREFIX)),
                version=str(version),
                previous=record.get("previous"),
                kind=record["kind"],
                actor=record.get("actor", ""),
                reason=record.get("reason", ""),
                at=record["at"],
                request=record.get("request", ""),
            )
        )
    return events


@dataclass(frozen=True)
class Tenure:
    """One row of the history: ``version`` was (or was meant to become) champion from ``since`` until ``until``.

    ``state`` is ``current``, ``ended``, ``pending`` (recorded, the alias has not moved yet) or ``never took effect``
    (recorded, then the alias was seen elsewhere)."""

    version: str
    since: str
    until: str | None
    previous: str | None
    kind: str
    actor: str
    reason: str
    state: str


@dataclass(frozen=True)
class ChampionHistory:
    """Every recorded move of a model's ``champion``, oldest first, and the version holding the alias now."""

    model_name: str
    champion: str | None
    events: list[ChampionEvent] = field(default_factory=list)

    def __post_init__(self) -> None:
        object.__setattr__(self, "events", sorted(self.events, key=lambda e: (e.seq, e.at)))

    @property
    def next_seq(self) -> int:
        """The sequence number of the next event."""
        return max((e.seq for e in self.events), default=0) + 1

    def took_effect(self, index: int) -> bool:
        """Whether the move of ``events[index]`` happened (see the module docstring)."""
        event = self.events[index]
        if index + 1 < len(self.events):
            return self.events[index + 1].previous == event.version
        return self.champion == event.version

    @property
    def pending(self) -> ChampionEvent | None:
        """The last event when its move has not happened yet (its mover died between recording and moving)."""
        if self.events and not self.took_effect(len(self.events) - 1):
            return self.events[-1]
        return None

    def applied(self) -> list[ChampionEvent]:
        """The events whose moves happened, oldest first."""
        return [e for i, e in enumerate(self.events) if self.took_effect(i)]

    def promotion_of(self, version: str) -> ChampionEvent | None:
        """The gate's (or force_promote's) event that made ``version`` champion, if one was recorded."""
        found = [e for e in self.events if e.is_promotion and e.version == str(version)]
        return found[-1] if found else None

    def lineage(self) -> list[str]:
        """The champions a rollback walks back through, oldest first, ending with the current one: each promotion
        adds its version, each rollback removes the version it rolled back from."""
        stack: list[str] = []
        for event in self.applied():
            if event.is_promotion:
                stack.append(event.version)
                continue
            if stack and stack[-1] == event.previous:
                stack.pop()
            if not stack or stack[-1] != event.version:
                stack.append(event.version)
        return stack

    def tenures(self) -> list[Tenure]:
        """The history as rows, oldest first: from when to when each version held ``champion``, and who moved it."""
        rows = []
        effect = [self.took_effect(i) for i in range(len(self.events))]
        for index, event in enumerate(self.events):
            following = zip(self.events[index + 1 :], effect[index + 1 :], strict=True)
            later = [e.at for e, happened in following if happened]
            if effect[index]:
                until, state = (later[0], "ended") if later else (None, "current")
            else:
                until, state = None, "pending" if index == len(self.events) - 1 else "never took effect"
            rows.append(
                Tenure(
                    version=event.version,
                    since=event.at,
                    until=until,
                    previous=event.previous,
                    kind=event.kind,
                    actor=event.actor,
                    reason=event.reason,
                    state=state,
                )
            )
        return rows

    def table(self) -> str:
        """The history as a plain-text table for task logs and the CLI."""
        header = f"champion history of {self.model_name!r} (champion now: {self.champion or 'none'})"
        rows = self.tenures()
        if not rows:
            return f"{header}\n  no recorded moves"
        lines = [header, f"  {'version':<8} {'since':<24} {'until':<24} {'kind':<14} {'state':<18} by / why"]
        for row in rows:
            reason = row.reason if len(row.reason) <= 160 else row.reason[:157] + "..."
            lines.append(
                f"  {row.version:<8} {row.since:<24} {row.until or '-':<24} {row.kind:<14} {row.state:<18} "
                f"{row.actor}: {reason} (replaced {row.previous or 'none'})"
            )
        return "\n".join(lines)
