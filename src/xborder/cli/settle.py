"""``xborder settle``: statements and balances, the escrow lifecycle, and the benefit split.

Every command hands its use case ``platform().uow()`` (the use case commits itself). Default views
are for a person at 80 columns: names and formatted money, never raw minor units; ``--json`` (and
``--verbose`` where offered) add ids and machine forms. The settlement service and polars are
imported inside the commands, so ``xborder --help`` stays fast.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich import box
from rich.table import Table

from xborder.cli.common import JSON_OPTION, console, emit_json, fail, parse_time, platform
from xborder.domain.errors import DomainError
from xborder.domain.money import Money

if TYPE_CHECKING:
    from xborder.services.settlement import EscrowTerms, PostResult

app = typer.Typer(help="Ledger, escrow and the benefit split between partners.",
                  no_args_is_help=True)  # fmt: skip
escrow_app = typer.Typer(help="The escrow lifecycle of orders.", no_args_is_help=True)
app.add_typer(escrow_app, name="escrow")

T = TypeVar("T")
PLATFORM = typer.Option(None, "--platform", help="Escrow holder (default: the one holding "
                        "escrow already, else the first payment provider).")  # fmt: skip
FEE = typer.Option("0.05", "--fee-rate", help="Platform fee on the goods value.")
AT = typer.Option(None, "--at", help="When (ISO date or time, UTC; default: now).")
VERBOSE = typer.Option(False, "--verbose", "-v", help="Show transfer ids and counterparties.")


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{option}: not an ISO date (YYYY-MM-DD): {value!r}")


def _run(action: Callable[[Any], T]) -> T:
    """One use case on the configured platform; domain errors become a message, not a traceback."""
    try:
        return action(platform().uow())
    except DomainError as exc:
        fail(str(exc))


def _terms(platform_id: str | None, fee_rate: str, auto_days: int = 7) -> EscrowTerms:
    from xborder.services import settlement as svc

    try:
        rate = Decimal(fee_rate)
    except InvalidOperation:
        fail(f"--fee-rate: not a decimal number: {fee_rate!r}")
    if platform_id is None:
        platform_id = _run(svc.escrow_holder)
        if platform_id is None:
            fail("--platform: no payment provider in the store; run `xborder init` or pass it")
    try:
        return svc.EscrowTerms(platform=platform_id, fee_rate=rate, auto_confirm_days=auto_days)
    except DomainError as exc:
        fail(str(exc))


def _grid(title: str | None, *columns: str, right: tuple[str, ...] = ()) -> Table:
    """A borderless table that fits 80 columns (long cells fold instead of widening it)."""
    grid = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, title_justify="left")
    for name in columns:
        grid.add_column(name, overflow="fold", justify="right" if name in right else "left")
    return grid


def _money(minor: int, currency: str, signed: bool = False) -> str:
    text = str(Money.from_minor(int(minor), currency))
    return f"+{text}" if signed and minor > 0 else text


def _amount(transfer: dict[str, Any], signed: bool = False) -> str:
    """A transfer's amount; a reservation says so, a cancelled one moves nothing."""
    if transfer["kind"] == "void":
        return ""
    text = _money(transfer["amount"], transfer["currency"], signed)
    return f"{text} (reserved)" if transfer["kind"] == "pending" else text


def _texts(record: Any) -> dict[str, Any]:
    """A result dataclass as JSON-ready fields, money as its text ("12.30 EUR")."""
    values = {f.name: getattr(record, f.name) for f in fields(record)}
    return {k: str(v) if isinstance(v, Money) else v for k, v in values.items()}


def _report(result: PostResult, as_json: bool, what: str) -> None:
    if as_json:
        emit_json({"posted": result.posted, "already_posted": len(result.existing)})
    else:
        console.print(f"{what}: {result.posted} transfers posted, "
                      f"{len(result.existing)} already posted.")  # fmt: skip


