"""``xborder trace``: the EPCIS event ledger (verify, export, import, hash, query, show).

A thin face over ``xborder.services.trace``: each command builds the use case's command, runs it
on ``platform().uow()`` and renders the result. Default views are read by a person at 80
columns (times in UTC to the minute, names instead of URIs); ``--verbose`` or ``--json`` adds
the full URIs, business steps and Event Hash IDs. The service is imported inside the commands so
that ``xborder --help`` does not load the ledger's libraries.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from xborder.cli.common import JSON_OPTION, console, dumps, emit_json, fail, platform, table

if TYPE_CHECKING:
    from rich.table import Table

    from xborder.services.trace import Timeline, Viewer

app = typer.Typer(help="The multi-party EPCIS 2.0 event ledger.", no_args_is_help=True)

AS_PARTY = typer.Option(None, "--as-party", help="Read as this party (default: the operator).")
VERBOSE = typer.Option(
    False, "--verbose", "-v", help="Also full URIs, business steps and Event Hash IDs."
)


@app.callback()
def _ready() -> None:
    """The multi-party EPCIS 2.0 event ledger."""


def _viewer(party: str | None) -> Viewer:
    from xborder.services.trace import Viewer

    return Viewer.party(party) if party else Viewer.operator()


def _minute(moment: datetime | str | None) -> str:
    """``2026-11-03 14:05`` (UTC): what a person reads in a table."""
    if isinstance(moment, str):
        text = moment
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return text
    if moment is None:
        return ""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M")


def _word(value: str | None) -> str:
    """The last word of a CBV or private vocabulary value (``xb:BizStep-order_placed`` ->
    ``order_placed``)."""
    if not value:
        return ""
    last = re.split(r"[/:#]", value)[-1]
    return re.sub(r"^(BizStep|Disp|BTT)-", "", last)


@app.command()
def verify(
    fast: bool = typer.Option(
        False,
        "--fast",
        help="Chains, roots and signatures only; skip "
        "recomputing each Event Hash ID from its document.",
    ),
    checkpoint: Path | None = typer.Option(
        None,
        "--checkpoint",
        help="A checkpoint (trace checkpoint --out) the ledger must still extend.",
    ),
    verbose: bool = VERBOSE,
    as_json: bool = JSON_OPTION,
) -> None:
    """Recompute hashes, chains, Merkle roots, signatures, the query columns, memberships and
    the object registry; exit 1 at the first break."""
    from xborder.domain.errors import DomainError
    from xborder.services import trace as svc

    head = None
    if checkpoint is not None:
        if not checkpoint.is_file():
            fail(f"{checkpoint}: no such file")
        try:
            head = svc.parse_checkpoint(checkpoint.read_bytes()[: 64 * 1024 + 1])
        except DomainError as exc:
            fail(f"{checkpoint}: {exc}")
    try:
        report = svc.verify(platform().uow(), svc.Verify(deep=not fast, checkpoint=head))
    except DomainError as exc:
        fail(str(exc))
    summary = {
        "events": report.events,
        "batches": report.batches,
        "deep": report.deep,
        "ok": report.ok,
        "breaks": len(report.breaks),
        "seconds": round(report.seconds, 3),
    }
    first = report.first
    if as_json:
        emit_json(
            {
                **summary,
                "first_break": None
                if first is None
                else {
                    "reason": first.reason,
                    "event_id": first.event_id,
                    "batch_id": first.batch_id,
                    "object": first.object_key,
                    "event_hash_id": first.event_hash_id,
                    "column": first.column,
                },
            }
        )
    else:
        console.print(table([summary], "Ledger verification"))
        if first is not None:
            console.print(f"[bold red]first break:[/] {first.describe(verbose)}", highlight=False)
    if not report.ok:
        raise typer.Exit(1)


@app.command("checkpoint")
def checkpoint_(
    out: Path | None = typer.Option(None, "--out", "-o", help="Write here instead of stdout."),
) -> None:
    """Sign the ledger's current tree head (batch count, root, time): keep it outside the store
    and check it later with ``trace verify --checkpoint FILE``."""
    from xborder.domain.errors import DomainError
    from xborder.services import trace as svc

    try:
        head = svc.checkpoint(platform().uow(), svc.MakeCheckpoint())
    except DomainError as exc:
        fail(str(exc))
    text = head.to_json()
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text + "\n", encoding="utf-8")
        console.print(f"checkpoint of {head.tree_size} batches written to {out}", highlight=False)


@app.command()
def export(
    parcel: str | None = typer.Option(None, "--parcel", help="Tracking number or SSCC link."),
    since: str | None = typer.Option(None, "--since", help="Only events at or after (ISO 8601)."),
    party: str | None = AS_PARTY,
    out: Path | None = typer.Option(None, "--out", "-o", help="Write here instead of stdout."),
) -> None:
    """Write an EPCIS 2.0 JSON-LD document (valid against the official schema)."""
    from xborder.domain.errors import DomainError
    from xborder.services import trace as svc

    command = svc.ExportEvents(parcel=parcel, since=since, viewer=_viewer(party))
    try:
        doc = svc.export(platform().uow(), command)
    except DomainError as exc:
        fail(str(exc))
    text = json.dumps(doc, ensure_ascii=False, indent=1)
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text + "\n", encoding="utf-8")
        console.print(f"{len(doc['epcisBody']['eventList'])} events written to {out}")


@app.command("import")
def import_(
    file: Path = typer.Argument(..., help="An EPCIS 2.0 JSON-LD document."),
    party: str = typer.Option("operator", "--party", help="The party that signs the batch."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Validate and store a document; an invalid one is rejected whole, naming path and reason."""
    from xborder.domain.errors import DomainError
    from xborder.services import trace as svc

    if not file.is_file():
        fail(f"{file}: no such file")
    size = file.stat().st_size
    if size > svc.MAX_DOCUMENT_BYTES:  # refused before reading it into memory
        fail(
            f"{file}: $: the document has {size:,} bytes, more than the limit of "
            f"{svc.MAX_DOCUMENT_BYTES:,} (16 MiB): split it into several documents"
        )
    command = svc.ImportDocument(file.read_bytes(), party, source=file.name)
    try:
        report = svc.import_document(platform().uow(), command)
    except DomainError as exc:
        fail(f"{file}: {exc}")
    summary = {
        "file": file.name,
        "events": report.events,
        "stored": report.stored,
        "already_stored": report.duplicates,
    }
    if as_json:
        emit_json({**summary, "file": str(file), "event_hash_ids": report.hash_ids})
    else:
        console.print(table([summary], "Import"))


