"""``xborder orders``: import, list, show, pay and cancel orders."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import typer

from xborder.cli.common import JSON_OPTION, console, emit_json, fail, platform, table
from xborder.domain.errors import DomainError, InvalidValue, NotFound
from xborder.domain.money import Money
from xborder.domain.orders import OrderStatus

app = typer.Typer(help="Capture, list, show, pay and cancel orders.", no_args_is_help=True)
STATUSES = ", ".join(s.value for s in OrderStatus)


@app.command("import")
def import_(
    file: Path = typer.Argument(..., help="Orders as CSV (one row per line) or JSON lines."),
    errors_out: Path | None = typer.Option(None, help="Write every rejected record to this CSV."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Import orders. Good records are stored, bad ones reported (exit 2 if any was rejected)."""
    from xborder.cli.common import progress_bar
    from xborder.services.imports import (
        ImportOrders,
        StoreBusy,
        import_orders,
        retry_while_busy,
        write_errors_csv,
    )

    if not file.is_file():
        fail(f"{file}: no such file")
    try:
        store = retry_while_busy(platform)  # another import may hold SQLite's write lock
        with progress_bar(not as_json) as update:
            report = import_orders(store.uow(), ImportOrders(file),
                                   lambda d, t: update("capture", d, t))  # fmt: skip
    except StoreBusy as exc:
        fail(f"{file}: not imported, try again: {exc}", 1)
    except (ValueError, DomainError) as exc:
        fail(f"{file}: {exc}")
    summary = {"file": str(file), "records": report.records, "created": report.created,
               "already_stored": report.existing, "rejected": report.rejected}  # fmt: skip
    if errors_out:
        write_errors_csv(report.errors, errors_out)
    if as_json:
        emit_json({**summary, "errors": report.errors.to_dicts()})
    else:
        console.print(table([{"": k, "Import": v} for k, v in summary.items()]))
        if report.errors.height:
            shown = report.errors.head(50).rename({"line": "line no."})
            console.print(table(shown.drop("rec").to_dicts(), "Rejected (first 50 problems)"))
    if report.rejected:
        first = report.errors.row(0, named=True)
        fail(f"{file}: {report.rejected} record(s) rejected, nothing of them stored; first: "
             f"line {first['line']}, {first['field']}: {first['reason']}")  # fmt: skip


@app.command("list")
def list_(
    status: str | None = typer.Option(None, help=f"Only orders in this state: {STATUSES}."),
    channel: str | None = typer.Option(None, help="Only orders from this channel."),
    limit: int = typer.Option(20, min=1, max=10_000),
    offset: int = typer.Option(0, min=0),
    as_json: bool = JSON_OPTION,
) -> None:
    """The newest orders first."""
    from xborder.services.queries import ListOrders, list_orders

    try:
        rows = list_orders(platform().uow(), ListOrders(status, channel, limit, offset))
    except InvalidValue as exc:
        fail(f"--{exc}")
    if as_json:
        emit_json(rows)
        return
    console.print(table([
        {"id": r["id"], "channel / order": f"{r['channel']} {r['external_id']}",
         "route": f"{r['origin_country']}→{r['consignee_country']}",
         "goods": str(Money.from_minor(r["goods_minor"], r["currency"])), "status": r["status"],
         "placed": r["placed_at"].strftime("%Y-%m-%d")}
        for r in rows
    ], "Orders"))  # fmt: skip


def _jsonable(view: Any) -> dict[str, Any]:
    def money(value: Any) -> Any:
        if isinstance(value, Money):
            return str(value.amount)
        if isinstance(value, dict):
            return {k: money(v) for k, v in value.items()}
        if isinstance(value, list):
            return [money(v) for v in value]
        return value

    return {
        **money(view.order), "lines": money(view.lines), "payments": money(view.payments),
        "parcels": money(view.parcels), "declaration": view.declaration,
        "escrow": money(view.escrow), "timeline": money(view.timeline),
    }  # fmt: skip


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


