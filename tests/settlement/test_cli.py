"""``xborder settle`` end to end on an SQLite store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.settlement.test_escrow import FEE, PAID, _orders
from xborder.cli.main import app
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
    args = ["--platform", "plat", "--at", "2026-11-24T12:00:00"]
    steps = [
        ["settle", "escrow", "capture", str(order), *args],
        ["settle", "escrow", "deliver", str(order), *args],
        ["settle", "escrow", "confirm", str(order), "--at", "2026-11-25"],
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
