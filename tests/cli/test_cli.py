"""The ``xborder`` command end to end on an SQLite store chosen by XBORDER_DATABASE_URL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from xborder.cli.main import app

runner = CliRunner()


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cli.db"
    monkeypatch.setenv("XBORDER_DATABASE_URL", f"sqlite:///{path}")
    return path


GOOD = {
    "channel": "shop-de", "external_id": "A-1", "seller_id": "seller-sz-gadgets",
    "trade_mode": "B2C", "direction": "export", "incoterm": "DDP", "currency": "EUR",
    "origin_country": "CN", "placed_at": "2026-11-24T10:30:00Z", "promised_by": "2026-12-04",
    "freight": 3.9,
    "buyer": {"name": "Lena Vogel", "telephone": "+49 30 1234567"},
    "consignee": {"name": "Lena Vogel", "telephone": "+49 30 1234567", "line1": "Str. 1",
                  "city": "Berlin", "postcode": "10115", "country": "DE"},
    "lines": [{"sku": "T-1", "description": "T-shirt", "hs_code": "610910", "qty": 2,
               "unit_price": "9.99"}],
}  # fmt: skip


def test_demo_follows_a_day_of_orders_to_now_and_reads_at_80_columns(
    store: Path, tmp_path: Path
) -> None:
    report = tmp_path / "report"
    result = runner.invoke(app, ["demo", "--orders", "150", "--seed", "3", "--json",
                                 "--report", str(report)])  # fmt: skip
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    sections = {s["title"]: s["summary"] for s in answer["sections"]}
    # it ends with siloed against integrated, and the report's path
    compared = {r["KPI"]: r for r in answer["comparison"]["rows"]}
    assert Path(answer["comparison"]["report"]) == report / "report.html"
    assert (report / "report.html").is_file() and (report / "kpis.json").is_file()
    assert compared["unbroken record"]["better"] == "yes"
    orders = sections["Orders"]
    assert orders["captured"] == 150 and orders["rejected"] == 0
    assert orders["delivered"] > 0 and orders["delivered"] <= orders["shipped"]
    assert sections["Trace ledger"]["verified"] is True
    assert sections["Money (settlement ledger)"]["deliveries_released"] == orders["delivered"]
    again = runner.invoke(app, ["demo", "--orders", "150", "--seed", "3", "--json",
                                "--no-compare"])  # fmt: skip
    repeat = {s["title"]: s["summary"] for s in json.loads(again.output)["sections"]}
    assert json.loads(again.output)["comparison"] is None
    assert repeat["Orders"]["captured"] == 0 and repeat["Orders"]["already_stored"] == 150
    assert repeat["Trace ledger"]["events_written"] == 0 and repeat["Trace ledger"]["verified"]

    # from an order to its parcel, declaration, escrow and timeline, legible at 80 columns
    listed = json.loads(runner.invoke(app, ["orders", "list", "--status", "delivered",
                                            "--json"]).output)  # fmt: skip
    order_id = listed[0]["id"]
    shown = runner.invoke(app, ["orders", "show", str(order_id)])
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "https://" not in shown.output and "_minor" not in shown.output
    for word in ("delivered", "Parcel", "XB", "Timeline", "Delivered", "Order placed"):
        assert word in shown.output, word
    full = json.loads(runner.invoke(app, ["orders", "show", str(order_id), "--json"]).output)
    parcel = full["parcels"][0]
    assert parcel["status"] == "delivered" and parcel["destination_postcode"]
    tracked = runner.invoke(app, ["trace", "show", parcel["tracking_no"], "--postcode",
                                  parcel["destination_postcode"]])  # fmt: skip
    assert tracked.exit_code == 0 and "Delivered" in tracked.output

    # the lifecycle refuses what cannot happen, and names the reason
    refused = runner.invoke(app, ["parcels", "record", "departed", parcel["tracking_no"]])
    assert refused.exit_code == 1 and "not allowed when delivered" in refused.output
    assert runner.invoke(app, ["orders", "list", "--status", "bogus"]).exit_code == 2
    assert runner.invoke(app, ["orders", "cancel", str(order_id)]).exit_code == 1


def test_init_world_show_and_orders_list(store: Path) -> None:
    assert runner.invoke(app, ["init"]).exit_code == 0
    shown = runner.invoke(app, ["world", "show", "--json"])
    assert shown.exit_code == 0
    world = json.loads(shown.output)
    assert world["counts"]["products"] >= 95
    assert {lane["mode"] for lane in world["lanes"]} >= {
        "air",
        "sea",
        "rail",
        "express",
        "postal",
        "dedicated_line",
    }
    assert runner.invoke(app, ["init"]).exit_code == 0  # idempotent


def test_import_jsonl_reports_bad_records_with_line_and_field(store: Path, tmp_path: Path) -> None:
    bad_hs = {**GOOD, "external_id": "A-2", "lines": [{**GOOD["lines"][0], "hs_code": "12345"}]}  # type: ignore[dict-item]
    bad_country = {**GOOD, "external_id": "A-3", "origin_country": "ZZ"}
    no_buyer = {k: v for k, v in GOOD.items() if k != "buyer"} | {"external_id": "A-4"}
    zero_qty = {**GOOD, "external_id": "A-5", "lines": [{**GOOD["lines"][0], "qty": 0}]}  # type: ignore[dict-item]
    bad_currency = {**GOOD, "external_id": "A-6", "currency": "EURO"}
    file = tmp_path / "orders.jsonl"
    file.write_text("\n".join([
        json.dumps(GOOD), json.dumps(bad_hs), "{not json", json.dumps(bad_country),
        json.dumps(no_buyer), json.dumps(zero_qty), json.dumps(bad_currency),
    ]) + "\n")  # fmt: skip
    runner.invoke(app, ["init"])
    result = runner.invoke(app, ["orders", "import", str(file), "--json"])
    assert result.exit_code == 2  # bad input: exit 2, the good record stored all the same
    assert "line 2, hs_code: must be 6, 8 or 10 digits" in " ".join(result.stderr.split())
    report = json.loads(result.stdout)
    assert report["created"] == 1 and report["rejected"] == 6
    by_line = {(e["line"], e["field"]) for e in report["errors"]}
    assert {
        (2, "hs_code"),
        (3, "json"),
        (4, "origin_country"),
        (5, "buyer_name"),
        (6, "qty"),
        (7, "currency"),
    } <= by_line
    listed = json.loads(runner.invoke(app, ["orders", "list", "--json"]).output)
    assert [o["external_id"] for o in listed] == ["A-1"]
    again = json.loads(runner.invoke(app, ["orders", "import", str(file), "--json"]).stdout)
    assert again["created"] == 0 and again["already_stored"] == 1


def test_import_csv_groups_lines_and_reports_physical_lines(store: Path, tmp_path: Path) -> None:
    header = (
        "channel,external_id,seller_id,trade_mode,direction,incoterm,currency,origin_country,"
        "buyer_name,buyer_telephone,consignee_name,consignee_telephone,consignee_line1,"
        "consignee_city,consignee_postcode,consignee_country,freight,placed_at,promised_by,"
        "sku,description,hs_code,qty,unit_price"
    )
    order = (
        "shop-fr,F-1,seller-sz-gadgets,B2C,export,DAP,EUR,CN,Jean Dupont,+33 1 23,"
        "Jean Dupont,+33 1 23,1 rue de Rivoli,Paris,75001,FR,0,2026-11-24T08:00:00+01:00,"
        "2026-12-02"
    )
    file = tmp_path / "orders.csv"
    file.write_text("\n".join([
        header,
        f"{order},T-1,T-shirt,610910,1,9.90",
        f"{order},C-1,Phone case,392690,2,3.50",
        f"{order.replace('F-1', 'F-2')},C-1,Phone case,392690,-1,3.50",
        "shop-fr,F-3,too,few,fields",
    ]) + "\n")  # fmt: skip
    runner.invoke(app, ["init"])
    result = runner.invoke(app, ["orders", "import", str(file), "--json"])
    assert result.exit_code == 2
    report = json.loads(result.stdout)
    assert report["created"] == 1
    assert {(e["line"], e["field"]) for e in report["errors"]} == {(4, "qty"), (5, "csv")}
    shown = json.loads(runner.invoke(app, ["orders", "show", "1", "--json"]).output)
    assert shown["goods"] == "16.90" and len(shown["lines"]) == 2
    assert shown["placed_at"].startswith("2026-11-24T07:00:00")


def test_unreadable_inputs_fail_cleanly(store: Path, tmp_path: Path) -> None:
    missing = runner.invoke(app, ["orders", "import", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2 and "no such file" in missing.output
    weird = tmp_path / "orders.txt"
    weird.write_text("x")
    assert runner.invoke(app, ["orders", "import", str(weird)]).exit_code == 2
    bad_header = tmp_path / "bad.csv"
    bad_header.write_text("channel,colour\nx,y\n")
    result = runner.invoke(app, ["orders", "import", str(bad_header)])
    assert result.exit_code == 2 and "colour" in result.output
    assert runner.invoke(app, ["orders", "show", "999"]).exit_code == 1
    assert runner.invoke(app, ["demo", "--day", "tomorrow"]).exit_code == 2


def test_pay_records_a_payment_once(store: Path, tmp_path: Path) -> None:
    file = tmp_path / "orders.jsonl"
    file.write_text(json.dumps(GOOD) + "\n")
    assert runner.invoke(app, ["orders", "import", str(file)]).exit_code == 0
    args = ["orders", "pay", "--channel", "shop-de", "--external-id", "A-1", "--provider",
            "pay-co", "--transaction-id", "T1", "--payer-name", "Lena Vogel", "--amount", "23.88",
            "--currency", "EUR", "--json"]  # fmt: skip
    first = json.loads(runner.invoke(app, args).output)
    assert first["created"] and first["fully_paid"]
    again = json.loads(runner.invoke(app, args).output)
    assert not again["created"] and again["payment_id"] == first["payment_id"]
    wrong = runner.invoke(app, [*args[:-4], "1.00", "--currency", "EUR"])
    assert wrong.exit_code == 1 and "different content" in wrong.output
    bad = runner.invoke(app, [*args[:-4], "abc", "--currency", "EUR"])
    assert bad.exit_code == 2 and "amount" in bad.output
    shown = json.loads(runner.invoke(app, ["orders", "show", "1", "--json"]).output)
    assert shown["status"] == "paid"
