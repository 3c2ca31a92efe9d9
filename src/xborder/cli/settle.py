"""``xborder settle``: statements and balances, the escrow lifecycle, and the benefit split."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import polars as pl
import typer
from sqlalchemy import select

from xborder.cli.common import JSON_OPTION, console, emit_json, engine, fail, table
from xborder.domain.errors import DomainError
from xborder.services import settlement as svc
from xborder.settlement.core import (
    LP_MAX_PLAYERS,
    check_core,
    least_core,
    nash_bargaining,
    nucleolus,
)
from xborder.settlement.escrow import EscrowTerms
from xborder.settlement.game import Game
from xborder.settlement.shapley import shapley
from xborder.settlement.sla import SlaTerms
from xborder.store.schema import parties
from xborder.store.uow import UnitOfWork

app = typer.Typer(help="Ledger, escrow and the benefit split between partners.",
                  no_args_is_help=True)  # fmt: skip
escrow_app = typer.Typer(help="The escrow lifecycle of orders.", no_args_is_help=True)
app.add_typer(escrow_app, name="escrow")

PLATFORM = typer.Option(None, "--platform", help="Escrow holder (default: the world's first "
                        "payment provider).")  # fmt: skip
FEE = typer.Option("0.05", "--fee-rate", help="Platform fee on the goods value.")
AT = typer.Option(None, "--at", help="When (ISO date or time, UTC; default: now).")


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{option}: not an ISO date (YYYY-MM-DD): {value!r}")


def _time(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--at: not an ISO date or time: {value!r}")
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _terms(platform: str | None, fee_rate: str, auto_days: int = 7) -> EscrowTerms:
    try:
        rate = Decimal(fee_rate)
    except InvalidOperation:
        fail(f"--fee-rate: not a decimal number: {fee_rate!r}")
    if platform is None:
        with engine().connect() as conn:
            row = conn.execute(
                select(parties.c.id).where(parties.c.roles.like("%payment_provider%"))
                .order_by(parties.c.id).limit(1)
            ).first()  # fmt: skip
        if row is None:
            fail("--platform: no payment provider in the store; run `xborder init` or pass it")
        platform = str(row[0])
    try:
        return EscrowTerms(platform=platform, fee_rate=rate, auto_confirm_days=auto_days)
    except DomainError as exc:
        fail(str(exc))


def _run(action: Callable[[UnitOfWork], Any]) -> Any:
    """One use case in one transaction; domain errors become a message, not a traceback."""
    try:
        with UnitOfWork(engine()) as uow:
            result = action(uow)
            uow.commit()
            return result
    except DomainError as exc:
        fail(str(exc))


def _report(result: svc.PostResult, as_json: bool, what: str) -> None:
    if as_json:
        emit_json({"posted": result.posted, "already_posted": len(result.existing)})
    else:
        console.print(f"{what}: {result.posted} transfers posted, "
                      f"{len(result.existing)} already posted.")  # fmt: skip


@app.command()
def statement(
    party: str = typer.Argument(..., help="Party id."),
    since: str | None = typer.Option(None, "--from", help="First day (YYYY-MM-DD), inclusive."),
    until: str | None = typer.Option(None, "--to", help="Last day (YYYY-MM-DD), exclusive."),
    entries: bool = typer.Option(False, "--entries", help="List every transfer too."),
    as_json: bool = JSON_OPTION,
) -> None:
    """A party's accounts over a period: opening, debits, credits, closing, pending."""
    start, end = _day(since, "--from"), _day(until, "--to")
    st = _run(lambda uow: svc.statement(uow, party, start, end, entries))
    rows = [{"account": s.account, "opening": str(s.opening), "debits": str(s.debits),
             "credits": str(s.credits), "closing": str(s.closing),
             "pending_out": str(s.pending_out), "pending_in": str(s.pending_in),
             "transfers": s.transfers} for s in st.lines]  # fmt: skip
    listed = st.entries.to_dicts() if entries and st.entries.height else []
    if as_json:
        emit_json({"party": party, "from": since, "to": until, "accounts": rows,
                   "entries": listed})  # fmt: skip
        return
    if not rows:
        console.print(f"No accounts for party {party!r}.")
        return
    console.print(table(rows, f"Statement of {party}"))
    if listed:
        console.print(table(listed, "Entries"))


