"""``xborder settle`` end to end on an SQLite store."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

import xborder.cli.settle_views as settle_views
from tests.settlement.lifecycle_store import LANE_CARRIER, PROVIDER, Store, build
from tests.settlement.test_escrow import FEE, PAID, _orders
from xborder.bootstrap import bootstrap
from xborder.cli.main import app
from xborder.domain.world import World
from xborder.store.engine import make_engine
from xborder.store.migrate import upgrade

runner = CliRunner()


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("XBORDER_DATABASE_URL", url)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def test_shapley_prints_json_with_core_nucleolus_and_nash(tmp_path: Path) -> None:
    game = tmp_path / "game.json"
    game.write_text(json.dumps({"players": ["shop", "line"],
                                "values": {"line,shop": 6, "shop": 1, "line": 2}}))  # fmt: skip
    result = runner.invoke(app, ["settle", "shapley", str(game)])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["shapley"] == {"shop": 2.5, "line": 3.5}
    assert out["core"]["shapley_in_core"] and not out["core"]["empty"]
    assert out["nucleolus"] == pytest.approx({"shop": 2.5, "line": 3.5})
    assert out["nash"]["shares"] == {"shop": 2.5, "line": 3.5}


def test_shapley_refuses_a_bad_game_with_the_field(tmp_path: Path) -> None:
    game = tmp_path / "game.json"
    game.write_text(json.dumps({"players": ["a", "b"], "values": {"a": 1, "a,b": 2}}))
    result = runner.invoke(app, ["settle", "shapley", str(game)])
    assert result.exit_code == 2
    assert "values['b']: missing" in result.stderr and "Traceback" not in result.output


def test_escrow_commands_and_statement(store: str) -> None:
    engine = make_engine(store)
    (order,) = _orders(engine, 1)
    engine.dispose()
    args = ["--platform", "plat", "--at", "2026-11-24T12:00:00+00:00"]
    steps = [
        ["settle", "escrow", "capture", str(order), *args],
        ["settle", "escrow", "deliver", str(order), *args],
        ["settle", "escrow", "confirm", str(order), "--at", "2026-11-25T00:00:00+00:00"],
    ]
    for step in steps:
        result = runner.invoke(app, [*step, "--json"])
        assert result.exit_code == 0, result.output
    again = runner.invoke(app, [*steps[0], "--json"])
    assert json.loads(again.stdout) == {"posted": 0, "already_posted": 1}
    result = runner.invoke(app, ["settle", "statement", "seller-sz-gadgets", "--json"])
    assert result.exit_code == 0, result.output
    (account,) = json.loads(result.stdout)["accounts"]
    assert account["closing"] == f"{(PAID - FEE) / 100:.2f} EUR"
    period = runner.invoke(app, ["settle", "statement", "plat", "--from", "2026-11-25",
                                 "--to", "2026-11-26", "--json"])  # fmt: skip
    escrow = next(a for a in json.loads(period.stdout)["accounts"] if ":escrow:" in a["account"])
    assert escrow["opening"] == f"{PAID / 100:.2f} EUR" and escrow["closing"] == "0.00 EUR"
    bad = runner.invoke(app, ["settle", "statement", "plat", "--from", "yesterday"])
    assert bad.exit_code == 2 and "--from" in bad.stderr
    refund = runner.invoke(app, ["settle", "escrow", "refund", str(order), "--platform", "plat",
                                 "--reason", "unshipped"])  # fmt: skip
    assert refund.exit_code == 2 and "already released" in refund.stderr
    back = runner.invoke(app, ["settle", "escrow", "refund", str(order), "--platform", "plat",
                               "--json"])  # fmt: skip
    assert json.loads(back.stdout) == {"posted": 2, "already_posted": 0}  # a return after release


@pytest.fixture
def settled(store: str, demo_world: World, monkeypatch: pytest.MonkeyPatch) -> Store:
    """The lifecycle store on the CLI's database, with the CLI on the store's settable clock."""
    engine = make_engine(store)
    built = build(engine, demo_world)
    monkeypatch.setattr(settle_views, "platform", lambda: bootstrap(store, clock=built.clock))
    return built


def _legible(output: str) -> None:
    """A person's view at 80 columns: no line wider, no raw minor units, no account codes."""
    lines = output.splitlines()
    assert lines and max(len(line) for line in lines) <= 80, output
    assert re.search(r"\b(2838|2448|15860)\b", output) is None, output
    assert ":receivable:" not in output and ":proceeds:" not in output


def test_lifecycle_statement_balances_and_escrow_read_at_80_columns(settled: Store) -> None:
    first = runner.invoke(app, ["settle", "lifecycle", "--platform", PROVIDER, "--json"])
    assert first.exit_code == 0, first.output
    out = json.loads(first.stdout)
    assert out["settled"] == out["totals"] and out["settled"]["linehaul_paid"] == 5
    # no --platform: the party already holding escrow (not the first provider by id)
    again = runner.invoke(app, ["settle", "lifecycle"])
    assert again.exit_code == 0, again.output
    assert "0 transfers posted." in again.stdout
    _legible(again.stdout)
    carrier = runner.invoke(app, ["settle", "statement", LANE_CARRIER, "--entries"])
    assert carrier.exit_code == 0, carrier.output
    _legible(carrier.stdout)
    assert "793.00 CNY" in carrier.stdout  # 5 x 158.60 CNY of line-haul freight
    assert "line-haul freight" in carrier.stdout and "XB000000000001" in carrier.stdout
    assert "loss or damage" in carrier.stdout and "-24.48 EUR" in carrier.stdout
    listed = runner.invoke(app, ["settle", "balances"])
    assert listed.exit_code == 0, listed.output
    _legible(listed.stdout)
    assert "lp-meridian-express" in listed.stdout and "-24.48 EUR" in listed.stdout
    shown = runner.invoke(app, ["settle", "escrow", "show", str(settled.ids["D"])])
    assert shown.exit_code == 0, shown.output
    _legible(shown.stdout)
    assert "refund to the buyer (lost or damaged)" in shown.stdout and "28.38 EUR" in shown.stdout
    raw = runner.invoke(app, ["settle", "statement", LANE_CARRIER, "--entries", "--json"])
    entries = json.loads(raw.stdout)["entries"]
    assert {e["amount"] for e in entries if e["code"] == "partner.pay.lane"} == {15860}
