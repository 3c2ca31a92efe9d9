"""Every message ``xborder customs message`` writes validates against the GACC schemas (issue 10).

The schemas are the vendored copies in tests/data/ceb (202205 and 2018 No. 113 editions). Import
messages validate against 2022-05/import.xsd, export ones against 2022-05/export.xsd; both also
validate against the 2018 edition. Declaration lists are signed with a throw-away key (the
schema requires ds:Signature in CEB621) and the signature verifies with signxml.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from typer.testing import CliRunner

from tests.customs.ceb_support import (
    ENTERPRISE,
    EXPORT_TYPES,
    IMPORT_TYPES,
    key_and_cert,
    records,
    schema_errors,
)
from xborder.cli.customs import app

NS = "{http://www.chinaport.gov.cn/ceb}"
DS = "{http://www.w3.org/2000/09/xmldsig#}"
runner = CliRunner()


@pytest.fixture(autouse=True)
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XBORDER_DATABASE_URL", f"sqlite:///{tmp_path / 'store.db'}")
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("XBORDER_CEB_COP_CODE", ENTERPRISE.cop_code)
    monkeypatch.setenv("XBORDER_CEB_COP_NAME", ENTERPRISE.cop_name)
    monkeypatch.setenv("XBORDER_CEB_DXP_ID", ENTERPRISE.dxp_id)
    for name in ("XBORDER_CEB_CONFIG", "XBORDER_CEB_KEY_FILE", "XBORDER_CEB_CERT_FILE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def pem(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return key_and_cert(tmp_path_factory.mktemp("pem"))


def write(tmp_path: Path, code: str, record: Any, *options: str) -> tuple[int, bytes, str]:
    """Run ``customs message``: exit code, the XML written and the output."""
    src, out = tmp_path / f"{code}.json", tmp_path / f"{code}.xml"
    src.write_text(json.dumps(record, ensure_ascii=False), "utf-8")
    result = runner.invoke(app, ["message", "--type", code, str(src), "-o", str(out), *options])
    xml = out.read_bytes() if out.exists() else b""
    return result.exit_code, xml, result.output


def signed(tmp_path: Path, code: str, record: Any, pem: tuple[Path, Path]) -> bytes:
    rc, xml, output = write(tmp_path, code, record, "--key", str(pem[0]), "--cert", str(pem[1]))
    assert rc == 0, output
    return xml


@pytest.mark.parametrize("code", IMPORT_TYPES + EXPORT_TYPES)
@pytest.mark.parametrize("edition", ["2022-05", "2018-113"])
def test_every_written_message_validates(
    code: str, edition: str, tmp_path: Path, pem: tuple[Path, Path]
) -> None:
    xml = signed(tmp_path, code, records()[code], pem)
    assert schema_errors(xml, edition) == []
    root = etree.fromstring(xml)
    assert root.get("guid") == root.find(f".//{NS}guid").text  # type: ignore[union-attr]
    assert root[-1].tag == f"{DS}Signature"


def test_ceb311_writes_consignee_district(tmp_path: Path) -> None:
    rc, xml, output = write(tmp_path, "CEB311", records()["CEB311"])
    assert rc == 0, output
    assert schema_errors(xml) == []
    assert b"<ceb:consigneeDistrict>410105</ceb:consigneeDistrict>" in xml
    assert b"consigneeDitrict" not in xml


def test_ceb621_items_in_the_schemas_order_with_trade_country(
    tmp_path: Path, pem: tuple[Path, Path]
) -> None:
    xml = signed(tmp_path, "CEB621", records()["CEB621"], pem)
    item = etree.fromstring(xml).find(f".//{NS}InventoryList")
    assert item is not None
    names = [etree.QName(c).localname for c in item]
    assert names[names.index("qty") : names.index("qty") + 6] == [
        "qty", "unit", "qty1", "unit1", "qty2", "unit2"
    ]  # fmt: skip
    assert names[names.index("country") + 1] == "tradeCountry"
    assert schema_errors(xml) == []


def test_a_declaration_list_is_signed_or_explicitly_unsigned(
    tmp_path: Path, pem: tuple[Path, Path]
) -> None:
    rc, _, output = write(tmp_path, "CEB621", records()["CEB621"])
    assert rc == 2 and "must be signed" in output and "--unsigned" in output
    rc, xml, output = write(tmp_path, "CEB621", records()["CEB621"], "--unsigned")
    assert rc == 0, output
    assert etree.fromstring(xml).find(f"{DS}Signature") is None
    # unsigned, the only thing the schema misses is the signature the signing client adds
    [error] = schema_errors(xml)
    assert "Signature" in error and "Missing child" in error


def test_the_signature_verifies_and_catches_an_edit(tmp_path: Path, pem: tuple[Path, Path]) -> None:
    from signxml import XMLVerifier  # type: ignore[attr-defined]

    xml = signed(tmp_path, "CEB621", records()["CEB621"], pem)
    cert = pem[1].read_text()
    verified = XMLVerifier().verify(xml, x509_cert=cert)
    assert etree.QName(verified.signed_xml).localname == "CEB621Message"  # type: ignore[union-attr]
    tampered = xml.replace(b"<ceb:totalPrice>500.00<", b"<ceb:totalPrice>5.00<")
    assert tampered != xml
    with pytest.raises(Exception, match=r"[Dd]igest"):
        XMLVerifier().verify(tampered, x509_cert=cert)


def test_rsa_sha1_only_when_asked_for(tmp_path: Path, pem: tuple[Path, Path]) -> None:
    from signxml import SignatureConfiguration, XMLVerifier  # type: ignore[attr-defined]
    from signxml.algorithms import DigestAlgorithm, SignatureMethod

    keys = ("--key", str(pem[0]), "--cert", str(pem[1]))
    rc, xml, output = write(
        tmp_path, "CEB621", records()["CEB621"], *keys, "--algorithm", "rsa-sha1"
    )
    assert rc == 0, output
    assert b"xmldsig#rsa-sha1" in xml and schema_errors(xml) == []
    config = SignatureConfiguration(
        signature_methods=frozenset({SignatureMethod.RSA_SHA1}),
        digest_algorithms=frozenset({DigestAlgorithm.SHA1}),
    )
    XMLVerifier().verify(xml, x509_cert=pem[1].read_text(), expect_config=config)
    with pytest.raises(Exception, match=r"SHA1|not"):  # the default configuration refuses SHA-1
        XMLVerifier().verify(xml, x509_cert=pem[1].read_text())


def test_ceb303_has_the_export_order_layout(tmp_path: Path) -> None:
    rc, xml, output = write(tmp_path, "CEB303", records()["CEB303"])
    assert rc == 0, output
    assert schema_errors(xml) == []
    head = etree.fromstring(xml).find(f".//{NS}OrderHead")
    assert head is not None
    assert [etree.QName(c).localname for c in head][-3:] == ["goodsValue", "freight", "currency"]
    assert head.findtext(f"{NS}orderType") == "E"
    import_only = {**records()["CEB303"], "buyerName": "Zhang Wei"}
    rc, _, output = write(tmp_path, "CEB303", import_only)
    assert rc == 2 and "records[0].buyerName: not a field of this CEB message" in output


def test_ceb603_has_its_own_head(tmp_path: Path, pem: tuple[Path, Path]) -> None:
    xml = signed(tmp_path, "CEB603", records()["CEB603"], pem)
    assert schema_errors(xml) == []
    head = etree.fromstring(xml).find(f".//{NS}InventoryHead")
    assert head is not None
    names = {etree.QName(c).localname for c in head}
    assert {"statisticsFlag", "ownerCode", "ownerName", "POD", "fCurrency", "fFlag"} <= names
    assert not names & {"buyerIdNumber", "buyerName", "assureCode", "declTime", "currency"}
    assert head.findtext(f"{NS}ieFlag") == "E"


def test_base_transfer_carries_the_configured_enterprise(tmp_path: Path) -> None:
    rc, xml, output = write(tmp_path, "CEB411", records()["CEB411"])
    assert rc == 0, output
    transfer = etree.fromstring(xml).find(f"{NS}BaseTransfer")
    assert transfer is not None
    assert [(etree.QName(c).localname, c.text) for c in transfer] == [
        ("copCode", ENTERPRISE.cop_code), ("copName", ENTERPRISE.cop_name),
        ("dxpMode", "DXP"), ("dxpId", ENTERPRISE.dxp_id),
    ]  # fmt: skip


def test_options_override_the_environment_and_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "ceb.toml"
    config.write_text('[ceb]\ncop_code = "FILE000001"\ncop_name = "From File"\ndxp_id = "DXPF"\n')
    monkeypatch.setenv("XBORDER_CEB_CONFIG", str(config))
    monkeypatch.delenv("XBORDER_CEB_COP_NAME")
    monkeypatch.delenv("XBORDER_CEB_DXP_ID")
    rc, xml, output = write(tmp_path, "CEB411", records()["CEB411"], "--dxp-id", "DXPOPT")
    assert rc == 0, output
    transfer = etree.fromstring(xml).find(f"{NS}BaseTransfer")
    assert transfer is not None
    got = {etree.QName(c).localname: c.text for c in transfer}
    assert (got["copCode"], got["copName"], got["dxpId"]) == (
        ENTERPRISE.cop_code, "From File", "DXPOPT"
    )  # fmt: skip


def test_a_missing_identity_names_what_to_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XBORDER_CEB_DXP_ID")
    rc, xml, output = write(tmp_path, "CEB411", records()["CEB411"])
    assert (rc, xml) == (2, b"")
    assert "enterprise.dxpId" in output and "XBORDER_CEB_DXP_ID" in output
    assert "--dxp-id" in output and "Traceback" not in output


def test_required_head_fields_are_filled(tmp_path: Path) -> None:
    rc, xml, output = write(tmp_path, "CEB311", records()["CEB311"])
    assert rc == 0, output
    head = etree.fromstring(xml).find(f".//{NS}OrderHead")
    assert head is not None
    filled = {name: head.findtext(f"{NS}{name}") for name in
              ("appType", "appStatus", "orderType")}  # fmt: skip
    assert filled == {"appType": "1", "appStatus": "2", "orderType": "I"}
    assert len(head.findtext(f"{NS}guid") or "") == 36
    assert len(head.findtext(f"{NS}appTime") or "") == 14


@pytest.mark.parametrize(
    ("code", "field"),
    [("CEB311", "ebpName"), ("CEB411", "payTime"), ("CEB511", "weight"),
     ("CEB621", "customsCode"), ("CEB303", "ebcName"), ("CEB603", "statisticsFlag")],
)  # fmt: skip
def test_a_missing_required_field_is_refused_by_name(tmp_path: Path, code: str, field: str) -> None:
    record = {k: v for k, v in records()[code].items() if k != field}
    rc, xml, output = write(tmp_path, code, record, "--unsigned")
    assert (rc, xml) == (2, b"")
    assert f"records[0].{field}: is required" in output and "Traceback" not in output


@pytest.mark.parametrize("code", ["CEB311", "CEB621", "CEB303", "CEB603"])
@pytest.mark.parametrize("lines", [[], None])
def test_a_message_without_goods_lines_is_refused(
    tmp_path: Path, code: str, lines: list[Any] | None
) -> None:
    record = {**records()[code], "lines": lines}
    if lines is None:
        del record["lines"]
    rc, xml, output = write(tmp_path, code, record, "--unsigned")
    assert (rc, xml) == (2, b"")
    assert "records[0].lines" in output and "at least one goods line" in output


@pytest.mark.parametrize(
    ("change", "says"),
    [({"currency": "CNY1"}, "currency: must be 3 characters"),
     ({"goodsValue": "1.123456"}, "goodsValue: has more than 5 decimals"),
     ({"goodsValue": "1e30"}, "goodsValue: has more than 19 digits"),
     ({"goodsValue": "NaN"}, "goodsValue: must be a finite decimal"),
     ({"consigneeDistrict": "4101"}, "consigneeDistrict: must be 6 characters"),
     ({"buyerName": "Zhang\u0000Wei"}, "buyerName: contains a character XML cannot carry")],
)  # fmt: skip
def test_values_outside_the_schema_are_refused(
    tmp_path: Path, change: dict[str, str], says: str
) -> None:
    rc, xml, output = write(tmp_path, "CEB311", {**records()["CEB311"], **change})
    assert (rc, xml) == (2, b"")
    assert says in output
