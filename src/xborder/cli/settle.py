"""``xborder settle``: statements and balances, the escrow lifecycle, and the benefit split.

Every command hands its use case ``platform().uow()`` (the use case commits itself). Default views
are for a person at 80 columns: names and formatted money, never raw minor units; ``--json`` (and
``--verbose`` where offered) add ids and machine forms. The settlement service and polars are
imported inside the commands, so ``xborder --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path

import typer

from xborder.cli.common import JSON_OPTION, console, emit_json, fail
from xborder.cli.settle_escrow import escrow_app
from xborder.cli.settle_views import (
    FEE,
    PLATFORM,
    VERBOSE,
    amount_text,
    escrow_terms,
    make_grid,
    money_text,
    parse_day,
    print_check,
    run,
    texts,
)
from xborder.domain.errors import DomainError

app = typer.Typer(help="Ledger, escrow and the benefit split between partners.",
                  no_args_is_help=True)  # fmt: skip
app.add_typer(escrow_app, name="escrow")


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

    start, end = parse_day(since, "--from"), parse_day(until, "--to")
    st = run(lambda uow: svc.statement(uow, svc.StatementQuery(party, start, end, entries)))
    if as_json:
        emit_json({"party": party, "from": since, "to": until,
                   "accounts": [texts(s) for s in st.lines],
                   "movements": [texts(m) for m in st.movements],
                   "entries": st.entries.to_dicts() if st.entries.height else []})  # fmt: skip
        return
    if not st.lines:
        console.print(f"No accounts for party {party!r}.")
        return
    period = " ".join(x for x in (f"from {since}" if since else "",
                                  f"to {until}" if until else "") if x) or "all time"  # fmt: skip

    def short(account: str) -> str:  # the party is in the title: "proceeds EUR"
        return " ".join(account.split(":")[1:])

    accounts = make_grid(f"Statement of {party}, {period}", "account", "opening", "out", "in",
                     "closing", right=("opening", "out", "in", "closing"))  # fmt: skip
    for s in st.lines:
        accounts.add_row(short(s.account), str(s.opening), str(s.debits), str(s.credits),
                         str(s.closing))  # fmt: skip
    console.print(accounts)
    pending = [s for s in st.lines if not (s.pending_out.is_zero() and s.pending_in.is_zero())]
    if pending:
        reserved = make_grid("Reserved (pending, not yet money)", "account", "out", "in",
                         right=("out", "in"))  # fmt: skip
        for s in pending:
            reserved.add_row(short(s.account), str(s.pending_out), str(s.pending_in))
        console.print(reserved)
    moved = make_grid("What moved the balances", "account", "what", "n", "amount",
                  right=("n", "amount"))  # fmt: skip
    for m in st.movements:
        amount = money_text(m.amount.minor, m.amount.currency, signed=True)
        moved.add_row(short(m.account), m.what, str(m.transfers), amount)
    console.print(moved)
    if entries and st.entries.height:
        columns = ("date", "description", "amount") + (("id", "counterparty") if verbose else ())
        listed = make_grid("Entries", *columns, right=("amount",))
        for e in st.entries.iter_rows(named=True):
            row = [e["at"].date().isoformat(), e["description"], amount_text(e, signed=True)]
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

    frame = run(lambda uow: svc.balances(uow, svc.Balances(party)))
    if as_json:
        emit_json(frame.to_dicts())
        return
    if frame.height == 0:
        console.print("No ledger accounts yet." if party is None else f"No accounts for {party!r}.")
        return
    grid = make_grid("Ledger balances", "party", "account", "balance", "pending",
                 right=("balance", "pending"))  # fmt: skip
    for r in frame.sort("party", "purpose", "currency").iter_rows(named=True):
        cur = r["currency"]
        pending = [
            f"out {money_text(r['debits_pending'], cur)}" if r["debits_pending"] else "",
            f"in {money_text(r['credits_pending'], cur)}" if r["credits_pending"] else "",
        ]
        grid.add_row(r["party"], f"{r['purpose']} {cur}", money_text(r["balance"], cur),
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

    terms = escrow_terms(platform_id, fee_rate, auto_days)
    try:
        sla = svc.SlaTerms(penalty_per_day, penalty_cap)
    except DomainError as exc:
        fail(str(exc))
    done = run(lambda uow: svc.settle_lifecycle(uow, svc.SettleLifecycle(terms, sla)))
    totals = run(svc.settlement_counts)
    if as_json:
        emit_json({"settled": done.counters(), "transfers": done.transfers, "totals": totals,
                   "losses_unassigned": list(done.losses_unassigned)})  # fmt: skip
        return
    grid = make_grid(f"Settled at {done.at:%Y-%m-%d %H:%M} UTC", "milestone", "new", "all",
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


@app.command()
def verify(
    verbose: bool = VERBOSE,
    as_json: bool = JSON_OPTION,
) -> None:
    """Recompute every balance from the transfers and check double entry; exit 1 if off."""
    from xborder.services import settlement as svc

    check = run(lambda uow: svc.verify_ledger(uow, svc.VerifyLedger()))
    if as_json:
        emit_json({
            "ok": check.ok, "accounts": check.accounts, "transfers": check.transfers,
            "mismatched": check.mismatched, "broken": check.broken, "orphans": check.orphans,
            "mismatches": [{"account": m.account, "stored": m.stored,
                            "recomputed": m.recomputed} for m in check.mismatches],
            "broken_transfers": [{"id": b.id, "reason": b.reason}
                                 for b in check.broken_transfers],
        })  # fmt: skip
    else:
        print_check(check, verbose)
    if not check.ok:
        raise typer.Exit(1)
