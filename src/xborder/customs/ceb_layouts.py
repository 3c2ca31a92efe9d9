"""The CEB message layouts, transcribed from the GACC 202205 schemas (import.xsd, export.xsd).

Why a transcription and not the XSD at run time: the platform checks a record field by field and
names the field that is wrong ("records[0].lines[1].gcode: must be 10 characters"), which a schema
validator reports far less legibly; the tests validate every written message against the vendored
XSDs (tests/data/ceb), so a slip in this table fails there.

One token per element, in the schema's ``xs:sequence`` order: ``name`` then ``!`` (required,
minOccurs 1) or ``?`` (optional), then the type: ``sN`` a string of exactly N characters,
``sM-N`` one of M..N characters, ``d`` a decimal (totalDigits 19, fractionDigits 5), ``iN`` an
integer of at most N digits. The export schema (CEB303..CEB604) allows empty required strings;
the platform still requires them to be filled (an empty ``orderNo`` is never what customs wants).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class Field:
    """One element of a head or a goods line: its name, whether the schema requires it, its kind
    (``s`` text, ``d`` decimal, ``i`` integer) and its length bounds (digits for integers)."""

    name: str
    required: bool
    kind: str
    min_len: int
    max_len: int


def _fields(spec: str) -> tuple[Field, ...]:
    out: list[Field] = []
    for token in spec.split():
        mark = "!" if "!" in token else "?"
        name, kind = token.split(mark)
        bounds = kind[1:]
        if kind[0] == "d":
            low, high = 0, 19
        elif "-" in bounds:
            low_s, high_s = bounds.split("-")
            low, high = int(low_s), int(high_s)
        else:
            low = int(bounds) if kind[0] == "s" else 1
            high = int(bounds)
        out.append(Field(name, mark == "!", kind[0], low, high))
    return tuple(out)


# CEB311: Order / OrderHead / OrderList (202205)
_CEB311_HEAD = """
    guid!s36 appType!s1 appTime!s14 appStatus!s1-3 orderType!s1 orderNo!s1-60 ebpCode!s1-18
    ebpName!s1-100 ebcCode!s1-18 ebcName!s1-100 goodsValue!d freight!d discount!d taxTotal!d
    acturalPaid!d currency!s3 buyerRegNo!s1-60 buyerName!s1-60 buyerTelephone!s1-30
    buyerIdType!s1 buyerIdNumber!s1-60 payCode?s0-18 payName?s0-100 payTransactionId?s0-60
    batchNumbers?s0-100 consignee!s1-100 consigneeTelephone!s1-50 consigneeAddress!s1-200
    consigneeDistrict?s6 note?s0-1000
"""
_CEB311_LIST = """
    gnum!i10 itemNo?s0-30 itemName!s1-250 gmodel!s1-510 itemDescribe?s0-1000 barCode?s0-50
    unit!s3 qty!d price!d totalPrice!d currency!s3 country!s3 note?s0-1000
"""
# CEB411: Payment / PaymentHead (202205)
_CEB411_HEAD = """
    guid!s36 appType!s1 appTime!s14 appStatus!s1-3 payCode!s1-18 payName!s1-100
    payTransactionId!s1-60 orderNo!s1-60 ebpCode!s1-18 ebpName!s1-100 payerIdType!s1
    payerIdNumber!s1-60 payerName!s1-60 telephone?s0-60 amountPaid!d currency!s3 payTime!s14
    note?s0-1000
"""
# CEB511: Logistics / LogisticsHead (202205)
_CEB511_HEAD = """
    guid!s36 appType!s1 appTime!s14 appStatus!s1-3 logisticsCode!s1-18 logisticsName!s1-100
    logisticsNo!s1-60 billNo?s0-37 orderNo!s1-60 freight?d insuredFee?d currency!s3 weight!d
    packNo!i9 goodsInfo?s0-200 consignee!s1-100 consigneeAddress!s1-200
    consigneeTelephone!s1-50 note?s0-1000
"""
# CEB621: Inventory / InventoryHead / InventoryList (202205)
_CEB621_HEAD = """
    guid!s36 appType!s1 appTime!s14 appStatus!s1-3 orderNo!s1-60 ebpCode!s1-18
    ebpName!s1-100 ebcCode!s1-18 ebcName!s1-100 logisticsNo!s1-60 logisticsCode!s1-18
    logisticsName!s1-100 copNo?s0-20 preNo?s0-18 assureCode!s1-30 emsNo?s0-30 invtNo?s0-18
    ieFlag!s1 declTime!s8 customsCode!s4 portCode!s4 ieDate?s8 buyerIdType!s1
    buyerIdNumber!s1-60 buyerName!s1-60 buyerTelephone!s1-30 consigneeAddress!s1-200
    agentCode!s1-18 agentName!s1-100 areaCode?s0-18 areaName?s0-100 tradeMode!s4 trafMode!s1
    trafNo?s0-100 voyageNo?s0-32 billNo?s0-37 loctNo?s0-10 licenseNo?s0-19 country!s3
    freight!d insuredFee!d currency!s3 wrapType?s1 packNo!i9 grossWeight!d netWeight!d
    note?s0-1000
