"""``xborder customs``: landed-cost quotes, the three-document match, CEB messages, receipts."""

from __future__ import annotations

import json
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import typer

from xborder.cli.common import dumps, emit_json, engine, fail
from xborder.customs import ceb
from xborder.domain.errors import DomainError
from xborder.domain.money import FxTable
from xborder.services import customs as service
from xborder.services.world import read_world

app = typer.Typer(help="Customs: landed cost, three-document match, China CEB messages.")

DATE_OPTION = typer.Option(
    None, "--date", help="The day the rules apply (YYYY-MM-DD; default today)."
)


def _date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"--date: not an ISO date (YYYY-MM-DD): {value!r}")


def _read(path: str) -> bytes:
    try:
        return sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        fail(f"{path}: cannot read: {exc.strerror}")


def _json(text: str, where: str) -> Any:
    try:
        return json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        fail(f"{where}: not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})")


def _json_lines(data: bytes, where: str) -> list[Any]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        fail(f"{where}: not UTF-8 text")
    stripped = text.strip()
    if stripped.startswith("["):
        records = _json(stripped, where)
        return list(records)
    return [
        _json(line, f"{where} line {i}")
        for i, line in enumerate(text.splitlines(), 1)
        if line.strip()
    ]


def _records(path: str) -> list[dict[str, Any]]:
    """CEB XML or JSON lines (or one JSON array) of CEB records."""
    data = _read(path)
    if data.lstrip()[:1] == b"<":
        try:
            return ceb.parse(data).records
        except DomainError as exc:
            fail(f"{path}: {exc}")
    records = _json_lines(data, path)
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            fail(f"{path} record {i + 1}: must be a JSON object")
    return records


def _world_fx() -> FxTable | None:
    """The demo world's dated FX rates, for orders not priced in the regime's currency."""
    try:
        return read_world().fx_table()
    except DomainError:
        return None


@app.command()
def quote(
    file: str = typer.Argument("-", help="A JSON order (or JSON lines with --bulk); - for stdin."),
    bulk: bool = typer.Option(False, "--bulk", help="Read JSON lines, write one result per line."),
    day: str | None = DATE_OPTION,
    store: bool = typer.Option(
        False, "--store", help="Take a China buyer's annual CBEC total (buyer_id) from the store."
    ),
) -> None:
    """Quote duties, taxes and landed cost under the regime in force on the date.

    Exit status 1 when any record of a --bulk run could not be quoted (its line says why).
    """
    on = _date(day)
    data = _read(file)
    fx = _world_fx()
    if bulk:
        results = service.quote_many(_json_lines(data, file), on, fx=fx)
        for result in results:
            typer.echo(dumps(result))
        if any("error" in r for r in results):
            raise typer.Exit(1)
        return
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        fail(f"{file}: not UTF-8 text")
    try:
        emit_json(service.quote(_json(text, file), on, fx=fx, engine=engine() if store else None))
    except DomainError as exc:
        fail(str(exc))


@app.command()
def match(
    orders: str = typer.Option(..., "--orders", help="CEB311 orders (XML or JSON lines)."),
    payments: str = typer.Option(..., "--payments", help="CEB411 payments."),
    waybills: str = typer.Option(..., "--waybills", help="CEB511 waybills."),
    lists: str = typer.Option(..., "--lists", help="CEB621 declaration lists."),
    day: str | None = DATE_OPTION,
    store: bool = typer.Option(
        False, "--store", help="Read buyers' annual totals from the store and save the results."
    ),
) -> None:
    """Reconcile order, payment, waybill and list per order; one JSON result per line.

    Exit status 1 when any order is not matched.
    """
    on = _date(day) or date.today()
    docs = service.documents_from_records(
        _records(orders), _records(payments), _records(waybills), _records(lists)
    )
    try:
        results = service.match(docs, on, engine() if store else None, save=store)
    except DomainError as exc:
        fail(str(exc))
    for result in results:
        typer.echo(dumps(result))
    if any(r["status"] != "matched" for r in results):
        raise typer.Exit(1)


@app.command()
def message(
    file: str = typer.Argument(..., help="JSON record(s) of the message; - for stdin."),
    type_: str = typer.Option(..., "--type", help="CEB311, CEB411, CEB511, CEB621, CEB303, ..."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write here (default stdout)."),
) -> None:
    """Write the CEB XML message holding the record(s) of FILE."""
    records = _json_lines(_read(file), file)
    try:
        xml = ceb.generate(type_, records)
    except DomainError as exc:
        fail(str(exc))
    if output is None:
        sys.stdout.buffer.write(xml)
    else:
        output.write_bytes(xml)


@app.command()
def parse(file: str = typer.Argument(..., help="A CEB XML message; - for stdin.")) -> None:
    """Read a CEB XML message back as JSON (type, guid, records)."""
    try:
        msg = ceb.parse(_read(file))
    except DomainError as exc:
        fail(f"{file}: {exc}")
    emit_json(
        {
            "type": msg.code,
            "guid": msg.guid,
            "records": msg.records,
            "base_transfer": msg.base_transfer,
        }
    )


@app.command()
def declare(
    order_ids: list[int] = typer.Argument(..., help="Stored order ids."),
    day: str | None = DATE_OPTION,
) -> None:
    """Quote and declare stored orders; CBEC amounts count into buyers' annual totals."""
    try:
        report = service.declare_orders(engine(), order_ids, _date(day))
    except DomainError as exc:
        fail(str(exc))
    emit_json(
        {
            "declared": report.declared,
            "already_declared": report.already,
            "not_modelled": report.not_modelled,
            "errors": report.errors,
        }
    )


@app.command()
def receipt(
    order_no: str = typer.Argument(..., help="The declared order number."),
    code: str = typer.Argument(
        ..., help="Receipt code: 2, 120, 300, 399, 500, 800, 899, 100, 700."
    ),
) -> None:
    """Apply a customs receipt code to a declaration (the status machine)."""
    try:
        emit_json(service.record_receipt(engine(), order_no, code))
    except DomainError as exc:
        fail(str(exc))


@app.command(name="return")
def return_(
    order_no: str = typer.Argument(..., help="The released order number."),
    day: str | None = DATE_OPTION,
) -> None:
    """Return released CBEC goods within the window: tax refunded, annual total restored."""
    try:
        emit_json(service.return_goods(engine(), order_no, _date(day) or date.today()))
    except DomainError as exc:
        fail(str(exc))
