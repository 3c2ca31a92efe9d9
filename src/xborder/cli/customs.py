"""``xborder customs``: landed-cost quotes, the three-document match, CEB messages, receipts.

The assessments and the quote variance (``assess``, ``variance``) are in ``customs_variance``,
registered on the same ``app``.

A thin layer over ``xborder.services.customs``: it reads files, calls one use case on the platform
(``platform().uow()``, the system clock) and shows the result. Default views fit 80 columns and
show money formatted; ``--json`` gives the machine-readable records. The service (polars, lxml) is
imported inside the commands so that ``xborder --help`` stays fast.
"""

from __future__ import annotations

import sys
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer

from xborder.cli.common import JSON_OPTION, console, dumps, emit_json, fail, platform
from xborder.cli.customs_views import (
    PLAIN,
    show_bulk_quotes,
    show_match_report,
    show_matches,
    show_message,
    show_quote,
)
from xborder.domain.errors import DomainError

if TYPE_CHECKING:
    from xborder.domain.money import FxTable

app = typer.Typer(help="Customs: landed cost, three-document match, China CEB messages.")

DATE_OPTION = typer.Option(
    None, "--date", help="The day the rules apply (YYYY-MM-DD; default: today)."
)
VERBOSE_OPTION = typer.Option(False, "--verbose", "-v", help="Show sources and every problem.")


def parse_date(value: str | None, option: str = "--date") -> date | None:
    """An ISO date option (None when not given); a bad one exits 2 naming the option."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{option}: not an ISO date (YYYY-MM-DD): {value!r}")


def failed(exc: DomainError) -> NoReturn:
    """Bad input exits 2; a well-formed request the store's state refuses exits 1."""
    fail(str(exc), 2 if isinstance(exc, ValueError) else 1)


def _read(path: str, limit: int | None = None) -> bytes:
    """The bytes of a file (or stdin), refusing more than ``limit`` without reading them all."""
    try:
        if path == "-":
            data = sys.stdin.buffer.read(-1 if limit is None else limit + 1)
        else:
            with Path(path).open("rb") as handle:
                data = handle.read(-1 if limit is None else limit + 1)
    except OSError as exc:
        fail(f"{path}: cannot read: {exc.strerror}")
    if limit is not None and len(data) > limit:
        fail(f"{path}: larger than {limit // (1024 * 1024)} MB")
    return data


def _json(data: bytes | str, where: str) -> Any:
    from xborder.services.customs import json_document

    try:
        return json_document(data, where)
    except DomainError as exc:
        fail(str(exc))


def _json_lines(data: bytes, where: str) -> list[Any]:
    from xborder.services.customs import json_records

    try:
        return json_records(data, where)
    except DomainError as exc:
        fail(str(exc))


def _records(path: str) -> list[dict[str, Any]]:
    """CEB XML or JSON lines (or one JSON array) of CEB records."""
    from xborder.services.customs import ceb_records

    try:
        return ceb_records(_read(path), path)
    except DomainError as exc:
        fail(str(exc))


def _world_fx() -> FxTable | None:
    """The demo world's dated FX rates, for orders not priced in the regime's currency."""
    from xborder.services.world import read_world

    try:
        return read_world().fx_table()
    except DomainError:
        return None


@app.command()
def quote(
    file: str = typer.Argument("-", help="A JSON order (or JSON lines with --bulk); - for stdin."),
    bulk: bool = typer.Option(False, "--bulk", help="Quote JSON lines, one result per record."),
    day: str | None = DATE_OPTION,
    store: bool = typer.Option(
        False, "--store", help="Take a China buyer's annual CBEC total (buyer_id) from the store."
    ),
    as_json: bool = JSON_OPTION,
    verbose: bool = VERBOSE_OPTION,
) -> None:
    """Quote duties, taxes and landed cost under the regime in force on the date.

    With --bulk, --json writes one JSON result per line. Exit status 1 when any record of a
    --bulk run could not be quoted (its line says why).
    """
    from xborder.services import customs as service

    on = parse_date(day)
    data = _read(file)
    the_platform = platform()
    if bulk:
        records = _json_lines(data, file)
        today = on or the_platform.clock.now().date()
        results = service.quote_many(records, today, fx=_world_fx())
        if as_json:
            for result in results:
                typer.echo(dumps(result))
        else:
            show_bulk_quotes(results)
        if any("error" in r for r in results):
            raise typer.Exit(1)
        return
    request = _json(data, file)
    fx = None if store else _world_fx()  # with the store, its own dated rates
    command = service.QuoteOrder(request, on=on, fx=fx, use_store=store)
    try:
        result = service.quote(the_platform.uow(), command)
    except DomainError as exc:
        failed(exc)
    if as_json:
        emit_json(result)
    else:
        show_quote(result, verbose)


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
    as_json: bool = JSON_OPTION,
    verbose: bool = VERBOSE_OPTION,
) -> None:
    """Reconcile order, payment, waybill and list per order (--json: one JSON result per line).

    Exit status 1 when any order is not matched.
    """
    from xborder.services import customs as service

    docs = service.documents_from_records(
        _records(orders), _records(payments), _records(waybills), _records(lists)
    )
    command = service.MatchDocuments(docs, parse_date(day), use_store=store, save=store)
    try:
        results = service.match(platform().uow(), command)
    except DomainError as exc:
        failed(exc)
    if as_json:
        for result in results:
            typer.echo(dumps(result))
    else:
        show_matches(results, verbose)
    if any(r["status"] != "matched" for r in results):
        raise typer.Exit(1)


