"""``xborder customs`` end to end: quote, bulk quote, match, message, parse, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.customs.test_match import doc_set
from xborder.cli.main import app

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


def test_quote_one_order_from_stdin() -> None:
    result = runner.invoke(app, ["customs", "quote", "-"], input=json.dumps(ORDER))
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert (body["channel"], body["vat"], body["total_tax"]) == ("cbec", "47.32", "47.32")
    assert body["rules"][0]["source"].startswith("Cai Guan Shui")


def test_quote_accepts_json_decimals_exactly(tmp_path: Path) -> None:
    path = tmp_path / "order.json"
    path.write_text(json.dumps({**ORDER, "freight": 20.1}).replace("20.1", "20.10"))
    result = runner.invoke(app, ["customs", "quote", str(path)])
    assert json.loads(result.output)["customs_value"] == "520.10"


def test_bulk_quote_writes_one_line_per_record_and_fails_on_a_bad_one(tmp_path: Path) -> None:
    path = tmp_path / "orders.jsonl"
    bad = {**ORDER, "freight": -1}
    path.write_text("\n".join(json.dumps(o) for o in (ORDER, bad, ORDER)))
    result = runner.invoke(app, ["customs", "quote", str(path), "--bulk"])
    assert result.exit_code == 1
    lines = [json.loads(x) for x in result.output.splitlines()]
    assert [x.get("error") for x in lines] == [None, "freight: must be zero or more (got -1)", None]
    assert lines[0]["vat"] == "47.32"


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        ("{not json", "not valid JSON"),
        (json.dumps({**ORDER, "destination": "JP"}), "destination: no customs regime"),
        (json.dumps({**ORDER, "customs_mode": "1111"}), "customs_mode"),
    ],
)
def test_quote_errors_are_one_clear_line(stdin: str, message: str) -> None:
    result = runner.invoke(app, ["customs", "quote", "-"], input=stdin)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


def test_message_parse_and_match_from_files(tmp_path: Path) -> None:
    docs = [doc_set("O-1"), doc_set("O-2", payment={"amountPaid": "1.00"})]
    paths = {}
    for kind, code in (
        ("order", "CEB311"),
        ("payment", "CEB411"),
        ("waybill", "CEB511"),
        ("list", "CEB621"),
    ):
        src = tmp_path / f"{kind}.jsonl"
        src.write_text("\n".join(json.dumps(d[kind]) for d in docs))
        out = tmp_path / f"{kind}.xml"
        made = runner.invoke(app, ["customs", "message", "--type", code, str(src), "-o", str(out)])
        assert made.exit_code == 0, made.output
        parsed = runner.invoke(app, ["customs", "parse", str(out)])
        assert json.loads(parsed.output)["type"] == code
        paths[kind] = out if kind != "payment" else src  # XML and JSON lines mixed
    result = runner.invoke(
        app,
        [
            "customs",
            "match",
            "--orders",
            str(paths["order"]),
            "--payments",
            str(paths["payment"]),
            "--waybills",
            str(paths["waybill"]),
            "--lists",
            str(paths["list"]),
            "--date",
            "2025-06-01",
        ],
    )
    assert result.exit_code == 1
    rows = [json.loads(x) for x in result.output.splitlines()]
    assert [(r["orderNo"], r["status"]) for r in rows] == [("O-1", "matched"), ("O-2", "mismatch")]
    assert rows[1]["problems"][0]["rule"] == "payment_amount"


def test_parse_rejects_malformed_xml(tmp_path: Path) -> None:
    path = tmp_path / "bad.xml"
    path.write_text("<ceb:CEB311Message")
    result = runner.invoke(app, ["customs", "parse", str(path)])
    assert result.exit_code == 2 and "malformed XML" in result.output