"""
_CEB621_LIST = """
    gnum!i10 itemRecordNo?s0-30 itemNo?s0-20 itemName?s0-250 gcode!s10 gname!s1-250
    gmodel!s1-510 barCode?s0-50 country!s3 tradeCountry?s1-3 currency!s3 qty!d unit!s3
    qty1!d unit1!s3 qty2?d unit2?s3 price!d totalPrice!d note?s0-1000
"""
# CEB312: OrderReturn (202205)
_CEB312_HEAD = """
    guid!s36 ebpCode!s1-18 ebcCode!s1-18 orderNo!s1-60 returnStatus!s1-10 returnTime!s17
    returnInfo!s1-1000
"""
# CEB412: PaymentReturn (202205)
_CEB412_HEAD = """
    guid!s36 payCode!s1-18 payTransactionId!s1-60 returnStatus!s1-10 returnTime!s17
    returnInfo!s1-1000
"""
# CEB512: LogisticsReturn (202205)
_CEB512_HEAD = """
    guid!s36 logisticsCode!s1-18 logisticsNo!s1-60 returnStatus!s1-10 returnTime!s17
    returnInfo!s1-1000
"""
# CEB622: InventoryReturn (202205)
_CEB622_HEAD = """
    guid!s36 customsCode?s4 ebpCode?s1-18 ebcCode?s1-18 agentCode?s1-18 copNo!s1-20
    preNo!s18 invtNo?s18 returnStatus!s1-10 returnTime!s17 returnInfo!s1-1000
"""
# CEB303: Order / OrderHead / OrderList (202205)
_CEB303_HEAD = """
    guid!s36 appType!s1 appTime!s14 appStatus!s1 orderType!s1 orderNo!s0-60 ebpCode!s0-18
    ebpName!s0-100 ebcCode!s0-18 ebcName!s0-100 goodsValue!d freight!d currency!s3
    note?s0-1000
"""
_CEB303_LIST = """
    gnum!i5 itemNo!s0-30 itemName!s0-250 itemDescribe?s0-1000 barCode?s0-50 unit!s3
    currency!s3 qty!d price!d totalPrice!d note?s0-1000
"""
# CEB403: Receipts (202205)
_CEB403_HEAD = """
    guid!s36 appType!s1 appTime!s14 appStatus!s1 ebpCode!s0-18 ebpName!s0-100 ebcCode!s0-18
    ebcName!s0-100 orderNo!s0-60 payCode?s0-18 payName!s0-100 payNo?s0-60 charge!d
    currency!s3 accountingDate!s14 note?s0-1000
"""
# CEB505: Logistics (202205)
_CEB505_HEAD = """
    guid!s36 appType!s1 appTime!s14 appStatus!s1 logisticsCode!s0-18 logisticsName!s0-100
    logisticsNo!s0-32 freight!d insuredFee!d currency!s3 grossWeight!d packNo!i9
    goodsInfo!s0-200 ebcCode?s0-18 ebcName?s0-100 ebcTelephone?s0-50 note?s0-1000
"""
# CEB603: Inventory / InventoryHead / InventoryList (202205)
_CEB603_HEAD = """
    guid!s36 appType!s1 appTime!s14 appStatus!s1 customsCode!s4 ebpCode!s0-18 ebpName!s0-100
    orderNo!s0-60 logisticsCode!s0-18 logisticsName!s0-100 logisticsNo!s0-32 copNo!s0-30
    preNo?s18 invtNo?s0-20 ieFlag!s1 portCode!s4 ieDate!s8 statisticsFlag!s1 agentCode!s0-18
    agentName!s0-100 ebcCode!s0-18 ebcName!s0-100 ownerCode!s0-18 ownerName!s0-100
    iacCode?s0-18 iacName?s0-100 emsNo?s0-30 tradeMode!s4 trafMode!s1 trafName?s0-100
    voyageNo?s0-32 billNo?s0-37 totalPackageNo?s0-37 loctNo?s0-10 licenseNo?s0-19 country!s3
    POD!s3-4 freight!d fCurrency!s3 fFlag!s1 insuredFee!d iCurrency!s3 iFlag!s1 wrapType!s1
    packNo!i9 grossWeight!d netWeight!d note?s0-1000
"""
_CEB603_LIST = """
    gnum!i5 itemNo!s0-20 itemRecordNo?s0-30 itemName?s0-250 gcode!s10 gname!s0-250
    gmodel!s0-250 barCode!s0-50 country!s3 currency!s3 qty!d qty1!d qty2?d unit!s3 unit1!s3
    unit2?s0-3 price!d totalPrice!d note?s0-1000