# --- statements and balances ----------------------------------------------------------------------
@app.command()
def statement(
    party: str = typer.Argument(..., help="Party id."),
    since: str | None = typer.Option(None, "--from", help="First day (YYYY-MM-DD), inclusive."),
    until: str | None = typer.Option(None, "--to", help="Last day (YYYY-MM-DD), exclusive."),
    entries: bool = typer.Option(False, "--entries", help="List every transfer too."),
    verbose: bool = VERBOSE,
    as_json: bool = JSON_OPTION,
) -> None:
    """A party's accounts over a period, what moved each balance, and (--entries) every entry."""
    from xborder.services import settlement as svc

    start, end = _day(since, "--from"), _day(until, "--to")
    st = _run(lambda uow: svc.statement(uow, svc.StatementQuery(party, start, end, entries)))
    if as_json:
        emit_json({"party": party, "from": since, "to": until,
                   "accounts": [_texts(s) for s in st.lines],
                   "movements": [_texts(m) for m in st.movements],
                   "entries": st.entries.to_dicts() if st.entries.height else []})  # fmt: skip
        return
    if not st.lines:
        console.print(f"No accounts for party {party!r}.")
        return
    period = " ".join(x for x in (f"from {since}" if since else "",
                                  f"to {until}" if until else "") if x) or "all time"  # fmt: skip

    def short(account: str) -> str:  # the party is in the title: "proceeds EUR"
        return " ".join(account.split(":")[1:])

    accounts = _grid(f"Statement of {party}, {period}", "account", "opening", "out", "in",
                     "closing", right=("opening", "out", "in", "closing"))  # fmt: skip
    for s in st.lines:
        accounts.add_row(short(s.account), str(s.opening), str(s.debits), str(s.credits),
                         str(s.closing))  # fmt: skip
    console.print(accounts)
    pending = [s for s in st.lines if not (s.pending_out.is_zero() and s.pending_in.is_zero())]
    if pending:
        reserved = _grid("Reserved (pending, not yet money)", "account", "out", "in",
                         right=("out", "in"))  # fmt: skip
        for s in pending:
            reserved.add_row(short(s.account), str(s.pending_out), str(s.pending_in))
        console.print(reserved)
    moved = _grid("What moved the balances", "account", "what", "n", "amount",
                  right=("n", "amount"))  # fmt: skip
    for m in st.movements:
        amount = _money(m.amount.minor, m.amount.currency, signed=True)
        moved.add_row(short(m.account), m.what, str(m.transfers), amount)
    console.print(moved)
    if entries and st.entries.height:
        columns = ("date", "description", "amount") + (("id", "counterparty") if verbose else ())
        listed = _grid("Entries", *columns, right=("amount",))
        for e in st.entries.iter_rows(named=True):
            row = [e["at"].date().isoformat(), e["description"], _amount(e, signed=True)]
            if verbose:
                row += [e["id"], e["counterparty"]]
            listed.add_row(*row)
        console.print(listed)