@app.command("show")
def show(
    order_id: int = typer.Argument(...),
    verbose: bool = typer.Option(False, "--verbose", help="Every field of the order."),
    as_json: bool = JSON_OPTION,
) -> None:
    """One order: its state, parcels, declaration, escrow and timeline."""
    from xborder.services.queries import show_order

    try:
        view = show_order(platform().uow(), order_id)
    except NotFound as exc:
        fail(str(exc), 1)
    if as_json:
        emit_json(_jsonable(view))
        return
    o = view.order
    head = {
        "status": o["status"], "channel / order": f"{o['channel']} {o['external_id']}",
        "route": f"{o['origin_country']} → {o['consignee_country']} {o['consignee_postcode']}",
        "placed": _when(o["placed_at"]), "promised by": str(o["promised_by"]),
        "goods": str(o["goods"]), "freight": str(o["freight"]),
        "incoterm": o["incoterm"],
    }  # fmt: skip
    if verbose:
        head.update({k: str(v) for k, v in o.items() if k not in head})
    console.print(table([{"": k, f"Order {order_id}": v} for k, v in head.items()]))
    console.print(table([
        {"line": ln["line_no"], "sku": ln["sku"], "qty": ln["qty"], "hs": ln["hs_code"],
         "unit price": str(ln["unit_price"])}
        for ln in view.lines
    ], "Lines"))  # fmt: skip
    if view.payments:
        console.print(table([
            {"paid": _when(p["paid_at"]), "provider": p["provider"], "amount": str(p["amount"])}
            for p in view.payments
        ], "Payments"))  # fmt: skip
    for p in view.parcels:
        rows = {
            "tracking": p["tracking_no"], "SSCC": p["sscc"], "status": p["status"],
            "warehouse": p["warehouse"], "lane": p["lane"] or "(in-country)",
            "last mile": p["last_mile"] or "", "bag": p["master_waybill"] or "",
            "promised by": str(p["promised_by"] or ""), "delivered": _when(p["delivered_at"]),
        }  # fmt: skip
        console.print(table([{"": k, "Parcel": v} for k, v in rows.items() if v]))
    if not view.parcels:
        console.print("No parcel yet: the order is packed after it is planned.")
    _declaration(view.declaration)
    if view.escrow:
        console.print(table([{"escrow": k, "amount": str(v)} for k, v in view.escrow.items()]))
    if view.timeline:
        console.print(table([
            {"time (UTC)": _when(t["time"]), "status": t["status"],
             "place": t.get("place") or "", "party": t.get("party") or ""}
            for t in view.timeline
        ], "Timeline"))  # fmt: skip


def _declaration(decl: dict[str, Any] | None) -> None:
    if decl is None:
        console.print("No customs declaration.")
        return
    shown = {k: v for k, v in decl.items() if k not in {"problems"} and v not in (None, "")}
    console.print(table([{"": k, "Customs declaration": str(v)} for k, v in shown.items()]))
    problems = decl.get("problems") or []
    if problems:
        console.print(table([
            {"match problem": p.get("rule", ""), "field": p.get("field", ""),
             "found": str(p.get("actual", ""))}
            for p in problems
        ]))  # fmt: skip


@app.command("pay")
def pay(
    channel: str = typer.Option(..., help="The order's channel."),
    external_id: str = typer.Option(..., help="The order's id in its channel."),
    provider: str = typer.Option(..., help="The payment provider (a party id)."),
    transaction_id: str = typer.Option(..., help="The provider's transaction id."),
    payer_name: str = typer.Option(...),
    amount: str = typer.Option(..., help="Exact decimal amount, e.g. 28.38."),
    currency: str = typer.Option(...),
    payer_id_number: str | None = typer.Option(None),
    paid_at: str | None = typer.Option(None, help="ISO 8601 time with offset (default: now)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Record the buyer's payment for an order (idempotent by provider + transaction id)."""
    from xborder.domain.money import to_decimal
    from xborder.domain.orders import PaymentRecord
    from xborder.services.payments import record_payment

    store = platform()
    try:
        when = datetime.fromisoformat(paid_at) if paid_at else store.clock.now()
        if when.tzinfo is None:
            fail("--paid-at: needs a UTC offset")
        value: Decimal = to_decimal(amount, "amount")
        record = PaymentRecord(
            channel=channel, external_id=external_id, provider=provider,
            transaction_id=transaction_id, payer_name=payer_name,
            payer_id_number=payer_id_number, amount=value, currency=currency.upper(),
            paid_at=when,
        )  # fmt: skip
        result = record_payment(store.uow(), record)
    except ValueError as exc:  # InvalidValue and malformed --paid-at
        fail(str(exc))
    except DomainError as exc:
        fail(str(exc), 1)
    summary = {"payment_id": result.payment_id, "order_id": result.order_id,
               "created": result.created, "fully_paid": result.fully_paid}  # fmt: skip
    if as_json:
        emit_json(summary)
    else:
        console.print(table([summary], "Payment"))


@app.command("cancel")
def cancel(
    order_ids: list[int] = typer.Argument(..., help="Orders to cancel (not yet packed)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Cancel orders that are not packed yet; their reserved stock goes back."""
    from xborder.services.order_states import CancelOrders, cancel_orders

    try:
        result = cancel_orders(platform().uow(), CancelOrders(tuple(order_ids)))
    except DomainError as exc:
        fail(str(exc), 1)
    summary = {"cancelled": result.cancelled, "already_cancelled": result.already_cancelled}
    if as_json:
        emit_json(summary)
    else:
        console.print(table([summary], "Cancel"))
