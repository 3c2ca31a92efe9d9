"""``xborder customs`` end to end: quote, bulk quote, match, message, parse, the stored flow.

The commands run on an SQLite store chosen by XBORDER_DATABASE_URL and the system clock, at 80
columns; ``--json`` outputs are the machine-readable records, default views are for people.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.customs.ceb_support import ENTERPRISE, records
from tests.customs.test_declarations import cn_order
from tests.factories import make_order
from xborder.cli.customs import app
from xborder.services.capture import capture_order
from xborder.store.engine import make_engine
from xborder.store.uow import UnitOfWork

runner = CliRunner()
ORDER = {
    "date": "2025-06-01",
    "origin": "JP",
    "destination": "CN",
    "incoterm": "DDP",
    "currency": "CNY",
    "freight": 20,
    "lines": [{"hs_code": "330499", "description": "serum", "qty": 1, "unit_price": 500}],
}


@pytest.fixture(autouse=True)
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    monkeypatch.setenv("XBORDER_DATABASE_URL", url)
    monkeypatch.setenv("COLUMNS", "80")
    return url


def legible(output: str) -> str:
    """A default view: fits 80 columns, no raw minor units."""
    assert all(len(line) <= 80 for line in output.splitlines()), output
    assert "_minor" not in output and "Traceback" not in output
    return output


def test_quote_one_order_from_stdin() -> None:
    result = runner.invoke(app, ["quote", "-", "--json"], input=json.dumps(ORDER))
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert (body["channel"], body["vat"], body["total_tax"]) == ("cbec", "47.32", "47.32")
    assert body["rules"][0]["source"].startswith("Cai Guan Shui")


def test_the_default_quote_view_shows_formatted_money() -> None:
    result = runner.invoke(app, ["quote", "-"], input=json.dumps(ORDER))
    assert result.exit_code == 0, result.output
    view = legible(result.output)
    assert "CN cbec on 2025-06-01" in view
    assert "47.32 CNY" in view and "567.32 CNY" in view  # VAT and landed cost
    assert "CN.CBEC.2019" in view and "Cai Guan Shui" not in view
    verbose = runner.invoke(app, ["quote", "-", "--verbose"], input=json.dumps(ORDER))
    assert "Cai Guan Shui [2018] No. 49" in legible(verbose.output)


def test_quote_accepts_json_decimals_exactly(tmp_path: Path) -> None:
    path = tmp_path / "order.json"
    path.write_text(json.dumps({**ORDER, "freight": 20.1}).replace("20.1", "20.10"))
    result = runner.invoke(app, ["quote", str(path), "--json"])
    assert json.loads(result.output)["customs_value"] == "520.10"


def test_a_dateless_request_is_quoted_on_the_given_date() -> None:
    request = {k: v for k, v in ORDER.items() if k != "date"}
    result = runner.invoke(app, ["quote", "-", "--json", "--date", "2018-06-01"],
                           input=json.dumps(request))  # fmt: skip
    body = json.loads(result.output)
    assert body["date"] == "2018-06-01" and body["rules"][0]["id"] == "CN.CBEC.2016"


def test_bulk_quote_writes_one_line_per_record_and_fails_on_a_bad_one(tmp_path: Path) -> None:
    path = tmp_path / "orders.jsonl"
    bad = {**ORDER, "freight": -1}
    path.write_text("\n".join(json.dumps(o) for o in (ORDER, bad, ORDER)))
    result = runner.invoke(app, ["quote", str(path), "--bulk", "--json"])
    assert result.exit_code == 1
    lines = [json.loads(x) for x in result.output.splitlines()]
    assert [x.get("error") for x in lines] == [None, "freight: must be zero or more (got -1)", None]
    assert lines[0]["vat"] == "47.32"
    view = runner.invoke(app, ["quote", str(path), "--bulk"])
    assert view.exit_code == 1
    summary = legible(view.output)
    assert "94.64 CNY" in summary and "1134.64 CNY" in summary  # two orders' tax, landed cost
    assert "2 quoted, 1 not" in summary and "record 2: freight: must be zero" in summary


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        ("{not json", "not valid JSON"),
        (json.dumps({**ORDER, "destination": "BR"}), "destination: no customs regime"),
        (json.dumps({**ORDER, "customs_mode": "1111"}), "customs_mode"),
    ],
)
def test_quote_errors_are_one_clear_line(stdin: str, message: str) -> None:
    result = runner.invoke(app, ["quote", "-"], input=stdin)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def _documents(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    docs = [records("O-1"), records("O-2")]
    docs[1]["CEB411"]["amountPaid"] = "1.00"
    for name, value in (("COP_CODE", ENTERPRISE.cop_code), ("COP_NAME", ENTERPRISE.cop_name),
                        ("DXP_ID", ENTERPRISE.dxp_id)):  # fmt: skip
        monkeypatch.setenv(f"XBORDER_CEB_{name}", value)
    paths = {}
    for kind, code in (
        ("order", "CEB311"),
        ("payment", "CEB411"),
        ("waybill", "CEB511"),
        ("list", "CEB621"),
    ):
        src = tmp_path / f"{kind}.jsonl"
        src.write_text("\n".join(json.dumps(d[code]) for d in docs))
        out = tmp_path / f"{kind}.xml"
        args = ["message", "--type", code, str(src), "-o", str(out), "--unsigned"]
        made = runner.invoke(app, args)
        assert made.exit_code == 0, made.output
        parsed = runner.invoke(app, ["parse", str(out), "--json"])
        assert json.loads(parsed.output)["type"] == code
        view = legible(runner.invoke(app, ["parse", str(out)]).output)
        assert f"{code}, guid" in view and "2 record(s)" in view and "O-2" in view
        paths[kind] = out if kind != "payment" else src  # XML and JSON lines mixed
    return paths


def test_message_parse_and_match_from_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = _documents(tmp_path, monkeypatch)
    args = ["match", "--orders", str(paths["order"]), "--payments", str(paths["payment"]),
            "--waybills", str(paths["waybill"]), "--lists", str(paths["list"]),
            "--date", "2025-06-01"]  # fmt: skip
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 1
    rows = [json.loads(x) for x in result.output.splitlines()]
    assert [(r["orderNo"], r["status"]) for r in rows] == [("O-1", "matched"), ("O-2", "mismatch")]
    assert rows[1]["problems"][0]["rule"] == "payment_amount"
    view = runner.invoke(app, args)
    assert view.exit_code == 1
    table = legible(view.output)
    assert "payment_amount amountPaid" in table and "matched 1, mismatch 1" in table


def test_parse_rejects_malformed_xml(tmp_path: Path) -> None:
    path = tmp_path / "bad.xml"
    path.write_text("<ceb:CEB311Message")
    result = runner.invoke(app, ["parse", str(path)])
    assert result.exit_code == 2 and "malformed XML" in result.output


def test_declare_receipts_match_and_return_on_the_store(store: str) -> None:
    assert runner.invoke(app, ["declare", "1"]).exit_code == 0  # migrates the empty store
    engine = make_engine(store)
    with UnitOfWork(engine) as uow:
        ids = [capture_order(uow, o).order_id for o in (cn_order("CN-A", "1000.00"), make_order())]
        uow.commit()
    engine.dispose()
    declared = runner.invoke(app, ["declare", *map(str, ids), "--json"])
    assert declared.exit_code == 0, declared.output
    assert json.loads(declared.output) == {
        "declared": 2, "already_declared": 0, "not_modelled": 0, "errors": []
    }  # fmt: skip
    again = legible(runner.invoke(app, ["declare", *map(str, ids)]).output)
    assert "Declared 0; already declared 2" in again
    assert legible(runner.invoke(app, ["receipt", "CN-A", "120"]).output) == (
        "CN-A: declared -> accepted.\n"
    )
    moved = runner.invoke(app, ["receipt", "CN-A", "399", "--json"])
    assert json.loads(moved.output) == {
        "order_no": "CN-A", "status": "concluded", "previous": "accepted"
    }  # fmt: skip
    late = runner.invoke(app, ["receipt", "CN-A", "2"])  # a duplicate of the first receipt
    assert (late.exit_code, late.output) == (0, "CN-A: already concluded.\n")
    refused = runner.invoke(app, ["receipt", "CN-A", "300"])
    assert refused.exit_code == 1 and "not allowed after concluded" in refused.output
    unknown = runner.invoke(app, ["receipt", "CN-A", "42"])
    assert unknown.exit_code == 2 and "receipt code" in unknown.output
    assert runner.invoke(app, ["receipt", "CN-A", "800"]).exit_code == 0
    matched = runner.invoke(app, ["match-declared", *map(str, ids), "--json"])
    report = json.loads(matched.output)
    assert report["orders"] == 1 and report["counts"] == {"incomplete": 1}  # never paid
    assert report["examples"][0]["field"] == "CEB411 payment"
    assert "CN-A: link CEB411 payment: missing" in legible(
        runner.invoke(app, ["match-declared", *map(str, ids)]).output
    )
    future = runner.invoke(app, ["return", "CN-A", "--date", "2999-01-01"])
    assert future.exit_code == 2 and "after today" in future.output
    returned = runner.invoke(app, ["return", "CN-A"])
    assert returned.exit_code == 0, returned.output
    assert "tax 91.00 CNY given back" in legible(returned.output)
