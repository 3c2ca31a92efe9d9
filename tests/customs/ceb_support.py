"""CEB test helpers: complete records of every written message, the vendored GACC schemas, a
throw-away enterprise key and certificate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

from lxml import etree

from tests.customs.test_match import doc_set

CEB_DATA = Path(__file__).resolve().parents[1] / "data" / "ceb"
SAMPLES = CEB_DATA / "samples"
NOW = datetime(2025, 6, 1, 2, 30, tzinfo=UTC)  # 10:30 in Beijing


class Identity(NamedTuple):
    """The enterprise's BaseTransfer identity (``Enterprise(*ENTERPRISE)`` in unit tests; plain
    values so the CLI tests also run against code without ``xborder.customs.enterprise``)."""

    cop_code: str
    cop_name: str
    dxp_id: str


ENTERPRISE = Identity("4101969905", "Zhengzhou Test Platform Co., Ltd", "DXPENT0000012345")
IMPORT_TYPES = ("CEB311", "CEB411", "CEB511", "CEB621")
EXPORT_TYPES = ("CEB303", "CEB403", "CEB505", "CEB603")
EXPORT_CODES = {*EXPORT_TYPES, "CEB304", "CEB404", "CEB506", "CEB604"}


@cache
def schema(edition: str, kind: str) -> etree.XMLSchema:
    """The vendored GACC schema (``2022-05`` or ``2018-113``; ``import`` or ``export``)."""
    return etree.XMLSchema(etree.parse(str(CEB_DATA / edition / f"{kind}.xsd")))


def schema_errors(xml: bytes, edition: str = "2022-05") -> list[str]:
    root = etree.fromstring(xml)
    code = etree.QName(root).localname[:6]
    xsd = schema(edition, "export" if code in EXPORT_CODES else "import")
    xsd.validate(root)
    return [f"{e.line}: {e.message}" for e in xsd.error_log]


def records(no: str = "O-1") -> dict[str, dict[str, Any]]:
    """One complete record of each written message type, for order ``no``."""
    docs = doc_set(no)
    names = {"ebpName": "Zhengzhou Test Platform", "ebcName": "Hangzhou Test Cosmetics"}
    order = {**docs["order"], **names, "buyerRegNo": "zhangwei01", "consigneeDistrict": "410105",
             "payName": "Test Pay",
             "lines": [{"gnum": "1", "itemNo": "SKU-1", "itemName": "Face serum",
                        "gmodel": "30 ml", "unit": "007", "qty": "1", "price": "500.00",
                        "totalPrice": "500.00", "currency": "142", "country": "116"}]}  # fmt: skip
    payment = {**docs["payment"], "payName": "Test Pay", "ebpCode": "4101969905",
               "ebpName": names["ebpName"], "payTime": "20250601103000"}  # fmt: skip
    waybill = {**docs["waybill"], "logisticsName": "Test Express", "weight": "0.35",
               "packNo": "1"}  # fmt: skip
    inventory = {**docs["list"], **names, "logisticsName": "Test Express",
                 "assureCode": "4101969905", "customsCode": "4606", "portCode": "4606",
                 "consigneeAddress": "1 Renmin Road, Zhengzhou", "agentCode": "4101969905",
                 "agentName": "Zhengzhou Test Platform", "tradeMode": "9610", "trafMode": "5",
                 "country": "116", "packNo": "1", "grossWeight": "0.35", "netWeight": "0.3",
                 "lines": [{"gnum": "1", "itemNo": "SKU-1", "gcode": "3304990099",
                            "gname": "Face serum", "gmodel": "30 ml", "country": "116",
                            "tradeCountry": "116", "currency": "142", "qty": "1", "unit": "007",
                            "qty1": "0.03", "unit1": "035", "qty2": "1", "unit2": "007",
                            "price": "500.00", "totalPrice": "500.00"}]}  # fmt: skip
    export_order = {"orderNo": f"E{no}", "ebpCode": "3301960001", "ebpName": "Export Platform",
                    "ebcCode": "3301960002", "ebcName": "Export Seller", "goodsValue": "19.98",
                    "freight": "5.00", "currency": "502",
                    "lines": [{"gnum": "1", "itemNo": "TS-1", "itemName": "T-shirt",
                               "unit": "011", "currency": "502", "qty": "2", "price": "9.99",
                               "totalPrice": "19.98"}]}  # fmt: skip
    export_receipt = {"ebpCode": "3301960001", "ebpName": "Export Platform",
                      "ebcCode": "3301960002", "ebcName": "Export Seller", "orderNo": f"E{no}",
                      "payCode": "3301960003", "payName": "Test Pay", "payNo": f"R{no}",
                      "charge": "24.98", "currency": "502",
                      "accountingDate": "20250601103000"}  # fmt: skip
    export_waybill = {"logisticsCode": "3301960004", "logisticsName": "Test Express",
                      "logisticsNo": f"EX{no}", "freight": "5.00", "insuredFee": "0",
                      "currency": "502", "grossWeight": "0.5", "packNo": "1",
                      "goodsInfo": "T-shirts"}  # fmt: skip
    export_list = {"customsCode": "2991", "ebpCode": "3301960001", "ebpName": "Export Platform",
                   "orderNo": f"E{no}", "logisticsCode": "3301960004",
                   "logisticsName": "Test Express", "logisticsNo": f"EX{no}", "copNo": f"C{no}",
                   "portCode": "2991", "ieDate": "20250601", "statisticsFlag": "A",
                   "agentCode": "3301960001", "agentName": "Export Platform",
                   "ebcCode": "3301960002", "ebcName": "Export Seller",
                   "ownerCode": "3301960002", "ownerName": "Export Seller", "tradeMode": "9610",
                   "trafMode": "5", "country": "502", "POD": "5020", "freight": "5.00",
                   "fCurrency": "502", "fFlag": "3", "insuredFee": "0", "iCurrency": "502",
                   "iFlag": "3", "wrapType": "2", "packNo": "1", "grossWeight": "0.5",
                   "netWeight": "0.4",
                   "lines": [{"gnum": "1", "itemNo": "TS-1", "gcode": "6109100010",
                              "gname": "T-shirt", "gmodel": "cotton", "barCode": "无",
                              "country": "142", "currency": "502", "qty": "2", "qty1": "0.4",
                              "unit": "011", "unit1": "035", "price": "9.99",
                              "totalPrice": "19.98"}]}  # fmt: skip
    return {"CEB311": order, "CEB411": payment, "CEB511": waybill, "CEB621": inventory,
            "CEB303": export_order, "CEB403": export_receipt, "CEB505": export_waybill,
            "CEB603": export_list}  # fmt: skip


def key_and_cert(tmp: Path) -> tuple[Path, Path]:
    """A throw-away RSA key and a self-signed certificate (PEM files in ``tmp``)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "xborder test enterprise")])
    start = datetime.now(UTC) - timedelta(days=1)  # the verifier checks validity at its now
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = tmp / "ent.key", tmp / "ent.crt"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path