@app.command("match-declared")
def match_declared(
    order_ids: list[int] = typer.Argument(..., help="Stored order ids."),
    day: str | None = DATE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Match the stored, declared China import orders from what the store knows (order,
    declaration, payments, parcel) and save the result per order."""
    from xborder.services import customs as service

    command = service.MatchDeclared(order_ids, parse_date(day))
    try:
        report = service.match_declared(platform().uow(), command)
    except DomainError as exc:
        failed(exc)
    if as_json:
        emit_json(asdict(report))
    else:
        show_match_report(report)


KEY_HELP = "The enterprise's PEM private key (or XBORDER_CEB_KEY_FILE)."


@app.command()
def message(
    file: str | None = typer.Argument(None, help="JSON record(s) of the message; - for stdin."),
    type_: str = typer.Option(..., "--type", help="CEB311, CEB411, CEB511, CEB621, CEB303, ..."),
    order: int | None = typer.Option(
        None, "--order", help="Instead of FILE: the stored China import order (id) to write."
    ),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write here (default stdout)."),
    cop_code: str | None = typer.Option(None, "--cop-code", help="BaseTransfer copCode."),
    cop_name: str | None = typer.Option(None, "--cop-name", help="BaseTransfer copName."),
    dxp_id: str | None = typer.Option(None, "--dxp-id", help="BaseTransfer dxpId."),
    key: str | None = typer.Option(None, "--key", help=KEY_HELP),
    cert: str | None = typer.Option(
        None, "--cert", help="Its PEM X.509 certificate (or XBORDER_CEB_CERT_FILE)."
    ),
    unsigned: bool = typer.Option(
        False, "--unsigned", help="No ds:Signature: a signing client signs before sending."
    ),
    algorithm: str = typer.Option("rsa-sha256", "--algorithm", help="rsa-sha256 or rsa-sha1."),
) -> None:
    """Write the CEB XML message holding the record(s) of FILE, or of the stored China import
    order --order (CEB311, CEB411, CEB511, CEB621), signed when a key is given.

    The enterprise (copCode, copName, dxpId) comes from the TOML file XBORDER_CEB_CONFIG names,
    the XBORDER_CEB_* environment variables, or these options. A declaration list (CEB621,
    CEB603) needs --key and --cert, or --unsigned (it must then be signed before it is sent).
    """
    from xborder.services.customs_messages import WriteMessage, load_enterprise, write_message
    from xborder.services.customs_messages_order import OrderMessage, order_message

    if (file is None) == (order is None):
        fail("give FILE (the message's records) or --order ID (a stored order), not both")
    where = f"order {order}" if file is None else file
    records = [] if file is None else _json_lines(_read(file), file)
    overrides = {"cop_code": cop_code, "cop_name": cop_name, "dxp_id": dxp_id,
                 "key_file": key, "cert_file": cert}  # fmt: skip
    try:
        enterprise = load_enterprise(overrides)
        if order is not None:
            command = OrderMessage(order, type_, enterprise, unsigned, algorithm)
            xml = order_message(platform().uow(), command)
        else:
            now = platform().clock.now()
            write = WriteMessage(type_, records, enterprise, now, None, unsigned, algorithm)
            xml = write_message(write)
    except DomainError as exc:
        fail(f"{where}: {exc}")
    if output is None:
        sys.stdout.buffer.write(xml)
    else:
        try:
            output.write_bytes(xml)
        except OSError as exc:
            fail(f"{output}: cannot write: {exc.strerror}")


@app.command()
def parse(
    file: str = typer.Argument(..., help="A CEB XML message; - for stdin."),
    as_json: bool = JSON_OPTION,
    verbose: bool = VERBOSE_OPTION,
) -> None:
    """Read a CEB XML message or receipt (type, guid, records). A DOCTYPE, an entity or a file
    over 16 MB is refused."""
    from xborder.services.customs_messages import MAX_MESSAGE_BYTES, parse_message

    try:
        msg = parse_message(_read(file, MAX_MESSAGE_BYTES))
    except DomainError as exc:
        fail(f"{file}: {exc}")
    if as_json:
        emit_json(
            {
                "type": msg.code,
                "guid": msg.guid,
                "signed": msg.signed,
                "records": msg.records,
                "base_transfer": msg.base_transfer,
            }
        )
    else:
        show_message(msg, verbose)


@app.command()
def receipts(
    file: str = typer.Argument(..., help="A CEB receipt message (CEB622, CEB604, ...); - stdin."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Apply a receipt message from customs: list receipts (CEB622, CEB604) move the
    declarations; other receipts and codes the status machine does not model are reported."""
    from xborder.services.customs_messages import MAX_MESSAGE_BYTES
    from xborder.services.customs_receipts import ApplyReceiptMessage, apply_receipt_message

    data = _read(file, MAX_MESSAGE_BYTES)
    try:
        result = apply_receipt_message(platform().uow(), ApplyReceiptMessage(data))
    except DomainError as exc:
        fail(f"{file}: {exc}", 2 if isinstance(exc, ValueError) else 1)
    if as_json:
        emit_json(asdict(result))
        return
    console.print(f"{result.code}: {len(result.statuses)} declaration(s) updated", **PLAIN)
    for order_no, status in result.statuses.items():
        console.print(f"  {order_no}: {status}", **PLAIN)
    for notice in result.notices:
        text = f"  {notice.subject}: code {notice.code} ({notice.reason}) {notice.info}"
        console.print(text[:80], **PLAIN)


@app.command()
def declare(
    order_ids: list[int] = typer.Argument(..., help="Stored order ids."),
    day: str | None = DATE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Quote and declare stored orders; CBEC amounts count into buyers' annual totals."""
    from xborder.services import customs as service

    try:
        report = service.declare_orders(
            platform().uow(), service.DeclareOrders(order_ids, parse_date(day))
        )
    except DomainError as exc:
        failed(exc)
    summary = {
        "declared": report.declared,
        "already_declared": report.already,
        "not_modelled": report.not_modelled,
        "errors": list(report.errors),
    }
    if as_json:
        emit_json(summary)
        return
    console.print(
        f"Declared {report.declared}; already declared {report.already}; "
        f"no modelled regime {report.not_modelled}; not quoted {len(report.errors)}."
    )
    for error in report.errors:
        console.print(f"  {error}", **PLAIN)


@app.command()
def receipt(
    order_no: str = typer.Argument(..., help="The declared order number."),
    code: str = typer.Argument(
        ..., help="Receipt code: 2, 120, 300, 399, 500, 800, 899, 100, 700."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Apply a customs receipt code to a declaration (the status machine)."""
    from xborder.services import customs as service

    try:
        result = service.record_receipt(platform().uow(), service.RecordReceipt(order_no, code))
    except DomainError as exc:
        failed(exc)
    if as_json:
        emit_json(asdict(result))
    elif result.status == result.previous:
        console.print(f"{result.order_no}: already {result.status}.", **PLAIN)
    else:
        console.print(f"{result.order_no}: {result.previous} -> {result.status}.", **PLAIN)


@app.command(name="return")
def return_(
    order_no: str = typer.Argument(..., help="The released order number."),
    day: str | None = DATE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Return released CBEC goods within the window: tax refunded, annual total restored."""
    from xborder.services import customs as service

    try:
        result = service.return_goods(
            platform().uow(), service.ReturnGoods(order_no, parse_date(day))
        )
    except DomainError as exc:
        failed(exc)
    if as_json:
        emit_json({**asdict(result), "refund": str(result.refund.amount)})
        return
    console.print(
        f"{result.order_no}: {result.status}; tax {result.refund} given back (rule {result.rule}).",
        **PLAIN,
    )


# The assessment and variance commands register on ``app`` from their own module, imported last
# because it imports ``app`` and the helpers above.
from xborder.cli import customs_variance as customs_variance  # noqa: E402
