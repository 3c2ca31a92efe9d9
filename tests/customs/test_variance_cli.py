"""``xborder customs assess`` and ``xborder customs variance`` on an SQLite store, at 80 columns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.customs.test_declarations import cn_order
from tests.factories import make_order
from xborder.cli.customs import app
from xborder.services.capture import capture_order
from xborder.store.engine import make_engine
from xborder.store.uow import UnitOfWork

runner = CliRunner()


@pytest.fixture
def declared(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, int]]:
    """Two declared orders (CN in CNY, DE in EUR); their kept quotes by order number."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    monkeypatch.setenv("XBORDER_DATABASE_URL", url)
    monkeypatch.setenv("COLUMNS", "80")
    assert runner.invoke(app, ["declare", "1"]).exit_code == 0  # migrates the empty store
    engine = make_engine(url)
    with UnitOfWork(engine) as uow:
        ids = [capture_order(uow, o).order_id for o in (cn_order("CN-A", "1000.00"), make_order())]
        uow.commit()
    assert runner.invoke(app, ["declare", *map(str, ids)]).exit_code == 0
    with UnitOfWork(engine) as uow:
        found = uow.customs.get_many(["CN-A", "ORD-1"])
        quotes = uow.customs.quotes([int(d["id"]) for d in found.values()])
    engine.dispose()
    return {no: quotes[int(d["id"])] for no, d in found.items()}


def _amount(minor: int) -> str:
    return f"{minor / 100:.2f}"


def test_assess_then_report_the_variance(declared: dict[str, dict[str, int]]) -> None:
    cn = declared["CN-A"]
    vat = _amount(cn["vat_minor"] + 250)
    excise = _amount(cn["consumption_tax_minor"])
    args = ["assess", "CN-A", "TAX-1", "--vat", vat, "--consumption-tax", excise,
            "--reason", "uplift"]  # fmt: skip
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    lines = first.output.splitlines()
    assert lines[0] == "CN-A: customs TAX-1 recorded."
    assert "variance 2.50 CNY" in lines[1] and all(len(x) <= 80 for x in lines)
    again = runner.invoke(app, [*args, "--json"])
    body = json.loads(again.output)
    assert body["created"] is False and body["variance_minor"] == 250
    de = declared["ORD-1"]
    parts = {
        f"--{k.removesuffix('_minor').replace('_', '-')}": _amount(de[k])
        for k in ("duty_minor", "additional_duty_minor", "vat_minor", "fees_minor")
    }
    opts = [x for pair in parts.items() for x in pair]
    same = runner.invoke(app, ["assess", "ORD-1", "INV-7", "--source", "carrier", *opts])
    assert same.exit_code == 0, same.output
    view = runner.invoke(app, ["variance"])
    assert view.exit_code == 0, view.output
    rows = view.output.splitlines()
    assert rows[0].split() == ["Market", "n", "quoted", "assessed", "variance"]
    cn_row = next(r for r in rows if r.startswith("CN "))
    assert "CNY" in cn_row and cn_row.split()[-1].startswith("+")  # a rate, never minor units
    de_row = next(r for r in rows if r.startswith("DE "))
    assert "EUR" in de_row and de_row.split()[-1] == "+0.0%"
    assert all(len(r) <= 80 for r in rows) and "Traceback" not in view.output
    data = json.loads(runner.invoke(app, ["variance", "--by", "hs-chapter", "--json"]).output)
    by = {(r["group"], r["currency"]): r for r in data}
    assert by[("33", "CNY")]["variance_minor"] == 250
    assert {k[1] for k in by} == {"CNY", "EUR"}
    lane = json.loads(runner.invoke(app, ["variance", "--by", "lane", "--json"]).output)
    assert {r["group"] for r in lane} == {"unplanned"}


@pytest.mark.parametrize(
    ("args", "where"),
    [
        (["variance", "--by", "seller"], "--by"),
        (["variance", "--since", "yesterday"], "--since"),
        (["variance", "--source", "broker"], "source"),
        (["assess", "CN-A", "TAX-1", "--vat", "abc"], "vat"),
        (["assess", "CN-A", "TAX-1", "--currency", "EUR"], "currency"),
        (["assess", "CN-A", "TAX-1", "--source", "broker"], "source"),
    ],
)
def test_bad_input_exits_2_naming_the_place(
    declared: dict[str, dict[str, int]], args: list[str], where: str
) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert where in result.output and "Traceback" not in result.output


def test_an_unknown_order_exits_1(declared: dict[str, dict[str, int]]) -> None:
    result = runner.invoke(app, ["assess", "NOPE", "TAX-1"])
    assert result.exit_code == 1 and "no declaration for order 'NOPE'" in result.output
