"""Default views of ``xborder customs`` (80 columns, money formatted): quotes, matches, messages."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table

from xborder.cli.common import console

if TYPE_CHECKING:
    from xborder.services.customs import MatchReport, Message

PLAIN: dict[str, Any] = {"markup": False, "highlight": False}  # data is printed as it is


def _money(amount: str | None, currency: str) -> str:
    return "" if amount is None else f"{amount} {currency}"


def _grid() -> Table:
    return Table(show_header=False, box=None, pad_edge=False)


def _row(table: Table, *cells: str) -> None:
    """A row of data: brackets in it are text, not Rich markup."""
    table.add_row(*(escape(c) for c in cells))


def show_quote(result: dict[str, Any], verbose: bool) -> None:
    cur = result["currency"]
    head = f"{result['regime']} {result['channel']}"
    kind = "estimate" if result.get("estimate", True) else "exact"
    console.print(f"[bold]{head}[/] on {result['date']} ({kind}): {escape(result['reason'])}")
    grid = _grid()
    grid.add_column(style="dim")
    grid.add_column(justify="right")
    for label, key in (
        ("goods", "goods"), ("freight and insurance", "freight_insurance"),
        ("customs value", "customs_value"), ("duty", "duty"),
        ("additional duty", "additional_duty"), ("VAT", "vat"),
        ("consumption tax", "consumption_tax"), ("fees", "fees"), ("total tax", "total_tax"),
        ("landed cost", "landed_cost"),
    ):  # fmt: skip
        _row(grid, label, _money(result.get(key), cur))
    payer = f"{result['tax_payer']}, collected at {result['collected_at']}"
    _row(grid, "tax paid by", payer)
    if result.get("buyer_annual_total_after") is not None:
        _row(grid, "buyer's year after", _money(result["buyer_annual_total_after"], "CNY"))
    fx = result.get("fx")
    if fx:
        dated = f" of {fx['date']}" if fx.get("date") else " (given)"
        _row(grid, "FX rate", f"1 {fx['from'] or ''} = {fx['rate']} {fx['to']}{dated}")
    console.print(grid)
    lines = Table("#", "HS code", "qty", "value", "duty", "VAT", "cons. tax")
    for ln in result["lines"]:
        amounts = (ln["value"], ln["duty"], ln["vat"], ln["consumption_tax"])
        _row(
            lines,
            str(ln["line"] + 1),
            ln["hs_code"],
            str(ln["qty"]),
            *(_money(a, cur) for a in amounts),
        )
    console.print(lines)
    _show_explanation(result.get("explanation"), verbose)
    if verbose:
        for rule in result["rules"]:
            console.print(f"{rule['id']}: {rule['summary']} ({rule['source']})", **PLAIN)
    else:
        ids = ", ".join(r["id"] for r in result["rules"])
        console.print(f"Rules: {ids} (--verbose for their sources)", **PLAIN)


def _show_explanation(found: dict[str, Any] | None, verbose: bool) -> None:
    """Which rule decided each component; with --verbose, what was considered and not applied."""
    if not found:
        return
    for reason in found["estimate_reasons"]:
        console.print(f"Estimate: {reason}", **PLAIN)
    decided = Table("component", "decided by", title="Why")
    for component, ids in found["decided_by"].items():
        shown = [i for i in ids if verbose or not i.startswith(("tariff:", "VAT rate:"))]
        if shown:
            _row(decided, component.replace("_", " "), ", ".join(shown))
    console.print(decided)
    others = [r for r in found["rules"] if r["status"] == "not applicable"]
    for rule in others:
        console.print(f"Not applicable: {rule['id']}: {rule['reason']}", **PLAIN)
    if verbose:
        for item in [*found["measures"], *found["fees"]]:
            why = f": {item['reason']}" if item["reason"] else ""
            console.print(f"{item['status']}: {item['id']}{why} ({item['source']})", **PLAIN)


def show_bulk_quotes(results: list[dict[str, Any]]) -> None:
    """Per regime, channel and currency: orders, total tax and landed cost; then the errors."""
    groups: dict[tuple[str, str, str], list[Decimal]] = {}
    for r in results:
        if "error" not in r:
            key = (r["regime"], r["channel"], r["currency"])
            acc = groups.setdefault(key, [Decimal(0), Decimal(0), Decimal(0)])
            acc[0] += 1
            acc[1] += Decimal(r["total_tax"])
            acc[2] += Decimal(r["landed_cost"])
    quoted = Table("regime", "channel", "orders", "total tax", "landed cost", title="Quoted")
    for (regime, channel, cur), (n, tax, landed) in sorted(groups.items()):
        _row(quoted, regime, channel, str(n), f"{tax} {cur}", f"{landed} {cur}")
    console.print(quoted)
    errors = [r for r in results if "error" in r]
    console.print(f"{len(results) - len(errors)} quoted, {len(errors)} not (--json: every record)")
    for r in errors:
        console.print(f"  record {r['record'] + 1}: {r['error']}", **PLAIN)


def show_matches(results: list[dict[str, Any]], verbose: bool) -> None:
    view = Table("order", "status", "problems", title="Three-document match")
    for r in results:
        problems = [f"{p['rule']} {p['field']}" for p in r["problems"]]
        if verbose:
            problems = [
                f"{p['rule']} {p['field']}: {p['actual']} (expected {p['expected']})"
                for p in r["problems"]
            ]
        elif len(problems) > 2:
            problems = [*problems[:2], f"+{len(problems) - 2} more"]
        _row(view, r["orderNo"], r["status"], "; ".join(problems))
    console.print(view)
    counts: dict[str, int] = {}
    for r in results:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    console.print(", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "no orders")


def show_match_report(report: MatchReport) -> None:
    counts = ", ".join(f"{k} {v}" for k, v in sorted(report.counts.items()))
    console.print(f"Matched {report.orders} China import orders: {counts or 'none'}")
    for e in report.examples:
        console.print(f"  {e.order_no}: {e.rule} {e.field}: {e.actual}", **PLAIN)


def show_message(msg: Message, verbose: bool) -> None:
    console.print(f"{msg.code}, guid {msg.guid}: {len(msg.records)} record(s)", **PLAIN)
    for i, record in enumerate(msg.records, 1):
        key = next((record[k] for k in ("orderNo", "logisticsNo", "copNo") if record.get(k)), "")
        lines = record.get("lines") or []
        fields = len(record) - ("lines" in record)
        console.print(f"  {i}. {key}: {fields} fields, {len(lines)} goods line(s)", **PLAIN)
        if verbose:
            grid = _grid()
            grid.add_column(style="dim")
            grid.add_column(overflow="fold")
            for name, value in record.items():
                if name != "lines":
                    _row(grid, f"    {name}", str(value))
            console.print(grid)
