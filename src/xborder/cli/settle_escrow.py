"""``xborder settle escrow ...``: the escrow lifecycle of orders, one command per step.

Every command hands its use case ``platform().uow()`` (the use case commits itself); ``--at``
takes past times only (nothing in the ledger is dated in the future).
"""

from __future__ import annotations

import typer

from xborder.cli.common import JSON_OPTION, console, emit_json, fail, parse_time
from xborder.cli.settle_views import (
    AT,
    FEE,
    PLATFORM,
    VERBOSE,
    amount_text,
    escrow_terms,
    make_grid,
    money_text,
    report,
    run,
)

escrow_app = typer.Typer(help="The escrow lifecycle of orders.", no_args_is_help=True)

# --- escrow ---------------------------------------------------------------------------------------
ORDERS = typer.Argument(..., help="Order ids.")


@escrow_app.command("capture")
def escrow_capture(
    orders: list[int] = ORDERS, platform_id: str | None = PLATFORM, fee_rate: str = FEE,
    at: str | None = AT, as_json: bool = JSON_OPTION,
) -> None:  # fmt: skip
    """Capture into escrow what was paid for each fully paid order."""
    from xborder.services import settlement as svc

    command = svc.CapturePaid(escrow_terms(platform_id, fee_rate), orders, parse_time(at, "--at"))
    report(run(lambda uow: svc.capture_paid(uow, command)), as_json, "capture")


@escrow_app.command("tax")
def escrow_tax(
    order: int = typer.Argument(...), amount: str = typer.Option(..., help="Tax (decimal)."),
    authority: str = typer.Option(..., help="Customs authority party id."),
    platform_id: str | None = PLATFORM, at: str | None = AT, as_json: bool = JSON_OPTION,
) -> None:  # fmt: skip
    """DDP: withhold duties and taxes in escrow (remitted at clearance by `remit`)."""
    from xborder.services import settlement as svc

    command = svc.WithholdTax(
        escrow_terms(platform_id, "0"), order, amount, authority, parse_time(at, "--at")
    )
    report(run(lambda uow: svc.withhold_tax_for(uow, command)), as_json, "tax withheld")


@escrow_app.command("remit")
def escrow_remit(
    orders: list[int] = ORDERS, at: str | None = AT, as_json: bool = JSON_OPTION
) -> None:
    """Clearance: pay the withheld taxes to the authority."""
    from xborder.services import settlement as svc

    command = svc.RemitTaxes(orders, parse_time(at, "--at"))
    report(run(lambda uow: svc.remit_taxes(uow, command)), as_json, "tax remitted")


@escrow_app.command("deliver")
def escrow_deliver(
    orders: list[int] = ORDERS, at: str | None = AT,
    responsible: str | None = typer.Option(None, help="Party whose SLA covers the delivery."),
    penalty_per_day: int = typer.Option(100, min=0, help="Late penalty, minor units per day."),
    penalty_cap: int = typer.Option(1000, min=0, help="Late penalty cap, minor units."),
    platform_id: str | None = PLATFORM, fee_rate: str = FEE, as_json: bool = JSON_OPTION,
) -> None:  # fmt: skip
    """Delivered: reserve the seller's release and the fee; charge lateness to --responsible."""
    import polars as pl

    from xborder.services import settlement as svc

    terms = escrow_terms(platform_id, fee_rate)
    when = parse_time(at, "--at")  # no --at: the clock's now
    frame = pl.DataFrame({"order_id": orders, "delivered_at": [when] * len(orders),
                          "responsible": [responsible] * len(orders)},
                         schema={"order_id": pl.Int64, "delivered_at": pl.Datetime("us", "UTC"),
                                 "responsible": pl.String})  # fmt: skip
    command = svc.MarkDelivered(terms, frame, svc.SlaTerms(penalty_per_day, penalty_cap))
    report(run(lambda uow: svc.mark_delivered(uow, command)), as_json, "delivered")


@escrow_app.command("confirm")
def escrow_confirm(
    orders: list[int] = ORDERS, at: str | None = AT, as_json: bool = JSON_OPTION
) -> None:
    """The buyer confirms delivery: release the seller's proceeds and the fee."""
    from xborder.services import settlement as svc

    command = svc.ConfirmDelivery(orders, parse_time(at, "--at"))
    report(run(lambda uow: svc.confirm_delivery(uow, command)), as_json, "confirmed")


