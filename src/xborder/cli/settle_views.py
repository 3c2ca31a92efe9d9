"""Shared pieces of ``xborder settle``: options, the use-case runner, tables and money text.

Default views are for a person at 80 columns: names and formatted money (``str(Money)``), never
raw minor units; ``--json`` and ``--verbose`` add ids and machine forms. The settlement service is
imported inside the functions, so ``xborder --help`` stays fast.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich import box
from rich.table import Table

from xborder.cli.common import console, emit_json, fail, platform
from xborder.domain.errors import DomainError
from xborder.domain.money import Money

if TYPE_CHECKING:
    from xborder.services.settlement import EscrowTerms, LedgerCheck, PostResult

T = TypeVar("T")
PLATFORM = typer.Option(None, "--platform", help="Escrow holder (default: the one holding "
                        "escrow already, else the first payment provider).")  # fmt: skip
FEE = typer.Option("0.05", "--fee-rate", help="Platform fee on the goods value.")
AT = typer.Option(None, "--at", help="When (ISO date or time, UTC; default: now).")
VERBOSE = typer.Option(False, "--verbose", "-v", help="Show transfer ids and counterparties.")


def parse_day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{option}: not an ISO date (YYYY-MM-DD): {value!r}")


def run(action: Callable[[Any], T]) -> T:
    """One use case on the configured platform; domain errors become a message, not a traceback."""
    try:
        return action(platform().uow())
    except DomainError as exc:
        fail(str(exc))


def escrow_terms(platform_id: str | None, fee_rate: str, auto_days: int = 7) -> EscrowTerms:
    from xborder.services import settlement as svc

    try:
        rate = Decimal(fee_rate)
    except InvalidOperation:
        fail(f"--fee-rate: not a decimal number: {fee_rate!r}")
    if platform_id is None:
        platform_id = run(svc.escrow_holder)
        if platform_id is None:
            fail("--platform: no payment provider in the store; run `xborder init` or pass it")
    try:
        return svc.EscrowTerms(platform=platform_id, fee_rate=rate, auto_confirm_days=auto_days)
    except DomainError as exc:
        fail(str(exc))


def make_grid(title: str | None, *columns: str, right: tuple[str, ...] = ()) -> Table:
    """A borderless table that fits 80 columns (long cells fold instead of widening it)."""
    grid = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, title_justify="left")
    for name in columns:
        grid.add_column(name, overflow="fold", justify="right" if name in right else "left")
    return grid


def money_text(minor: int, currency: str, signed: bool = False) -> str:
    text = str(Money.from_minor(int(minor), currency))
    return f"+{text}" if signed and minor > 0 else text


def amount_text(transfer: dict[str, Any], signed: bool = False) -> str:
    """A transfer's amount; a reservation says so, a cancelled one moves nothing."""
    if transfer["kind"] == "void":
        return ""
    text = money_text(transfer["amount"], transfer["currency"], signed)
    return f"{text} (reserved)" if transfer["kind"] == "pending" else text


def texts(record: Any) -> dict[str, Any]:
    """A result dataclass as JSON-ready fields, money as its text ("12.30 EUR")."""
    values = {f.name: getattr(record, f.name) for f in fields(record)}
    return {k: str(v) if isinstance(v, Money) else v for k, v in values.items()}


def report(result: PostResult, as_json: bool, what: str) -> None:
    if as_json:
        emit_json({"posted": result.posted, "already_posted": len(result.existing)})
    else:
        console.print(f"{what}: {result.posted} transfers posted, "
                      f"{len(result.existing)} already posted.")  # fmt: skip


def print_check(check: LedgerCheck, verbose: bool = False) -> None:
    """``settle verify``'s report: a line when clean; each finding when not (sums as money)."""
    size = f"{check.accounts} accounts, {check.transfers} transfers"
    if check.ok:
        console.print(f"Ledger verified: {size}; every balance equals its transfers.")
        return
    console.print(f"LEDGER CHECK FAILED ({size}): {check.mismatched} balances differ from "
                  f"their transfers, {check.broken} transfers break double entry, "
                  f"{check.orphans} balances have no account.")  # fmt: skip
    if check.mismatches:
        table = make_grid("Balances that differ from the transfers", "account", "stored",
                          "recomputed", right=("stored", "recomputed"))  # fmt: skip
        for m in check.mismatches:
            currency = m.account.rsplit(":", 1)[-1]
            stored = "no balance row" if m.stored is None else _sums(m.stored, currency, verbose)
            table.add_row(m.account, stored, _sums(m.recomputed, currency, verbose))
        console.print(table)
    if check.broken_transfers:
        table = make_grid("Transfers that break double entry", "transfer", "reason")
        for b in check.broken_transfers:
            table.add_row(b.id, b.reason)
        console.print(table)


def _sums(sums: tuple[int, int, int, int], currency: str, verbose: bool) -> str:
    """Posted balance (credits - debits) and pending; all four sums with ``--verbose``."""
    dp, cp, dq, cq = sums
    if verbose:
        names = ("debits", "credits", "pending out", "pending in")
        return "\n".join(f"{n} {money_text(v, currency)}" for n, v in zip(names, sums, strict=True))
    pending = f"\npending {money_text(cq - dq, currency)}" if dq or cq else ""
    return money_text(cp - dp, currency) + pending
