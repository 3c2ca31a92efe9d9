"""CEB XML messages: generate, parse back, refuse what is not a CEB message."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from tests.customs.test_match import ON, doc_set
from xborder.customs import ceb
from xborder.customs.match import documents, match_documents, result_records
from xborder.domain.errors import InvalidValue


def test_every_message_type_round_trips() -> None:
    docs = doc_set()
    samples: dict[str, dict[str, Any]] = {
        "CEB311": {
            **docs["order"],
            "lines": [{"gnum": "1", "itemNo": "SKU-1", "qty": "1", "price": "500.00"}],
        },
        "CEB411": docs["payment"],
        "CEB511": docs["waybill"],
        "CEB621": docs["list"],
        "CEB303": {"orderNo": "E-1", "goodsValue": "9.99", "currency": "USD", "lines": []},
        "CEB403": {"orderNo": "E-1", "payNo": "R-1", "charge": "9.99", "currency": "USD"},
        "CEB505": {"logisticsNo": "EX1", "logisticsCode": "4403960001", "freight": "1.00"},
        "CEB603": {"orderNo": "E-1", "lines": [{"gnum": "1", "gcode": "6109100010", "qty": "2"}]},
    }
    for code, record in samples.items():
        xml = ceb.generate(code, [record], guid="G-1", base_transfer={"copCode": "4403969901"})
        root = etree.fromstring(xml)
        assert root.tag == f"{{{ceb.NS}}}{code}Message"
        message = ceb.parse(xml)
        assert (message.code, message.guid) == (code, "G-1")
        assert message.records == [record]
        assert message.base_transfer["copCode"] == "4403969901"


def test_fields_are_written_in_the_standards_order_with_the_ceb_prefix() -> None:
    xml = ceb.generate(
        "CEB311", [{"currency": "142", "orderNo": "O-1", "acturalPaid": "1.00"}]
    ).decode()
    assert xml.index("<ceb:orderNo>") < xml.index("<ceb:acturalPaid>") < xml.index("<ceb:currency>")
    assert 'xmlns:ceb="http://www.chinaport.gov.cn/ceb"' in xml


def test_parsed_messages_feed_the_match() -> None:
    docs = doc_set()
    parsed = {
        kind: ceb.parse(ceb.generate(code, [docs[kind]])).records
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
        (b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>', "namespace"),
    ],
)
def test_bad_xml_is_a_clear_error(xml: bytes, reason: str) -> None:
    with pytest.raises(InvalidValue, match=reason) as info:
        ceb.parse(xml)
    assert info.value.field in ("xml", "type")


def test_generation_refuses_unknown_fields_and_types() -> None:
    with pytest.raises(InvalidValue, match=r"records\[0\].colour"):
        ceb.generate("CEB311", [{"orderNo": "O-1", "colour": "red"}])
    with pytest.raises(InvalidValue, match="type"):
        ceb.generate("CEB999", [{"orderNo": "O-1"}])
    with pytest.raises(InvalidValue, match="exact decimal"):
        ceb.generate("CEB411", [{"orderNo": "O-1", "amountPaid": 1.5}])


TEXT = (
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=30)
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
    assert ceb.parse(ceb.generate("CEB311", [values])).records == [{**values, "lines": []}]
