"""Ledger statements: each party sees its own accounts (the operator may name a party)."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from xborder.api.deps import platform, scoped
from xborder.api.models import MoneyModel, money
from xborder.api.problems import PROBLEM_RESPONSES
from xborder.bootstrap import Platform
from xborder.services.access import Principal
from xborder.services.tenancy import StatementFor, statement_for

router = APIRouter(tags=["ledger"], responses=PROBLEM_RESPONSES)


class StatementLineOut(BaseModel):
    account: str
    opening: MoneyModel
    debits: MoneyModel
    credits: MoneyModel
    closing: MoneyModel
    pending_out: MoneyModel
    pending_in: MoneyModel
    transfers: int


class MovementOut(BaseModel):
    account: str
    code: str
    what: str
    transfers: int
    amount: MoneyModel


class StatementOut(BaseModel):
    party: str
    since: date | None = None
    until: date | None = None
    lines: list[StatementLineOut]
    movements: list[MovementOut]


@router.get("/ledger/statement", response_model=StatementOut,
            summary="Your accounts: opening, movements, closing over [since, until)")  # fmt: skip
def get_statement(
    since: date | None = Query(None, description="first day, inclusive"),
    until: date | None = Query(None, description="last day, exclusive"),
    party: str | None = Query(None, max_length=64, description="operator only: whose"),
    caller: Principal = Depends(scoped("ledger:read")),
    plat: Platform = Depends(platform),
) -> StatementOut:
    found = statement_for(plat.uow(), StatementFor(caller, party, since, until))
    return StatementOut(
        party=found.party, since=found.since, until=found.until,
        lines=[StatementLineOut(
            account=ln.account, opening=money(ln.opening), debits=money(ln.debits),
            credits=money(ln.credits), closing=money(ln.closing),
            pending_out=money(ln.pending_out), pending_in=money(ln.pending_in),
            transfers=ln.transfers) for ln in found.lines],
        movements=[MovementOut(account=m.account, code=m.code, what=m.what,
                               transfers=m.transfers, amount=money(m.amount))
                   for m in found.movements],
    )  # fmt: skip
