"""Verify over id ranges in several processes finds what one pass finds.

The scan of each range cannot see the event before an object's first event in it; the parent
stitches those across ranges. So these tests tamper in the first and the last range, and with a
link that crosses a range boundary, on SQLite and PostgreSQL, and compare with one process.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from sqlalchemy import Engine, text

from tests.trace.conftest import P1
from xborder.services import trace as svc
from xborder.services.trace_verify import _ranges
from xborder.store.uow import UnitOfWork


def _verify(engine: Engine, workers: int, deep: bool = False) -> svc.VerifyReport:
    command = svc.Verify(deep=deep, key_files=False, workers=workers)
    return svc.verify(UnitOfWork(engine), command)


def _signed(engine: Engine) -> dict[int, dict[str, Any]]:
    with UnitOfWork(engine) as uow:
        return {int(b["id"]): b for b in uow.trace.batches()}


def _hits(report: svc.VerifyReport) -> set[tuple[int | None, str | None]]:
    return {(b.event_id, b.column) for b in report.breaks}


def test_ranges_cover_every_id_once_at_batch_starts(ledger: Engine) -> None:
    signed = _signed(ledger)
    ranges = _ranges(signed, 3)
    assert ranges[0][0] == 0 and ranges[-1][1] >= 2**62
    assert all(a[1] + 1 == b[0] for a, b in itertools.pairwise(ranges))
    starts = {int(b["first_event_id"]) for b in signed.values()}
    assert len(ranges) > 1 and all(first in starts for first, _ in ranges[1:])


def test_an_untouched_ledger_verifies_in_parallel_as_in_one_process(ledger: Engine) -> None:
    one, many = _verify(ledger, 1), _verify(ledger, 3, deep=True)
    assert one.ok and many.ok, [str(b) for b in many.breaks]
    assert many.workers > 1 and many.events == one.events == 8


@pytest.mark.parametrize("where", ["first", "last"])
def test_a_column_edit_is_found_in_any_range(ledger: Engine, where: str) -> None:
    with ledger.begin() as conn:
        eid = conn.execute(
            text(f"SELECT {'MIN' if where == 'first' else 'MAX'}(id) FROM trace_events")
        ).scalar()
        conn.execute(
            text("UPDATE trace_events SET read_point = 'https://evil.example/x' WHERE id = :i"),
            {"i": eid},
        )
    many = _verify(ledger, 3)
    assert (eid, "read_point") in _hits(many)
    assert _hits(many) == _hits(_verify(ledger, 1))


def test_a_broken_link_across_ranges_is_stitched(ledger: Engine) -> None:
    """P1's last event lies in a later range than its previous one: only the stitch sees that
    its seq no longer follows."""
    signed = _signed(ledger)
    ranges = _ranges(signed, 3)
    with ledger.begin() as conn:
        rows = conn.execute(
            text(
                "SELECT e.id, e.seq FROM trace_events e JOIN trace_objects o ON o.id = e.object_id "
                "WHERE o.key = :k ORDER BY e.id"
            ),
            {"k": P1},
        ).all()
        (before, _), (last, seq) = rows[-2], rows[-1]
        spans = [i for i, (a, b) in enumerate(ranges) for e in (before, last) if a <= e <= b]
        assert spans[0] != spans[1], "the test needs the link to cross a range boundary"
        conn.execute(
            text("UPDATE trace_events SET seq = :s WHERE id = :i"), {"s": seq + 5, "i": last}
        )
    many = _verify(ledger, 3)
    said = [b for b in many.breaks if b.event_id == last]
    assert said and "chain broken" in said[0].reason and said[0].object_key == P1
    assert said[0].batch_id is not None and said[0].event_hash_id
    assert {b.event_id for b in _verify(ledger, 1).breaks} == {b.event_id for b in many.breaks}


def test_registry_and_memberships_are_checked_in_parallel(ledger: Engine) -> None:
    with ledger.begin() as conn:
        conn.execute(
            text("UPDATE trace_objects SET tracking_no = 'XB9999999' WHERE key = :k"), {"k": P1}
        )
        conn.execute(
            text(
                "DELETE FROM trace_memberships WHERE member_id = "
                "(SELECT id FROM trace_objects WHERE key = :k)"
            ),
            {"k": P1},
        )
    columns = {b.column for b in _verify(ledger, 3).breaks}
    assert {"trace_objects", "trace_memberships"} <= columns


def test_a_deleted_batch_and_a_duplicated_event_are_found_in_parallel(ledger: Engine) -> None:
    with ledger.begin() as conn:
        last = conn.execute(text("SELECT MAX(id) FROM trace_events")).scalar()
        conn.execute(text("DELETE FROM trace_events WHERE id = :i"), {"i": last})
    said = " ".join(str(b) for b in _verify(ledger, 3).breaks)
    assert "no events left" in said or "batch holds" in said
