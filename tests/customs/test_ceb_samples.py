"""Official-style CEB messages written by other systems, and customs' receipts, read back.

The samples in tests/data/ceb/samples are hand-written to the 202205 schemas (each validates
here); the receipts drive the declaration status machine through ``apply_receipt_message``.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from tests.customs.ceb_support import SAMPLES, schema_errors
from tests.customs.support import clock_at
from tests.customs.test_declarations import cn_order, store_orders
from xborder.cli.customs import app
from xborder.domain.errors import InvalidValue
from xborder.services.customs import DeclareOrders, declare_orders
from xborder.store.engine import make_engine
from xborder.store.schema_customs import customs_declaration_events
from xborder.store.uow import UnitOfWork

runner = CliRunner()
DAY = date(2026, 3, 2)
SAMPLE_FILES = sorted(SAMPLES.glob("*.xml"))


def test_there_are_samples_of_every_kind() -> None:
    codes = {p.name[:6] for p in SAMPLE_FILES}
    assert {"CEB311", "CEB621", "CEB303", "CEB312", "CEB412", "CEB512", "CEB622", "CEB304",
            "CEB604"} <= codes  # fmt: skip


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.name)
def test_each_sample_validates_and_parses(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XBORDER_DATABASE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    monkeypatch.setenv("COLUMNS", "80")
    assert schema_errors(path.read_bytes()) == []
    result = runner.invoke(app, ["parse", str(path), "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["type"] == path.name[:6] and len(body["guid"]) == 36
    assert body["records"] and all(r.get("guid") for r in body["records"])
    view = runner.invoke(app, ["parse", str(path)])
    assert view.exit_code == 0 and "Traceback" not in view.output


def test_other_systems_fields_are_read_whole() -> None:
    out = runner.invoke(app, ["parse", str(SAMPLES / "CEB311-order.xml"), "--json"])
    [order] = json.loads(out.output)["records"]
    assert order["ebpName"] == "郑州测试电商平台有限公司" and order["consigneeDistrict"] == "410105"
    assert order["lines"][0]["totalPrice"] == "1000.00"
    listed = json.loads(runner.invoke(app, ["parse", str(SAMPLES / "CEB621-list.xml"), "--json"])
                        .output)  # fmt: skip
    assert listed["signed"] is True and listed["base_transfer"]["dxpId"] == "DXPENT0000012345"
    assert listed["records"][0]["lines"][0]["tradeCountry"] == "116"


@pytest.fixture
def declared(engine: Engine) -> UnitOfWork:
    uow = UnitOfWork(engine, clock=clock_at(DAY))
    orders = [cn_order(f"CN-{c}", "1000.00") for c in "ABC"]
    declare_orders(uow, DeclareOrders(store_orders(engine, *orders)))
    return uow


def _apply(uow: UnitOfWork, name: str) -> Any:
    from xborder.services.customs_receipts import ApplyReceiptMessage, apply_receipt_message

    return apply_receipt_message(uow, ApplyReceiptMessage((SAMPLES / name).read_bytes()))


def _events(uow: UnitOfWork) -> int:
    with uow:
        return len(uow.connection.execute(select(customs_declaration_events)).all())


def test_list_receipts_drive_the_declarations(declared: UnitOfWork) -> None:
    result = _apply(declared, "CEB622-list-receipts.xml")
    assert result.code == "CEB622"
    assert result.statuses == {"CN-A": "released", "CN-B": "rejected"}
    [notice] = result.notices
    assert (notice.subject, notice.code, notice.reason) == (
        "CN-A",
        "3",
        "not a status of the machine",
    )
    before = _events(declared)
    again = _apply(declared, "CEB622-list-receipts.xml")  # the batch sent twice
    assert again.statuses == result.statuses and _events(declared) == before
    export = _apply(declared, "CEB604-export-list-receipt.xml")
    assert export.statuses == {"CN-C": "accepted"}


@pytest.mark.parametrize(
    ("name", "code"),
    [("CEB312-order-receipt.xml", "120"), ("CEB412-payment-receipt.xml", "120"),
     ("CEB512-waybill-receipt.xml", "-301010"), ("CEB304-export-order-receipt.xml", "120")],
)  # fmt: skip
def test_other_receipts_are_reported_not_applied(
    declared: UnitOfWork, name: str, code: str
) -> None:
    before = _events(declared)
    result = _apply(declared, name)
    assert result.statuses == {} and _events(declared) == before
    [notice] = result.notices
    assert (notice.code, notice.reason) == (code, "not a declaration list receipt")


def test_a_message_that_is_not_a_receipt_is_refused(declared: UnitOfWork) -> None:
    with pytest.raises(InvalidValue, match="not a receipt"):
        _apply(declared, "CEB311-order.xml")


def test_the_receipts_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    monkeypatch.setenv("XBORDER_DATABASE_URL", url)
    monkeypatch.setenv("COLUMNS", "80")
    assert runner.invoke(app, ["declare", "1"]).exit_code == 0  # migrates the empty store
    engine = make_engine(url)
    ids = store_orders(engine, cn_order("CN-A", "1000.00"), cn_order("CN-B", "1000.00"))
    engine.dispose()
    assert runner.invoke(app, ["declare", *map(str, ids)]).exit_code == 0
    result = runner.invoke(app, ["receipts", str(SAMPLES / "CEB622-list-receipts.xml")])
    assert result.exit_code == 0, result.output
    assert "CN-A: released" in result.output and "CN-B: rejected" in result.output
    assert all(len(line) <= 80 for line in result.output.splitlines())
    as_json = runner.invoke(
        app, ["receipts", str(SAMPLES / "CEB512-waybill-receipt.xml"), "--json"]
    )
    assert json.loads(as_json.output)["notices"][0]["code"] == "-301010"
    unknown = runner.invoke(app, ["receipts", str(SAMPLES / "CEB604-export-list-receipt.xml")])
    assert unknown.exit_code == 1 and "CN-C" in unknown.output and "Traceback" not in unknown.output
