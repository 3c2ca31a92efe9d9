"""Exceptions derived from a parcel's record: delay, suspected loss, loss, damage, customs hold.

Each finding names the custodian, the party that held custody when it happened, because
settlement charges compensation to that party. Custody is read from the record itself: the party
that captured the latest event before the moment in question (for a customs hold, the party that
recorded the hold, i.e. the one holding the goods at customs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from xborder.trace.lifecycle import (
    CUSTOMS_HOLD_DISPOSITIONS,
    CUSTOMS_RELEASE_DISPOSITIONS,
    LIFECYCLE,
    Step,
)

DAY_MS = 86_400_000
_DELIVERED = LIFECYCLE[Step.DELIVERED]
_DAMAGED = LIFECYCLE[Step.DAMAGED].disposition
_LOST = LIFECYCLE[Step.LOST].disposition


class ExceptionKind(StrEnum):
    DELAY = "delay"
    SUSPECTED_LOSS = "suspected_loss"
    LOSS = "loss"
    DAMAGE = "damage"
    CUSTOMS_HOLD = "customs_hold"


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """One event of a parcel's history, as far as exception rules care."""

    time_ms: int
    party_id: str
    biz_step: str | None
    disposition: str | None


@dataclass(frozen=True, slots=True)
class Finding:
    kind: ExceptionKind
    at_ms: int
    custodian: str | None
    detail: str


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Delay = no delivery past the lane's p95 transit plus slack; loss = silence for N days."""

    transit_p95_days: float
    slack_days: float = 2.0
    silence_days: float = 7.0


def _custodian_before(history: Sequence[Checkpoint], index: int) -> str | None:
    return history[index - 1].party_id if index > 0 else None


def _delivered(c: Checkpoint) -> bool:
    return c.biz_step == _DELIVERED.biz_step and c.disposition == _DELIVERED.disposition


def findings(history: Sequence[Checkpoint], now_ms: int, limits: Thresholds) -> list[Finding]:
    """All exceptions of one parcel's history (sorted by time) as of ``now_ms``."""
    out: list[Finding] = []
    if not history:
        return out
    hold_open: Checkpoint | None = None
    for i, c in enumerate(history):
        if c.disposition == _DAMAGED:
            out.append(
                Finding(
                    ExceptionKind.DAMAGE,
                    c.time_ms,
                    _custodian_before(history, i),
                    f"damage recorded by {c.party_id}",
                )
            )
        elif c.disposition == _LOST:
            out.append(
                Finding(
                    ExceptionKind.LOSS,
                    c.time_ms,
                    _custodian_before(history, i),
                    f"loss declared by {c.party_id}",
                )
            )
        elif c.disposition in CUSTOMS_HOLD_DISPOSITIONS and hold_open is None:
            hold_open = c
            out.append(
                Finding(ExceptionKind.CUSTOMS_HOLD, c.time_ms, c.party_id, "held by customs")
            )
        elif c.disposition in CUSTOMS_RELEASE_DISPOSITIONS:
            hold_open = None
    start = history[0].time_ms
    delivered = next((c for c in history if _delivered(c)), None)
    due = start + int((limits.transit_p95_days + limits.slack_days) * DAY_MS)
    end = delivered.time_ms if delivered else now_ms
    if end > due:
        late_days = (end - due) / DAY_MS
        custodian = (
            history[-1].party_id
            if delivered is None
            else _custodian_before(history, history.index(delivered))
        )
        out.append(
            Finding(
                ExceptionKind.DELAY,
                due,
                custodian,
                f"{late_days:.1f} days past p95 transit + slack",
            )
        )
    last = history[-1]
    terminal = delivered is not None or any(f.kind == ExceptionKind.LOSS for f in out)
    if not terminal and now_ms - last.time_ms > limits.silence_days * DAY_MS:
        out.append(
            Finding(
                ExceptionKind.SUSPECTED_LOSS,
                last.time_ms,
                last.party_id,
                f"no scan for {(now_ms - last.time_ms) / DAY_MS:.1f} days",
            )
        )
    return sorted(out, key=lambda f: (f.at_ms, f.kind))
