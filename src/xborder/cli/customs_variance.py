"""``xborder customs assess`` and ``xborder customs variance``: what customs or the carrier
actually assessed, against the quote kept at declaration.

Split from ``xborder.cli.customs`` (by purpose: the quote and the declaration there, their
outcome here); the commands register on that module's ``app``, so their names are unchanged.
The service is imported inside the commands so that ``xborder --help`` stays fast.
"""

from __future__ import annotations

from dataclasses import asdict

import typer

from xborder.cli.common import JSON_OPTION, console, emit_json, fail, platform
from xborder.cli.customs import app, failed, parse_date
from xborder.cli.customs_views import PLAIN
from xborder.domain.errors import DomainError


@app.command()
def assess(
    order_no: str = typer.Argument(..., help="The declared order number."),
    reference: str = typer.Argument(..., help="The tax receipt's or invoice's number."),
    source: str = typer.Option("customs", "--source", help="customs or carrier."),
    duty: str = typer.Option("0", "--duty", help="Assessed duty (decimal, tax currency)."),
    additional: str = typer.Option("0", "--additional-duty", help="Assessed additional duty."),
    vat: str = typer.Option("0", "--vat", help="Assessed VAT / GST / sales tax."),
    excise: str = typer.Option("0", "--consumption-tax", help="Assessed consumption tax."),
    fees: str = typer.Option("0", "--fees", help="Assessed fees."),
    currency: str | None = typer.Option(None, "--currency", help="Default: the tax currency."),
    reason: str = typer.Option("", "--reason", help="Why it differs, e.g. reclassified."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Record the duties and taxes customs or the carrier assessed for a declaration (once per
    reference) and show the variance against the quote kept at declaration."""
    from xborder.services.customs_variance import RecordAssessment, record_assessment

    command = RecordAssessment(order_no, source, reference, duty, additional, vat, excise, fees,
                               currency, reason)  # fmt: skip
    try:
        result = record_assessment(platform().uow(), command)
    except DomainError as exc:
        failed(exc)
    if as_json:
        emit_json({**asdict(result), "variance_minor": result.variance_minor})
        return
    state = "recorded" if result.created else "already recorded"
    console.print(f"{result.order_no}: {result.source} {result.reference} {state}.", **PLAIN)
    console.print(
        f"  quoted {result.quoted}, assessed {result.assessed}, variance {result.variance}",
        **PLAIN,
    )


@app.command()
def variance(
    by: str = typer.Option("market", "--by", help="lane, market or hs-chapter."),
    source: str | None = typer.Option(None, "--source", help="Only customs or carrier."),
    since: str | None = typer.Option(None, "--since", help="Declared on or after (YYYY-MM-DD)."),
    until: str | None = typer.Option(None, "--until", help="Declared up to (YYYY-MM-DD)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Quoted against assessed duties, taxes and fees per lane, market or HS chapter, per tax
    currency (amounts in different currencies are never added)."""
    from xborder.services.customs_variance import QuoteVarianceQuery, quote_variance

    group = by.strip().lower().replace("-", "_")
    if group not in ("lane", "market", "hs_chapter"):
        fail(f"--by: must be lane, market or hs-chapter, not {by!r}")
    days = [parse_date(v, name) for v, name in ((since, "--since"), (until, "--until"))]
    try:
        query = QuoteVarianceQuery(group, source, days[0], days[1])  # type: ignore[arg-type]
        report = quote_variance(platform().uow(), query)
    except DomainError as exc:
        failed(exc)
    if as_json:
        emit_json([{**asdict(r), "variance_rate": r.variance_rate} for r in report.rows])
        return
    if not report.rows:
        console.print("No assessed declarations yet.", **PLAIN)
        return
    label = {"lane": "Lane", "market": "Market", "hs_chapter": "Chapter"}[group]
    console.print(f"{label:<22} {'n':>5} {'quoted':>15} {'assessed':>15} {'variance':>9}", **PLAIN)
    for r in report.rows:
        rate = "-" if r.variance_rate is None else f"{r.variance_rate:+.1%}"
        console.print(
            f"{r.group[:22]:<22} {r.declarations:>5} {r.quoted!s:>15} {r.assessed!s:>15} {rate:>9}",
            **PLAIN,
        )
