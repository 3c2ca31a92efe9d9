"""Parcel and bag identifiers: the one GS1 check digit, SSCCs, tracking numbers.

- GS1 mod-10 check digit (GS1 General Specifications v24.0, section 7.9.1): weights 3 and 1
  alternating from the rightmost data digit.
- SSCC (same, section 2.2.1 / 3.3.1, AI 00): extension digit + GS1 company prefix + serial
  reference = 17 digits, then the check digit. ``GS1_COMPANY_PREFIX`` is GS1's documentation
  example prefix 0614141 (used in GS1 standards' examples, not a real allocation; an operator
  configures its own).
- Tracking numbers: ``XB`` + the order id in 12 digits, one per parcel (the platform's own scheme;
  a carrier's number is kept beside it when a real carrier adapter supplies one).
"""

from __future__ import annotations

from xborder.domain.errors import InvalidValue

GS1_COMPANY_PREFIX = "0614141"


def gs1_check_digit(digits: str) -> int:
    """GS1 mod-10 check digit of a key given without its check digit."""
    if not digits.isdigit():
        raise InvalidValue("digits", "must be decimal digits", digits)
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return (10 - total % 10) % 10


def sscc(serial: int, extension: int = 0, company_prefix: str = GS1_COMPANY_PREFIX) -> str:
    """The 18-digit SSCC for a serial reference under the company prefix."""
    width = 16 - len(company_prefix)
    if not 0 <= serial < 10**width:
        raise InvalidValue("serial", f"must fit in {width} digits", serial)
    if not 0 <= extension <= 9:
        raise InvalidValue("extension", "must be one digit", extension)
    body = f"{extension}{company_prefix}{serial:0{width}d}"
    return body + str(gs1_check_digit(body))


def sscc_valid(code: str) -> bool:
    return len(code) == 18 and code.isdigit() and gs1_check_digit(code[:17]) == int(code[17])


def tracking_number(order_id: int) -> str:
    """The platform's tracking number of an order's parcel."""
    if not 0 < order_id < 10**12:
        raise InvalidValue("order_id", "must be 1 to 12 digits", order_id)
    return f"XB{order_id:012d}"


def parcel_id(order_id: int) -> str:
    return f"PCL{order_id:012d}"


# A hub as an EPCIS read point: the platform's own location URI (hubs have no GLN of their own in
# the worlds shipped; a party's site is its GLN Digital Link ``https://id.gs1.org/414/<gln>``).
HUB_URI_PREFIX = "https://xborder.dev/loc/hub/"


def hub_uri(hub_id: str) -> str:
    return f"{HUB_URI_PREFIX}{hub_id}"
