"""Loss compensation charged to the custodian the trace record names (trace area's real capture)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine

from tests.settlement.test_escrow import GOODS, PAID, TERMS, _orders, at_now
from xborder.services import trace
from xborder.services.settlement import (
    Balances,
    CapturePaid,
    CompensateFromTrace,
    EscrowState,
    TraceFindings,
    balances,
    capture_paid,
    compensate_from_trace,
    escrow_state,
    trace_findings,
)
from xborder.trace.epcis import capture_frame, sscc_link
from xborder.trace.lifecycle import BTT_ORDER

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
PARCEL, OTHER = sscc_link("012345670000000017"), sscc_link("012345670000000024")


def _order(order_id: int) -> list[dict[str, str]]:
    return [{"type": BTT_ORDER, "id": f"https://xborder.dev/tx/order/{order_id}"}]


def test_custodian_from_the_trace_record_pays_for_a_loss(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XBORDER_KEYS_DIR", str(tmp_path / "keys"))
    lost, fine = _orders(engine, 2)
    at = [T0 + timedelta(hours=h) for h in (0, 2, 9, 40)]
    now = T0 + timedelta(days=2)
    with at_now(engine, now) as uow:
        trace.register_objects(uow, [
            trace.ObjectSpec(PARCEL, tracking_no="XB1", sscc=PARCEL[-18:], order_id=lost,
                             participants=("seller-sz-gadgets", "line-x")),
            trace.ObjectSpec(OTHER, tracking_no="XB2", sscc=OTHER[-18:], order_id=fine,
                             participants=("seller-sz-gadgets",)),
        ])  # fmt: skip
        trace.capture(uow, capture_frame([
            dict(object_key=PARCEL, step="order_placed", event_time=at[0], tz_offset="+08:00",
                 party_id="seller-sz-gadgets", transactions=_order(lost)),
            dict(object_key=PARCEL, step="picked_packed", event_time=at[1], tz_offset="+08:00",
                 party_id="seller-sz-gadgets"),
            dict(object_key=PARCEL, step="departed", event_time=at[2], tz_offset="+08:00",
                 party_id="line-x"),
            dict(object_key=PARCEL, step="lost", event_time=at[3], tz_offset="+00:00",
                 party_id="insurer-y"),
            dict(object_key=OTHER, step="order_placed", event_time=at[0], tz_offset="+08:00",
                 party_id="seller-sz-gadgets", transactions=_order(fine)),
        ]))  # fmt: skip
        capture_paid(uow, CapturePaid(TERMS, [lost, fine], T0))
        uow.commit()
    with at_now(engine, now) as uow:
        found = trace_findings(uow, TraceFindings([lost, fine]))
        loss = found.filter(pl.col("kind") == "loss")
        assert loss.rows() == [(lost, "loss", "line-x", at[3])]  # custody before the declaration
        command = CompensateFromTrace(TERMS, [lost, fine])
        assert compensate_from_trace(uow, command).posted == 2
        assert compensate_from_trace(uow, command).posted == 0  # a retry
        uow.commit()
        state = {
            r["order_id"]: r
            for r in escrow_state(uow, EscrowState([lost, fine])).iter_rows(named=True)
        }
        bal = {
            f"{r['party']}:{r['purpose']}": r["balance"]
            for r in balances(uow, Balances()).iter_rows(named=True)
        }
        dated = uow.ledger.order_transfers([lost]).get_column("at")
    assert dated.max() == at[3]  # dated when the loss was recorded, not when it was settled
    assert state[lost]["refunded"] == PAID and state[fine]["held"] == PAID
    assert bal["line-x:receivable"] == -GOODS
    assert bal["seller-sz-gadgets:compensation"] == GOODS