@app.command()
def balances(
    party: str | None = typer.Option(None, help="Only this party's accounts."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Every ledger account with its posted balance (credit-positive) and pending sums."""
    from xborder.services import settlement as svc

    frame = _run(lambda uow: svc.balances(uow, svc.Balances(party)))
    if as_json:
        emit_json(frame.to_dicts())
        return
    if frame.height == 0:
        console.print("No ledger accounts yet." if party is None else f"No accounts for {party!r}.")
        return
    grid = _grid("Ledger balances", "party", "account", "balance", "pending",
                 right=("balance", "pending"))  # fmt: skip
    for r in frame.sort("party", "purpose", "currency").iter_rows(named=True):
        cur = r["currency"]
        pending = [
            f"out {_money(r['debits_pending'], cur)}" if r["debits_pending"] else "",
            f"in {_money(r['credits_pending'], cur)}" if r["credits_pending"] else "",
        ]
        grid.add_row(r["party"], f"{r['purpose']} {cur}", _money(r["balance"], cur),
                     "\n".join(p for p in pending if p))  # fmt: skip
    console.print(grid)


@app.command()
def lifecycle(
    platform_id: str | None = PLATFORM, fee_rate: str = FEE,
    auto_days: int = typer.Option(7, min=0, help="Days after delivery the buyer confirms."),
    penalty_per_day: int = typer.Option(100, min=0, help="Late penalty per day (minor units "
                                        "of the order's currency)."),
    penalty_cap: int = typer.Option(1000, min=0, help="Late penalty cap (minor units)."),
    as_json: bool = JSON_OPTION,
) -> None:  # fmt: skip
    """Settle every milestone the store shows (capture, taxes, partners, deliveries, losses)."""
    from xborder.services import settlement as svc

    terms = _terms(platform_id, fee_rate, auto_days)
    try:
        sla = svc.SlaTerms(penalty_per_day, penalty_cap)
    except DomainError as exc:
        fail(str(exc))
    done = _run(lambda uow: svc.settle_lifecycle(uow, svc.SettleLifecycle(terms, sla)))
    totals = _run(svc.settlement_counts)
    if as_json:
        emit_json({"settled": done.counters(), "transfers": done.transfers, "totals": totals,
                   "losses_unassigned": list(done.losses_unassigned)})  # fmt: skip
        return
    grid = _grid(f"Settled at {done.at:%Y-%m-%d %H:%M} UTC", "milestone", "new", "all",
                 right=("new", "all"))  # fmt: skip
    for name, count in done.counters().items():
        grid.add_row(name.replace("_", " "), str(count), str(totals[name]))
    console.print(grid)
    console.print(f"{done.transfers} transfers posted.")
    if done.losses_unassigned:
        console.print(f"{len(done.losses_unassigned)} lost or damaged orders name no custodian "
                      "in the trace record: left for a person to decide.")  # fmt: skip


@app.command("shapley")
def shapley_(
    game_file: Path = typer.Argument(..., metavar="GAME.json", help="The game as JSON."),
    samples: int = typer.Option(20_000, min=2, help="Permutations when sampling (> 20 players)."),
    seed: int = typer.Option(0, help="Sampling seed."),
) -> None:
    """Shapley value, core check, least core, nucleolus, Nash split (2 players): JSON."""
    from xborder.services import settlement as svc

    try:
        out = svc.split_benefit(svc.SplitBenefit(game_file, samples, seed))
    except DomainError as exc:
        fail(str(exc))
    emit_json(out)


# --- escrow ---------------------------------------------------------------------------------------
ORDERS = typer.Argument(..., help="Order ids.")


@escrow_app.command("capture")
def escrow_capture(
    orders: list[int] = ORDERS, platform_id: str | None = PLATFORM, fee_rate: str = FEE,
    at: str | None = AT, as_json: bool = JSON_OPTION,
) -> None:  # fmt: skip
    """Capture into escrow what was paid for each fully paid order."""
    from xborder.services import settlement as svc

    command = svc.CapturePaid(_terms(platform_id, fee_rate), orders, parse_time(at, "--at"))
    _report(_run(lambda uow: svc.capture_paid(uow, command)), as_json, "capture")


@escrow_app.command("tax")
def escrow_tax(
    order: int = typer.Argument(...), amount: str = typer.Option(..., help="Tax (decimal)."),
    authority: str = typer.Option(..., help="Customs authority party id."),
    platform_id: str | None = PLATFORM, at: str | None = AT, as_json: bool = JSON_OPTION,
) -> None:  # fmt: skip
    """DDP: withhold duties and taxes in escrow (remitted at clearance by `remit`)."""
    from xborder.services import settlement as svc

    command = svc.WithholdTax(
        _terms(platform_id, "0"), order, amount, authority, parse_time(at, "--at")
    )
    _report(_run(lambda uow: svc.withhold_tax_for(uow, command)), as_json, "tax withheld")


@escrow_app.command("remit")
def escrow_remit(
    orders: list[int] = ORDERS, at: str | None = AT, as_json: bool = JSON_OPTION
) -> None:
    """Clearance: pay the withheld taxes to the authority."""
    from xborder.services import settlement as svc

    command = svc.RemitTaxes(orders, parse_time(at, "--at"))
    _report(_run(lambda uow: svc.remit_taxes(uow, command)), as_json, "tax remitted")


@escrow_app.command("deliver")
def escrow_deliver(
    orders: list[int] = ORDERS, at: str | None = AT,
    responsible: str | None = typer.Option(None, help="Party whose SLA covers the delivery."),
    penalty_per_day: int = typer.Option(100, min=0, help="Late penalty, minor units per day."),
    penalty_cap: int = typer.Option(1000, min=0, help="Late penalty cap, minor units."),
    platform_id: str | None = PLATFORM, fee_rate: str = FEE, as_json: bool = JSON_OPTION,
) -> None:  # fmt: skip
    """Delivered: reserve the seller's release and the fee; charge lateness to --responsible."""
    import polars as pl

    from xborder.services import settlement as svc

    terms, when = _terms(platform_id, fee_rate), parse_time(at, "--at")  # no --at: the clock's now
    frame = pl.DataFrame({"order_id": orders, "delivered_at": [when] * len(orders),
                          "responsible": [responsible] * len(orders)},
                         schema={"order_id": pl.Int64, "delivered_at": pl.Datetime("us", "UTC"),
                                 "responsible": pl.String})  # fmt: skip
    command = svc.MarkDelivered(terms, frame, svc.SlaTerms(penalty_per_day, penalty_cap))
    _report(_run(lambda uow: svc.mark_delivered(uow, command)), as_json, "delivered")


@escrow_app.command("confirm")
def escrow_confirm(
    orders: list[int] = ORDERS, at: str | None = AT, as_json: bool = JSON_OPTION
) -> None:
    """The buyer confirms delivery: release the seller's proceeds and the fee."""
    from xborder.services import settlement as svc

    command = svc.ConfirmDelivery(orders, parse_time(at, "--at"))
    _report(_run(lambda uow: svc.confirm_delivery(uow, command)), as_json, "confirmed")


@escrow_app.command("auto-confirm")
def escrow_auto_confirm(
    days: int = typer.Option(7, min=0, help="Days after delivery."), at: str | None = AT,
    platform_id: str | None = PLATFORM, as_json: bool = JSON_OPTION,
) -> None:  # fmt: skip
    """Confirm every delivery older than --days that the buyer has not confirmed."""
    from xborder.services import settlement as svc

    command = svc.AutoConfirm(_terms(platform_id, "0", days), parse_time(at, "--at"))
    _report(_run(lambda uow: svc.auto_confirm(uow, command)), as_json, "auto-confirmed")


@escrow_app.command("refund")
def escrow_refund(
    orders: list[int] = ORDERS,
    reason: str = typer.Option("return", help="return | unshipped"),
    platform_id: str | None = PLATFORM, at: str | None = AT, as_json: bool = JSON_OPTION,
) -> None:  # fmt: skip
    """Refund: void reservations, return what escrow holds; after release, from the seller."""
    from xborder.services import settlement as svc

    if reason not in ("return", "unshipped"):
        fail(f"--reason: must be 'return' or 'unshipped', got {reason!r}")
    command = svc.RefundOrders(
        _terms(platform_id, "0"), orders, f"refund.{reason}", parse_time(at, "--at")
    )
    _report(_run(lambda uow: svc.refund_orders(uow, command)), as_json, "refunded")


@escrow_app.command("lost")
def escrow_lost(
    orders: list[int] = ORDERS,
    custodian: str | None = typer.Option(None, help="Party holding custody when it was lost or "
                                         "damaged (default: as the trace record shows)."),
    platform_id: str | None = PLATFORM, at: str | None = AT, as_json: bool = JSON_OPTION,
) -> None:  # fmt: skip
    """Loss or damage: refund the buyer, charge the custodian, compensate the seller."""
    import polars as pl

    from xborder.services import settlement as svc

    terms, when = _terms(platform_id, "0"), parse_time(at, "--at")
    if custodian is None:
        traced = svc.CompensateFromTrace(terms, orders, when)
        _report(_run(lambda uow: svc.compensate_from_trace(uow, traced)), as_json,
                "lost (custody from the trace record)")  # fmt: skip
        return
    frame = pl.DataFrame({"order_id": orders, "custodian": [custodian] * len(orders)})
    command = svc.CompensateLoss(terms, frame, when)
    _report(_run(lambda uow: svc.compensate_loss(uow, command)), as_json, "lost")


@escrow_app.command("show")
def escrow_show(
    orders: list[int] = ORDERS, verbose: bool = VERBOSE, as_json: bool = JSON_OPTION
) -> None:
    """Each order's escrow position and every transfer that explains it."""
    from xborder.services import settlement as svc

    state = _run(lambda uow: svc.escrow_state(uow, svc.EscrowState(orders)))
    moves = _run(lambda uow: svc.order_transfers(uow, svc.OrderTransfers(orders)))
    if as_json:
        emit_json({"state": state.drop("delivered_at").to_dicts(), "transfers": moves.to_dicts()})
        return
    currency = {o: c for o, c in moves.select("order_id", "currency").rows() if c}
    grid = _grid("Escrow", "order", "captured", "paid out", "refunded", "held", "free",
                 right=("captured", "paid out", "refunded", "held", "free"))  # fmt: skip
    for r in state.iter_rows(named=True):
        cur = currency.get(r["order_id"])
        if cur is None:
            grid.add_row(str(r["order_id"]), "nothing in escrow", "", "", "", "")
            continue
        paid_out = r["released"] + r["fee_posted"] + r["tax_remitted"]
        grid.add_row(str(r["order_id"]), *(_money(v, cur) for v in (
            r["captured"], paid_out, r["refunded"], r["held"], r["free"])))  # fmt: skip
    console.print(grid)
    if moves.height:
        columns = ("date", "description", "amount") + (("id", "from", "to") if verbose else ())
        listed = _grid("Transfers", *columns, right=("amount",))
        for m in moves.sort("at", maintain_order=True).iter_rows(named=True):
            row = [m["at"].date().isoformat(), m["description"], _amount(m)]
            if verbose:
                row += [m["id"], m["debit"], m["credit"]]
            listed.add_row(*row)
        console.print(listed)
