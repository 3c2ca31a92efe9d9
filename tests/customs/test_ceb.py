"""CEB XML messages: generate, parse back, refuse what is not a CEB message."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from tests.customs.ceb_support import ENTERPRISE, NOW, records
from tests.customs.test_match import ON
from xborder.customs import ceb
from xborder.customs.enterprise import Enterprise
from xborder.customs.match import documents, match_documents, result_records
from xborder.domain.errors import InvalidValue

GUID = "6F1D0E3A-58C4-4B52-9C4F-3E2A6B1F0C11"
FILLED = ("guid", "appType", "appTime", "appStatus", "orderType", "ieFlag", "declTime")


def make(code: str, recs: list[Any], **options: Any) -> bytes:
    return ceb.generate(code, recs, enterprise=Enterprise(*ENTERPRISE), now=NOW, **options)


def test_every_message_type_round_trips() -> None:
    for code, record in records().items():
        xml = make(code, [record], guid=GUID)
        root = etree.fromstring(xml)
        assert root.tag == f"{{{ceb.NS}}}{code}Message"
        message = ceb.parse(xml)
        assert (message.code, message.guid, message.signed) == (code, GUID, False)
        [back] = message.records
        assert {k: v for k, v in back.items() if k not in FILLED and k != "copNo"} == {
            k: v for k, v in record.items() if k != "copNo"
        }
        assert back["guid"] == GUID and back["appTime"] == "20250601103000"  # Beijing time
        assert message.base_transfer["copCode"] == ENTERPRISE.cop_code


def test_fields_are_written_in_the_standards_order_with_the_ceb_prefix() -> None:
    xml = make("CEB311", [records()["CEB311"]]).decode()
    assert xml.index("<ceb:orderNo>") < xml.index("<ceb:acturalPaid>") < xml.index("<ceb:currency>")
    assert 'xmlns:ceb="http://www.chinaport.gov.cn/ceb"' in xml


def test_later_records_get_their_own_head_guid() -> None:
    message = ceb.parse(make("CEB411", [records("O-1")["CEB411"], records("O-2")["CEB411"]],
                             guid=GUID))  # fmt: skip
    first, second = (r["guid"] for r in message.records)
    assert first == GUID and len(second) == 36 and second != GUID


def test_parsed_messages_feed_the_match() -> None:
    docs = records()
    parsed = {
        kind: ceb.parse(make(code, [docs[code]])).records
        for kind, code in (
            ("order", "CEB311"),
            ("payment", "CEB411"),
            ("waybill", "CEB511"),
            ("list", "CEB621"),
        )
    }
    frames = documents(parsed["order"], parsed["payment"], parsed["waybill"], parsed["list"])
    [result] = result_records(match_documents(frames, ON))
    assert result["status"] == "matched"


def test_the_consingee_spelling_is_read_as_consignee() -> None:
    xml = (
        f'<ceb:CEB511Message xmlns:ceb="{ceb.NS}" guid="x" version="1.0"><ceb:Logistics>'
        "<ceb:LogisticsHead><ceb:orderNo>O-1</ceb:orderNo><ceb:consingee>Zhang Wei</ceb:consingee>"
        "</ceb:LogisticsHead></ceb:Logistics></ceb:CEB511Message>"
    ).encode()
    assert ceb.parse(xml).records == [{"orderNo": "O-1", "consignee": "Zhang Wei"}]


@pytest.mark.parametrize(
    ("xml", "reason"),
    [
        (b"<ceb:CEB311Message", "malformed"),
        (b"<CEB311Message/>", "namespace"),
        (f'<x:Foo xmlns:x="{ceb.NS}"/>'.encode(), "CEBxxxMessage"),
        (f'<x:CEB999Message xmlns:x="{ceb.NS}"/>'.encode(), "must be one of"),
        (f'<x:CEB311Message xmlns:x="{ceb.NS}"/>'.encode(), "without"),
        (b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>', "DOCTYPE"),
        (b"<!DOCTYPE x><x/>", "DOCTYPE"),
        (f'<x:CEB311Message xmlns:x="{ceb.NS}">&co;</x:CEB311Message>'.encode(), "malformed"),
    ],
)
def test_bad_xml_is_a_clear_error(xml: bytes, reason: str) -> None:
    with pytest.raises(InvalidValue, match=reason) as info:
        ceb.parse(xml)
    assert info.value.field.startswith(("xml", "type"))


def test_an_internal_entity_is_refused_not_truncated() -> None:
    """The old parser read ``Shop &co; Ltd`` as "Shop" and went on."""
    body = make("CEB311", [records()["CEB311"]]).decode()
    body = body.replace("<ceb:ebpName>Zhengzhou Test Platform<", "<ceb:ebpName>Shop &co; Ltd<")
    xml = body.replace("<ceb:CEB311Message", '<!DOCTYPE x [<!ENTITY co "and">]><ceb:CEB311Message')
    xml = xml.replace("<?xml version='1.0' encoding='UTF-8'?>", "")
    with pytest.raises(InvalidValue, match="DOCTYPE is not allowed"):
        ceb.parse(xml.encode())


def test_generation_refuses_unknown_fields_and_types() -> None:
    record = records()["CEB311"]
    with pytest.raises(InvalidValue, match=r"records\[0\].colour"):
        make("CEB311", [{**record, "colour": "red"}])
    with pytest.raises(InvalidValue, match="type"):
        make("CEB999", [record])
    with pytest.raises(InvalidValue, match="type"):
        make("CEB622", [record])  # a receipt is customs' to write
    with pytest.raises(InvalidValue, match="exact decimal"):
        make("CEB411", [{**records()["CEB411"], "amountPaid": 1.5}])
    with pytest.raises(InvalidValue, match="guid"):
        make("CEB411", [records()["CEB411"]], guid="G-1")


TEXT = (
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Cn")), min_size=1, max_size=30
    )
    .map(str.strip)
    .filter(bool)
)


@settings(max_examples=50, deadline=None)
@given(
    values=st.fixed_dictionaries(
        {
            "orderNo": TEXT,
            "buyerName": TEXT,
            "consigneeAddress": TEXT,
            "acturalPaid": st.decimals(0, 10**6, places=2).map(str),
        }
    )
)
def test_round_trip_of_arbitrary_text(values: dict[str, str]) -> None:
    record = {**records()["CEB311"], **values}
    [back] = ceb.parse(make("CEB311", [record])).records
    assert {k: back[k] for k in values} == values
