"""``xborder trace``: the EPCIS event ledger (verify, export, import, hash, query, show)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NoReturn

import typer
from sqlalchemy.exc import DBAPIError

from xborder.cli.common import JSON_OPTION, console, dumps, emit_json, engine, fail, table
from xborder.domain.errors import DomainError
from xborder.services import trace as svc
from xborder.store.uow import UnitOfWork
from xborder.trace.signing import KeyStore
from xborder.trace.visibility import Viewer

app = typer.Typer(help="The multi-party EPCIS 2.0 event ledger.", no_args_is_help=True)


@app.callback()
def _ready() -> None:
    """The multi-party EPCIS 2.0 event ledger."""


def _store_error(exc: DBAPIError) -> NoReturn:
    fail(
        f"the store cannot serve the ledger ({type(exc.orig).__name__}); run `xborder init` "
        "to create or migrate it"
    )


AS_PARTY = typer.Option(None, "--as-party", help="Read as this party (default: the operator).")


def _viewer(
    party: str | None, tracking_no: str | None = None, postcode: str | None = None
) -> Viewer:
    if postcode is not None:
        if tracking_no is None:
            fail("--postcode needs a tracking number")
        return Viewer.buyer(tracking_no, postcode)
    return Viewer.party(party) if party else Viewer.operator()


@app.command()
def verify(
    fast: bool = typer.Option(
        False,
        "--fast",
        help="Chains, roots and signatures only; skip "
        "recomputing each Event Hash ID from its document.",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Recompute hashes, chains, Merkle roots and signatures; exit 1 at the first break."""
    try:
        with UnitOfWork(engine()) as uow:
            report = svc.verify(uow, deep=not fast, keys=KeyStore())
    except DomainError as exc:
        fail(str(exc))
    except DBAPIError as exc:
        _store_error(exc)
    summary = {
        "events": report.events,
        "batches": report.batches,
        "deep": report.deep,
        "ok": report.ok,
        "breaks": len(report.breaks),
        "seconds": round(report.seconds, 3),
    }
    if as_json:
        emit_json(
            {
                **summary,
                "first_break": None
                if report.first is None
                else {
                    "reason": report.first.reason,
                    "event_id": report.first.event_id,
                    "batch_id": report.first.batch_id,
                    "object": report.first.object_key,
                    "event_hash_id": report.first.event_hash_id,
                },
            }
        )
    else:
        console.print(table([summary], "Ledger verification"))
        if report.first is not None:
            console.print(f"[bold red]first break:[/] {report.first}", highlight=False)
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def export(
    parcel: str | None = typer.Option(None, "--parcel", help="Tracking number or SSCC link."),
    since: str | None = typer.Option(None, "--since", help="Only events at or after (ISO 8601)."),
    party: str | None = AS_PARTY,
    out: Path | None = typer.Option(None, "--out", "-o", help="Write here instead of stdout."),
) -> None:
    """Write an EPCIS 2.0 JSON-LD document (valid against the official schema)."""
    try:
        with UnitOfWork(engine()) as uow:
            doc = svc.export(uow, _viewer(party), parcel=parcel, since=since)
    except DomainError as exc:
        fail(str(exc))
    except DBAPIError as exc:
        _store_error(exc)
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
    if not file.is_file():
        fail(f"{file}: no such file")
    try:
        with UnitOfWork(engine()) as uow:
            report = svc.import_document(uow, file.read_bytes(), party, source=file.name)
            uow.commit()
    except DomainError as exc:
        fail(f"{file}: {exc}")
    except DBAPIError as exc:
        _store_error(exc)
    summary = {
        "file": str(file),
        "events": report.events,
        "stored": report.stored,
        "already_stored": report.duplicates,
    }
    if as_json:
        emit_json({**summary, "event_hash_ids": report.hash_ids})
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
    if cbv not in ("2.0", "2.1"):
        fail(f"--cbv: must be 2.0 or 2.1, got {cbv!r}")
    if not file.is_file():
        fail(f"{file}: no such file")
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
    as_json: bool = JSON_OPTION,
) -> None:
    """EPCIS query parameters over the events you may see (values OR-ed within a parameter)."""
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
        with UnitOfWork(engine()) as uow:
            events = svc.query(uow, _viewer(party), params, limit=limit)
    except DomainError as exc:
        fail(str(exc))
    except DBAPIError as exc:
        _store_error(exc)
    if as_json:
        typer.echo(dumps(events))
        return
    console.print(
        table(
            [
                {
                    "eventTime": e.get("eventTime"),
                    "type": e.get("type"),
                    "action": e.get("action"),
                    "bizStep": e.get("bizStep"),
                    "disposition": e.get("disposition"),
                    "what": e.get("parentID") or ", ".join((e.get("epcList") or [])[:2]),
                    "eventID": e.get("eventID"),
                }
                for e in events
            ],
            f"{len(events)} events",
        )
    )


@app.command()
def show(
    tracking_no: str = typer.Argument(..., help="Tracking number (or SSCC Digital Link)."),
    postcode: str | None = typer.Option(
        None, "--postcode", help="As the buyer: destination postcode (public view)."
    ),
    party: str | None = AS_PARTY,
    as_json: bool = JSON_OPTION,
) -> None:
    """A parcel's timeline and the exceptions derived from it."""
    try:
        with UnitOfWork(engine()) as uow:
            timeline = svc.show(uow, _viewer(party, tracking_no, postcode), tracking_no)
    except DomainError as exc:
        fail(str(exc))
    except DBAPIError as exc:
        _store_error(exc)
    exceptions = [
        {"kind": f.kind.value, "custodian": f.custodian, "detail": f.detail}
        for f in timeline.exceptions
    ]
    if as_json:
        emit_json(
            {
                "tracking_no": timeline.tracking_no,
                "sscc": timeline.key,
                "status": timeline.status,
                "checkpoints": timeline.checkpoints,
                "exceptions": exceptions,
            }
        )
        return
    console.print(
        table(timeline.checkpoints, f"{timeline.tracking_no or timeline.key}: {timeline.status}")
    )
    if exceptions:
        console.print(table(exceptions, "Exceptions"))