"""
# CEB304: OrderReturn (202205)
_CEB304_HEAD = """
    guid!s36 ebpCode!s0-18 ebcCode!s0-18 orderNo!s0-60 returnStatus!s1-10 returnTime!s17
    returnInfo!s0-1000
"""
# CEB404: ReceiptsReturn (202205)
_CEB404_HEAD = """
    guid!s36 ebcCode!s0-18 orderNo!s0-60 payNo?s0-60 returnStatus!s1-10 returnTime!s17
    returnInfo!s0-1000
"""
# CEB506: LogisticsReturn (202205)
_CEB506_HEAD = """
    guid!s36 logisticsCode!s0-18 logisticsNo!s0-32 returnStatus!s1-10 returnTime!s17
    returnInfo!s0-1000
"""
# CEB604: InventoryReturn (202205)
_CEB604_HEAD = """
    guid!s36 agentCode!s0-18 copNo!s0-30 preNo!s18 invtNo!s0-20 ebcCode!s0-18 ebpCode!s0-18
    orderNo!s0-60 statisticsFlag!s1 returnStatus!s1-10 returnTime!s17 returnInfo!s0-1000
"""


@dataclass(frozen=True, slots=True)
class MessageType:
    """A CEB message: its record element (``Order``), the head inside it (None: the fields sit in
    the record itself, as in receipts and CEB403/CEB505), the goods line element, the fields, the
    schema file (``import`` or ``export``), whether the schema requires ``ds:Signature`` and
    whether the platform treats it as a declaration list (signed, or explicitly unsigned)."""

    code: str
    record: str
    head: str | None
    head_fields: tuple[Field, ...]
    list_element: str | None = None
    list_fields: tuple[Field, ...] = ()
    schema: str = "import"
    signature_required: bool = False
    is_list: bool = False
    is_receipt: bool = False
    max_records: int = 100
    max_lines: int = 99
    doc: str = ""

    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.head_fields)

    def line_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.list_fields)


_M = MessageType
WRITTEN = (
    _M("CEB311", "Order", "OrderHead", _fields(_CEB311_HEAD), "OrderList", _fields(_CEB311_LIST),
       doc="import order"),
    _M("CEB411", "Payment", "PaymentHead", _fields(_CEB411_HEAD), doc="import payment"),
    _M("CEB511", "Logistics", "LogisticsHead", _fields(_CEB511_HEAD), doc="import waybill"),
    _M("CEB621", "Inventory", "InventoryHead", _fields(_CEB621_HEAD), "InventoryList",
       _fields(_CEB621_LIST), signature_required=True, is_list=True,
       doc="import declaration list"),
    _M("CEB303", "Order", "OrderHead", _fields(_CEB303_HEAD), "OrderList", _fields(_CEB303_LIST),
       schema="export", max_lines=100, doc="export order"),
    _M("CEB403", "Receipts", None, _fields(_CEB403_HEAD), schema="export",
       doc="export receipt of payment"),
    _M("CEB505", "Logistics", None, _fields(_CEB505_HEAD), schema="export", doc="export waybill"),
    _M("CEB603", "Inventory", "InventoryHead", _fields(_CEB603_HEAD), "InventoryList",
       _fields(_CEB603_LIST), schema="export", is_list=True, max_lines=100,
       doc="export declaration list"),
)  # fmt: skip
RECEIPTS = (
    _M("CEB312", "OrderReturn", None, _fields(_CEB312_HEAD), is_receipt=True,
       doc="receipt to an import order"),
    _M("CEB412", "PaymentReturn", None, _fields(_CEB412_HEAD), is_receipt=True,
       doc="receipt to an import payment"),
    _M("CEB512", "LogisticsReturn", None, _fields(_CEB512_HEAD), is_receipt=True,
       doc="receipt to an import waybill"),
    _M("CEB622", "InventoryReturn", None, _fields(_CEB622_HEAD), is_receipt=True,
       doc="receipt to an import declaration list"),
    _M("CEB304", "OrderReturn", None, _fields(_CEB304_HEAD), schema="export", is_receipt=True,
       doc="receipt to an export order"),
    _M("CEB404", "ReceiptsReturn", None, _fields(_CEB404_HEAD), schema="export",
       is_receipt=True, doc="receipt to an export receipt of payment"),
    _M("CEB506", "LogisticsReturn", None, _fields(_CEB506_HEAD), schema="export",
       is_receipt=True, doc="receipt to an export waybill"),
    _M("CEB604", "InventoryReturn", None, _fields(_CEB604_HEAD), schema="export",
       is_receipt=True, doc="receipt to an export declaration list"),
)  # fmt: skip
MESSAGE_TYPES = MappingProxyType({m.code: m for m in (*WRITTEN, *RECEIPTS)})