@escrow_app.command("auto-confirm")
def escrow_auto_confirm(
    days: int = typer.Option(7, min=0, help="Days after delivery."), at: str | None = AT,
    platform_id: str | None = PLATFORM, as_json: bool = JSON_OPTION,
) -> None:  # fmt: skip
    """Confirm every delivery older than --days that the buyer has not confirmed."""
    from xborder.services import settlement as svc

    command = svc.AutoConfirm(escrow_terms(platform_id, "0", days), parse_time(at, "--at"))
    report(run(lambda uow: svc.auto_confirm(uow, command)), as_json, "auto-confirmed")


@escrow_app.command("refund")
def escrow_refund(
    orders: list[int] = ORDERS,
    reason: str = typer.Option("return", help="return | unshipped"),
    platform_id: str | None = PLATFORM, at: str | None = AT, as_json: bool = JSON_OPTION,
) -> None:  # fmt: skip
    """Refund: void reservations, return what escrow holds; after release, from the seller."""
    from xborder.services import settlement as svc

    if reason not in ("return", "unshipped"):
        fail(f"--reason: must be 'return' or 'unshipped', got {reason!r}")
    command = svc.RefundOrders(
        escrow_terms(platform_id, "0"), orders, f"refund.{reason}", parse_time(at, "--at")
    )
    report(run(lambda uow: svc.refund_orders(uow, command)), as_json, "refunded")


@escrow_app.command("lost")
def escrow_lost(
    orders: list[int] = ORDERS,
    custodian: str | None = typer.Option(None, help="Party holding custody when it was lost or "
                                         "damaged (default: as the trace record shows)."),
    platform_id: str | None = PLATFORM, at: str | None = AT, as_json: bool = JSON_OPTION,
) -> None:  # fmt: skip
    """Loss or damage: refund the buyer, charge the custodian, compensate the seller."""
    import polars as pl

    from xborder.services import settlement as svc

    terms, when = escrow_terms(platform_id, "0"), parse_time(at, "--at")
    if custodian is None:
        traced = svc.CompensateFromTrace(terms, orders, when)
        report(run(lambda uow: svc.compensate_from_trace(uow, traced)), as_json,
                "lost (custody from the trace record)")  # fmt: skip
        return
    frame = pl.DataFrame({"order_id": orders, "custodian": [custodian] * len(orders)})
    command = svc.CompensateLoss(terms, frame, when)
    report(run(lambda uow: svc.compensate_loss(uow, command)), as_json, "lost")


@escrow_app.command("show")
def escrow_show(
    orders: list[int] = ORDERS, verbose: bool = VERBOSE, as_json: bool = JSON_OPTION
) -> None:
    """Each order's escrow position and every transfer that explains it."""
    from xborder.services import settlement as svc

    state = run(lambda uow: svc.escrow_state(uow, svc.EscrowState(orders)))
    moves = run(lambda uow: svc.order_transfers(uow, svc.OrderTransfers(orders)))
    if as_json:
        emit_json({"state": state.drop("delivered_at").to_dicts(), "transfers": moves.to_dicts()})
        return
    currency = {o: c for o, c in moves.select("order_id", "currency").rows() if c}
    grid = make_grid("Escrow", "order", "captured", "paid out", "refunded", "held", "free",
                 right=("captured", "paid out", "refunded", "held", "free"))  # fmt: skip
    for r in state.iter_rows(named=True):
        cur = currency.get(r["order_id"])
        if cur is None:
            grid.add_row(str(r["order_id"]), "nothing in escrow", "", "", "", "")
            continue
        paid_out = r["released"] + r["fee_posted"] + r["tax_remitted"]
        grid.add_row(str(r["order_id"]), *(money_text(v, cur) for v in (
            r["captured"], paid_out, r["refunded"], r["held"], r["free"])))  # fmt: skip
    console.print(grid)
    if moves.height:
        columns = ("date", "description", "amount") + (("id", "from", "to") if verbose else ())
        listed = make_grid("Transfers", *columns, right=("amount",))
        for m in moves.sort("at", maintain_order=True).iter_rows(named=True):
            row = [m["at"].date().isoformat(), m["description"], amount_text(m)]
            if verbose:
                row += [m["id"], m["debit"], m["credit"]]
            listed.add_row(*row)
        console.print(listed)
