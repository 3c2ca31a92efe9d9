"""``xborder parcels``: pack planned orders, record what happens to parcels and bags."""

from __future__ import annotations

import typer

from xborder.cli.common import JSON_OPTION, console, emit_json, fail, parse_time, platform, table
from xborder.domain.errors import DomainError
from xborder.domain.lifecycle import Step

app = typer.Typer(help="Pack orders into parcels; record their steps.", no_args_is_help=True)
STEPS = ", ".join(s.value for s in Step if s not in (Step.ORDER_PLACED, Step.PICKED_PACKED,
                                                       Step.CONSOLIDATED))  # fmt: skip


@app.command("pack")
def pack(
    order_ids: list[int] | None = typer.Argument(None, help="Orders (default: all planned)."),
    at: str | None = typer.Option(None, "--at", help="When packed (ISO 8601; default: now)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Pack planned orders: each gets its parcel (SSCC, tracking number) and packing event."""
    from xborder.services.parcels import PackOrders, pack_orders

    try:
        ids = tuple(order_ids) if order_ids else None
        result = pack_orders(platform().uow(), PackOrders(ids, parse_time(at, "--at")))
    except DomainError as exc:
        fail(str(exc), 1)
    if as_json:
        emit_json({"parcels": result.parcels, "events": result.events,
                   "tracking_numbers": result.tracking_numbers})  # fmt: skip
        return
    console.print(table([{"parcels packed": result.parcels, "events": result.events}]))


@app.command("record")
def record(
    step: str = typer.Argument(..., help=f"The step: {STEPS}."),
    subjects: list[str] = typer.Argument(..., help="Tracking numbers, SSCCs or bags."),
    at: str | None = typer.Option(None, "--at", help="When (ISO 8601; default: now)."),
    party: str | None = typer.Option(None, "--party", help="Who records it (default: custodian)."),
    place: str | None = typer.Option(None, "--place", help="A hub id or a location URI."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Record one step for parcels or bags; refused (exit 1) if the lifecycle does not allow it."""
    from xborder.services.parcels import RecordSteps, StepFact, record_steps

    try:
        move = Step(step)
    except ValueError:
        fail(f"step: not a lifecycle step: {step!r} (one of {STEPS})")
    store = platform()
    when = parse_time(at, "--at") or store.clock.now()
    facts = tuple(StepFact(s, move, when, party, place) for s in subjects)
    try:
        report = record_steps(store.uow(), RecordSteps(facts))
    except DomainError as exc:
        fail(str(exc), 2 if isinstance(exc, ValueError) else 1)
    summary = {"events": report.events, "parcels moved": report.parcels_moved,
               **{f"orders now {k}": v for k, v in report.orders_moved.items()}}  # fmt: skip
    if as_json:
        emit_json({"events": report.events, "parcels_moved": report.parcels_moved,
                   "orders_moved": report.orders_moved})  # fmt: skip
        return
    console.print(table([{"": k, "Recorded": v} for k, v in summary.items()]))
