"""``xborder orders``: import, list and show orders."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer

from xborder.cli.common import JSON_OPTION, console, emit_json, engine, fail, progress_bar, table
from xborder.domain.errors import DomainError
from xborder.domain.money import Money, to_decimal
from xborder.domain.orders import PaymentRecord
from xborder.services import queries
from xborder.services.imports import import_orders
from xborder.services.payments import record_payment
from xborder.store.uow import UnitOfWork

app = typer.Typer(help="Capture, list and show orders.", no_args_is_help=True)


@app.command("import")
def import_(
    file: Path = typer.Argument(..., help="Orders as CSV (one row per line) or JSON lines."),
    errors_out: Path | None = typer.Option(None, help="Write every rejected record to this CSV."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Import orders. Good records are stored, bad ones reported; exit 1 if any was rejected."""
    if not file.is_file():
        fail(f"{file}: no such file")
    try:
        with progress_bar(not as_json) as update:
            report = import_orders(engine(), file, lambda d, t: update("capture", d, t))
    except (ValueError, DomainError, UnicodeDecodeError) as exc:
        fail(f"{file}: {exc}")
    summary = {"file": str(file), "records": report.records, "created": report.created,
               "already_stored": report.existing, "rejected": report.rejected}  # fmt: skip
    if errors_out:
        report.errors.write_csv(errors_out)
    if as_json:
        emit_json({**summary, "errors": report.errors.to_dicts()})
    else:
        console.print(table([summary], "Import"))
        if report.errors.height:
            shown = report.errors.head(50).rename({"rec": "record", "line": "line no."})
            console.print(table(shown.drop("record").to_dicts(), "Rejected (first 50 problems)"))
    if report.rejected:
        raise typer.Exit(1)


@app.command("list")
def list_(
    status: str | None = typer.Option(None, help="Only orders in this status."),
    channel: str | None = typer.Option(None, help="Only orders from this channel."),
    limit: int = typer.Option(20, min=1, max=10_000),
    offset: int = typer.Option(0, min=0),
    as_json: bool = JSON_OPTION,
) -> None:
    """The newest orders first."""
    rows = queries.list_orders(engine(), status=status, channel=channel, limit=limit, offset=offset)
    if as_json:
        emit_json(rows)
        return
    console.print(table([
        {"id": r["id"], "channel": r["channel"], "external id": r["external_id"],
         "route": f"{r['origin_country']}→{r['consignee_country']}", "lines": r["line_count"],
         "goods": str(Money.from_minor(r["goods_minor"], r["currency"])), "status": r["status"],
         "placed": r["placed_at"].isoformat(timespec="minutes")}
        for r in rows
    ], "Orders"))  # fmt: skip


@app.command("show")
def show(order_id: int = typer.Argument(...), as_json: bool = JSON_OPTION) -> None:
    """One order with its lines and payments."""
    found = queries.show_order(engine(), order_id)
    if found is None:
        fail(f"order {order_id} does not exist", 1)
    if as_json:
        emit_json(found)
        return
    header = {k: v for k, v in found.items() if k not in {"lines", "payments"}}
    console.print(table([{"field": k, "value": v} for k, v in header.items()], f"Order {order_id}"))
    console.print(table(found["lines"], "Lines"))
    if found["payments"]:
        console.print(table(found["payments"], "Payments"))


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
    try:
        when = datetime.fromisoformat(paid_at) if paid_at else datetime.now(UTC)
        if when.tzinfo is None:
            fail("--paid-at: needs a UTC offset")
        record = PaymentRecord(
            channel=channel, external_id=external_id, provider=provider,
            transaction_id=transaction_id, payer_name=payer_name,
            payer_id_number=payer_id_number, amount=to_decimal(amount, "amount"),
            currency=currency.upper(), paid_at=when,
        )  # fmt: skip
        with UnitOfWork(engine()) as uow:
            result = record_payment(uow, record)
            uow.commit()
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