@app.command("hash")
def hash_(
    file: Path = typer.Argument(..., help="An EPCIS 2.0 JSON-LD document."),
    cbv: str = typer.Option("2.0", "--cbv", help="CBV rules: 2.0 or 2.1."),
    prehash: bool = typer.Option(False, "--prehash", help="Also print each pre-hash string."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Print each event's Event Hash ID (no store involved)."""
    from xborder.domain.errors import DomainError
    from xborder.services import trace as svc

    if cbv not in ("2.0", "2.1"):
        fail(f"--cbv: must be 2.0 or 2.1, got {cbv!r}")
    if not file.is_file():
        fail(f"{file}: no such file")
    if file.stat().st_size > svc.MAX_DOCUMENT_BYTES:
        fail(f"{file}: $: more than the limit of {svc.MAX_DOCUMENT_BYTES:,} bytes (16 MiB)")
    try:
        result = svc.event_hash_ids(file.read_bytes(), "2.0" if cbv == "2.0" else "2.1")
    except DomainError as exc:
        fail(f"{file}: {exc}")
    if as_json:
        emit_json([{"eventHashID": h, **({"prehash": p} if prehash else {})} for h, p in result])
        return
    for hash_id, pre in result:
        typer.echo(hash_id)
        if prehash:
            typer.echo(pre)


def _what(event: dict[str, Any]) -> str:
    """The event's subject, short: parentID, else its first EPCs."""
    from xborder.services.trace import short_place

    names = [event["parentID"]] if event.get("parentID") else (event.get("epcList") or [])[:2]
    return ", ".join(short_place(n) for n in names)


def _table(rows: list[dict[str, Any]], title: str, *one_line: str) -> Table:
    """``common.table`` with the time column (and the ``one_line`` ones) kept on one line."""
    result = table(rows, title)
    for index, column in enumerate(result.columns):
        column.no_wrap = index == 0 or column.header in one_line
    return result


@app.command()
def query(
    match_epc: list[str] = typer.Option([], "--MATCH_epc", help="EPC (URN or Digital Link)."),
    match_parent: list[str] = typer.Option([], "--MATCH_parentID"),
    eq_biz_step: list[str] = typer.Option([], "--EQ_bizStep", help="CBV word or URI."),
    eq_disposition: list[str] = typer.Option([], "--EQ_disposition"),
    eq_biz_location: list[str] = typer.Option([], "--EQ_bizLocation"),
    eq_read_point: list[str] = typer.Option([], "--EQ_readPoint"),
    ge_time: str | None = typer.Option(None, "--GE_eventTime"),
    lt_time: str | None = typer.Option(None, "--LT_eventTime"),
    party: str | None = AS_PARTY,
    limit: int = typer.Option(1000, min=1, max=1_000_000),
    verbose: bool = VERBOSE,
    as_json: bool = JSON_OPTION,
) -> None:
    """EPCIS query parameters over the events you may see (values OR-ed within a parameter)."""
    from xborder.domain.errors import DomainError
    from xborder.services import trace as svc

    params: dict[str, Any] = {
        k: v
        for k, v in {
            "MATCH_epc": match_epc,
            "MATCH_parentID": match_parent,
            "EQ_bizStep": eq_biz_step,
            "EQ_disposition": eq_disposition,
            "EQ_bizLocation": eq_biz_location,
            "EQ_readPoint": eq_read_point,
            "GE_eventTime": ge_time,
            "LT_eventTime": lt_time,
        }.items()
        if v
    }
    try:
        events = svc.query(platform().uow(), svc.QueryEvents(params, limit, _viewer(party)))
    except DomainError as exc:
        fail(str(exc))
    if as_json:
        typer.echo(dumps(events))
        return
    if verbose:
        console.print(f"{len(events)} events", highlight=False)
        for e in events:
            head = f"{_minute(e.get('eventTime'))}  {e.get('type')} {e.get('action') or ''}"
            console.print(head, highlight=False)
            for label in ("parentID", "epcList", "childEPCs", "bizStep", "disposition",
                          "readPoint", "bizLocation", "eventID"):  # fmt: skip
                value = e.get(label)
                if isinstance(value, dict):
                    value = value.get("id")
                if isinstance(value, list):
                    value = ", ".join(str(v) for v in value)
                if value:
                    console.print(f"  {label}: {value}", highlight=False, soft_wrap=True)
        return
    rows = [
        {
            "time (UTC)": _minute(e.get("eventTime")),
            "event": f"{str(e.get('type', '')).removesuffix('Event')} {e.get('action') or ''}",
            "step": _word(e.get("bizStep")),
            "disposition": _word(e.get("disposition")),
            "what": _what(e),
        }
        for e in events
    ]
    console.print(_table(rows, f"{len(events)} events", "what"))


def _render_timeline(timeline: Timeline, verbose: bool) -> None:
    from xborder.services.trace import short_place

    rows = []
    for c in timeline.points:
        row = {"time (UTC)": _minute(c.time), "status": c.status}
        row["place"] = short_place(c.place)  # the URI itself is in the verbose details
        if not timeline.public:
            row["party"] = c.party_name or c.party or ""
        rows.append(row)
    name = timeline.tracking_no or short_place(timeline.key)
    title = f"{name}: {timeline.status or 'no events yet'}"
    console.print(_table(rows, title))
    if verbose:
        for c in timeline.points:
            console.print(f"{_minute(c.time)}  {c.status}", highlight=False)
            for label, value in (
                ("location", c.location),
                ("party", c.party),
                ("bizStep", c.biz_step),
                ("disposition", c.disposition),
                ("eventID", c.event_id),
            ):
                if value:
                    console.print(f"  {label}: {value}", highlight=False, soft_wrap=True)
    if timeline.exceptions:
        names = timeline.party_names
        found = [
            {
                "since (UTC)": _minute(datetime.fromtimestamp(f.at_ms / 1000, UTC)),
                "exception": f.kind.value.replace("_", " "),
                **(
                    {}
                    if timeline.public
                    else {
                        "custodian": names.get(f.custodian, f.custodian) if f.custodian else "",
                        "detail": f.detail,
                    }
                ),
            }
            for f in timeline.exceptions
        ]
        console.print(_table(found, "Exceptions"))


@app.command()
def show(
    tracking_no: str = typer.Argument(..., help="Tracking number (or SSCC Digital Link)."),
    postcode: str | None = typer.Option(
        None, "--postcode", help="As the buyer: destination postcode (public view)."
    ),
    party: str | None = AS_PARTY,
    verbose: bool = VERBOSE,
    as_json: bool = JSON_OPTION,
) -> None:
    """A parcel's timeline and the exceptions derived from it."""
    from xborder.domain.errors import DomainError
    from xborder.services import trace as svc

    if postcode is not None and party is not None:
        fail("--postcode (the buyer's view) and --as-party exclude each other")
    viewer = None if postcode is not None else _viewer(party)
    try:
        timeline = svc.show(
            platform().uow(), svc.ShowParcel(tracking_no, postcode=postcode, viewer=viewer)
        )
    except DomainError as exc:
        fail(str(exc))
    if as_json:
        emit_json(timeline.as_dict())
        return
    _render_timeline(timeline, verbose)