@app.command()
def balances(
    party: str | None = typer.Option(None, help="Only this party's accounts."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Every ledger account with its posted balance (credit-positive) and pending sums."""
    frame: pl.DataFrame = _run(lambda uow: svc.balances(uow, party))
    if as_json:
        emit_json(frame.to_dicts())
        return
    console.print(table(frame.to_dicts(), "Ledger balances (minor units)"))


@app.command("shapley")
def shapley_(
    game_file: Path = typer.Argument(..., metavar="GAME.json", help="The game as JSON."),
    samples: int = typer.Option(20_000, min=2, help="Permutations when sampling (> 20 players)."),
    seed: int = typer.Option(0, help="Sampling seed."),
) -> None:
    """Shapley value, core check, least core, nucleolus, Nash split (2 players): JSON."""
    try:
        game = Game.load(game_file)
        result = shapley(game, samples, seed)
        out: dict[str, Any] = {"shapley": result.as_dict(), "exact": result.exact,
                               "grand_coalition": game.grand}  # fmt: skip
        if result.half_width is not None:
            out["confidence"] = result.confidence
            rows = zip(game.players, result.value, result.half_width, strict=True)
            out["interval"] = {p: [float(v - h), float(v + h)] for p, v, h in rows}
        check = check_core(game, result.value)
        out["core"] = {"shapley_in_core": check.in_core, "max_excess": check.max_excess,
                       "blocking_coalition": list(check.blocking)}  # fmt: skip
        if game.n <= LP_MAX_PLAYERS:
            lc = least_core(game)
            named = dict(zip(game.players, (round(float(v), 9) for v in nucleolus(game)),
                             strict=True))  # fmt: skip
            out["core"]["empty"] = lc.core_empty
            out["least_core"] = {"epsilon": lc.epsilon, "allocation": dict(
                zip(game.players, map(float, lc.allocation), strict=True))}  # fmt: skip
            out["nucleolus"] = named
        else:
            out["note"] = (
                f"least core and nucleolus are computed for at most {LP_MAX_PLAYERS} players"
            )
        if game.n == 2:
            split = nash_bargaining(game)
            out["nash"] = {"shares": dict(zip(game.players, split.shares, strict=True)),
                           "surplus": split.surplus}  # fmt: skip
    except DomainError as exc:
        fail(str(exc))
    emit_json(out)


# --- escrow ---------------------------------------------------------------------------------------
ORDERS = typer.Argument(..., help="Order ids.")


@escrow_app.command("capture")
def escrow_capture(
    orders: list[int] = ORDERS, platform: str | None = PLATFORM, fee_rate: str = FEE,
    at: str | None = AT, as_json: bool = JSON_OPTION,
) -> None:  # fmt: skip
    """Capture into escrow what was paid for each fully paid order."""
    terms, when = _terms(platform, fee_rate), _time(at)
    _report(_run(lambda uow: svc.capture_paid(uow, terms, orders, when)), as_json, "capture")


@escrow_app.command("tax")
def escrow_tax(
    order: int = typer.Argument(...), amount: str = typer.Option(..., help="Tax (decimal)."),
    authority: str = typer.Option(..., help="Customs authority party id."),
    platform: str | None = PLATFORM, at: str | None = AT, as_json: bool = JSON_OPTION,
) -> None:  # fmt: skip
    """DDP: withhold duties and taxes in escrow (remitted at clearance by `remit`)."""
    terms, when = _terms(platform, "0"), _time(at)

    def act(uow: UnitOfWork) -> svc.PostResult:
        return svc.withhold_tax_for(uow, terms, order, amount, authority, when)

    _report(_run(act), as_json, "tax withheld")


@escrow_app.command("remit")
def escrow_remit(
    orders: list[int] = ORDERS, at: str | None = AT, as_json: bool = JSON_OPTION
) -> None:
    """Clearance: pay the withheld taxes to the authority."""
    when = _time(at)
    _report(_run(lambda uow: svc.remit_taxes(uow, orders, when)), as_json, "tax remitted")


@escrow_app.command("deliver")
def escrow_deliver(
    orders: list[int] = ORDERS, at: str | None = AT,
    responsible: str | None = typer.Option(None, help="Party whose SLA covers the delivery."),
    penalty_per_day: int = typer.Option(100, min=0, help="Late penalty, minor units per day."),
    penalty_cap: int = typer.Option(1000, min=0, help="Late penalty cap, minor units."),
    platform: str | None = PLATFORM, fee_rate: str = FEE, as_json: bool = JSON_OPTION,
) -> None:  # fmt: skip
    """Delivered: reserve the seller's release and the fee; charge lateness to --responsible."""
    terms, when = _terms(platform, fee_rate), _time(at) or datetime.now(UTC)
    frame = pl.DataFrame({"order_id": orders, "delivered_at": [when] * len(orders),
                          "responsible": [responsible] * len(orders)},
                         schema={"order_id": pl.Int64, "delivered_at": pl.Datetime("us", "UTC"),
                                 "responsible": pl.String})  # fmt: skip
    sla = SlaTerms(penalty_per_day, penalty_cap)
    _report(
        _run(lambda uow: svc.mark_delivered(uow, terms, frame, sla, when)), as_json, "delivered"
    )


@escrow_app.command("confirm")
def escrow_confirm(
    orders: list[int] = ORDERS, at: str | None = AT, as_json: bool = JSON_OPTION
) -> None:
    """The buyer confirms delivery: release the seller's proceeds and the fee."""
    when = _time(at)
    _report(_run(lambda uow: svc.confirm_delivery(uow, orders, when)), as_json, "confirmed")


@escrow_app.command("auto-confirm")
def escrow_auto_confirm(
    days: int = typer.Option(7, min=0, help="Days after delivery."), at: str | None = AT,
    platform: str | None = PLATFORM, as_json: bool = JSON_OPTION,
) -> None:  # fmt: skip
    """Confirm every delivery older than --days that the buyer has not confirmed."""
    terms, when = _terms(platform, "0", days), _time(at)
    _report(_run(lambda uow: svc.auto_confirm(uow, terms, when)), as_json, "auto-confirmed")


@escrow_app.command("refund")
def escrow_refund(
    orders: list[int] = ORDERS,
    reason: str = typer.Option("return", help="return | unshipped"),
    platform: str | None = PLATFORM, at: str | None = AT, as_json: bool = JSON_OPTION,
) -> None:  # fmt: skip
    """Refund: void reservations, return what escrow holds; after release, from the seller."""
    if reason not in ("return", "unshipped"):
        fail(f"--reason: must be 'return' or 'unshipped', got {reason!r}")
    terms, when = _terms(platform, "0"), _time(at)
    _report(_run(lambda uow: svc.refund_orders(uow, terms, orders, f"refund.{reason}", when)),
            as_json, "refunded")  # fmt: skip


@escrow_app.command("lost")
def escrow_lost(
    orders: list[int] = ORDERS,
    custodian: str | None = typer.Option(None, help="Party holding custody when it was lost or "
                                         "damaged (default: as the trace record shows)."),
    platform: str | None = PLATFORM, at: str | None = AT, as_json: bool = JSON_OPTION,
) -> None:  # fmt: skip
    """Loss or damage: refund the buyer, charge the custodian, compensate the seller."""
    terms, when = _terms(platform, "0"), _time(at)
    if custodian is None:
        _report(_run(lambda uow: svc.compensate_from_trace(uow, terms, orders, when)), as_json,
                "lost (custody from the trace record)")  # fmt: skip
        return
    frame = pl.DataFrame({"order_id": orders, "custodian": [custodian] * len(orders)})
    _report(_run(lambda uow: svc.compensate_loss(uow, terms, frame, when)), as_json, "lost")


@escrow_app.command("show")
def escrow_show(orders: list[int] = ORDERS, as_json: bool = JSON_OPTION) -> None:
    """Each order's escrow state and every transfer that explains it."""
    state, moves = _run(lambda uow: (svc.escrow_state(uow, orders),
                                     svc.ledger(uow).order_transfers(orders)))  # fmt: skip
    if as_json:
        emit_json({"state": state.drop("delivered_at").to_dicts(), "transfers": moves.to_dicts()})
        return
    console.print(table(state.drop("delivered_at").to_dicts(), "Escrow state (minor units)"))
    console.print(table(moves.to_dicts(), "Transfers"))
