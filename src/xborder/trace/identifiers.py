"""GS1 identifiers: check digits, SSCC/SGLN builders and the GS1 Digital Link normaliser.

The normaliser turns EPC URNs (``urn:epc:id:sscc:...``), EPC class and pattern URNs and any GS1
Digital Link URI into the canonical ``https://id.gs1.org/...`` form that the CBV 2.0 Event Hash ID
(CBV 2.0 section 8.9, rules 12-14) requires, so that two spellings of one key hash the same.
Source: GS1 Tag Data Standard 2.1 (EPC URI syntax) and GS1 Digital Link 1.4 (canonical URI),
as implemented by the reference event-hash generator (RalphTro/epcis-event-hash-generator).
"""

from __future__ import annotations

import re

_DL_DOMAIN = "https://id.gs1.org"


def check_digit(digits: str) -> str:
    """GS1 mod-10 check digit for a key without its check digit (weights 3,1 from the right)."""
    # the digits at odd places from the right weigh 3, the others 1 (two C-level sums)
    total = 3 * sum(map(int, digits[::-1][::2])) + sum(map(int, digits[::-1][1::2]))
    return str((10 - total % 10) % 10)


def _with_check(raw: str) -> str:
    return raw + check_digit(raw)


def _pct(text: str) -> str:
    """Percent-encode the characters GS1 Digital Link (table 7-1) forbids in a path segment."""
    for char, code in (
        ("!", "%21"),
        ("(", "%28"),
        (")", "%29"),
        ("*", "%2A"),
        ("+", "%2B"),
        (",", "%2C"),
        (":", "%3A"),
    ):
        text = text.replace(char, code)
    return text


def sscc(company_prefix: str, serial_ref: str, extension: str = "0") -> str:
    """The SSCC (18 digits) of a parcel or bag: extension digit + prefix + serial + check."""
    raw = extension + company_prefix + serial_ref
    if not raw.isdigit() or len(raw) != 17:
        raise ValueError(f"SSCC needs 17 digits before the check digit, got {raw!r}")
    return _with_check(raw)


def sscc_urn(company_prefix: str, serial_ref: str, extension: str = "0") -> str:
    """EPC pure-identity URN of an SSCC (TDS 2.1 section 6.3.2)."""
    if len(extension + company_prefix + serial_ref) != 17:
        raise ValueError("SSCC needs 17 digits before the check digit")
    return f"urn:epc:id:sscc:{company_prefix}.{extension}{serial_ref}"


def sgln_urn(company_prefix: str, location_ref: str, extension: str = "0") -> str:
    """EPC pure-identity URN of an SGLN (a GLN with an optional extension)."""
    if len(company_prefix + location_ref) != 12:
        raise ValueError("a GLN needs 12 digits before the check digit")
    return f"urn:epc:id:sgln:{company_prefix}.{location_ref}.{extension}"


def gln(company_prefix: str, location_ref: str) -> str:
    return _with_check(company_prefix + location_ref)


_CHARS = r"(?:%[0-9A-Fa-f]{2}|[!')(*+,.0-9:;=A-Za-z_-])"


def _split(body: str, total: int) -> tuple[str, str, str] | None:
    """Split ``prefix.ref[.rest]``: len(prefix)+len(ref) == total, prefix of 6-12 digits."""
    parts = body.split(".", 2)
    if len(parts) < 2:
        return None
    prefix, ref = parts[0], parts[1]
    rest = parts[2] if len(parts) == 3 else ""
    if not (prefix.isdigit() and 6 <= len(prefix) <= 12 and len(prefix) + len(ref) == total):
        return None
    if ref and not ref.isdigit():
        return None
    return prefix, ref, rest


def _gtin(prefix: str, item: str) -> str:
    return _with_check(item[:1] + prefix + item[1:])


def _serial_ok(serial: str, max_len: int) -> bool:
    return re.fullmatch(f"{_CHARS}{{1,{max_len}}}", serial) is not None


def _from_urn(uri: str) -> str | None:
    m = re.fullmatch(r"urn:epc:(id|class|idpat):([a-z]+):(.+)", uri)
    if m is None:
        return None
    kind, scheme, body = m.groups()
    d = _DL_DOMAIN
    if kind == "id":
        if scheme == "sgtin" and (s := _split(body, 13)) and _serial_ok(s[2], 20):
            return f"{d}/01/{_gtin(s[0], s[1])}/21/{_pct(s[2])}"
        if scheme == "sscc" and (s := _split(body, 17)) and not s[2] and "." not in body[-1:]:
            return f"{d}/00/{_with_check(s[1][:1] + s[0] + s[1][1:])}"
        if scheme == "sgln" and (s := _split(body, 12)) and _serial_ok(s[2], 20):
            base = f"{d}/414/{_with_check(s[0] + s[1])}"
            return base if s[2] == "0" else f"{base}/254/{_pct(s[2])}"
        if scheme == "grai" and (s := _split(body, 12)) and _serial_ok(s[2], 16):
            return f"{d}/8003/{_with_check('0' + s[0] + s[1])}{_pct(s[2])}"
        if (
            scheme in ("giai", "ginc")
            and (g := body.split(".", 1))
            and len(g) == 2
            and g[0].isdigit()
            and 6 <= len(g[0]) <= 12
            and _serial_ok(g[1], 30 - len(g[0]))
        ):
            return f"{d}/{'8004' if scheme == 'giai' else '401'}/{g[0]}{_pct(g[1])}"
        if scheme in ("gsrn", "gsrnp") and (s := _split(body, 17)) and not s[2]:
            ai = "8018" if scheme == "gsrn" else "8017"
            return f"{d}/{ai}/{_with_check(s[0] + s[1])}"
        if scheme == "gdti" and (s := _split(body, 12)) and _serial_ok(s[2], 17):
            return f"{d}/253/{_with_check(s[0] + s[1])}{_pct(s[2])}"
        if scheme == "sgcn" and (s := _split(body, 12)) and re.fullmatch(r"\d{1,12}", s[2]):
            return f"{d}/255/{_with_check(s[0] + s[1])}{s[2]}"
        if scheme == "cpi" and (m2 := re.fullmatch(r"(\d{6,12})\.([^.]+)\.(\d{1,12})", body)):
            return f"{d}/8010/{_pct(m2.group(1) + m2.group(2))}/8011/{m2.group(3)}"
        if scheme == "gsin" and (s := _split(body, 16)) and not s[2]:
            return f"{d}/402/{_with_check(s[0] + s[1])}"
        if (
            scheme == "itip"
            and (m2 := re.fullmatch(r"(\d+)\.(\d+)\.(\d\d)\.(\d\d)\.(.+)", body))
            and len(m2.group(1)) + len(m2.group(2)) == 13
            and _serial_ok(m2.group(5), 20)
        ):
            gtin = _gtin(m2.group(1), m2.group(2))
            return f"{d}/8006/{gtin}{m2.group(3)}{m2.group(4)}/21/{_pct(m2.group(5))}"
        if scheme == "upui" and (s := _split(body, 13)) and _serial_ok(s[2], 28):
            return f"{d}/01/{_gtin(s[0], s[1])}/235/{_pct(s[2])}"
        if scheme == "pgln" and (s := _split(body, 12)) and not s[2]:
            return f"{d}/417/{_with_check(s[0] + s[1])}"
        return None
    if kind == "class":
        if scheme == "lgtin" and (s := _split(body, 13)) and _serial_ok(s[2], 20):
            return f"{d}/01/{_gtin(s[0], s[1])}/10/{_pct(s[2])}"
        return None
    # idpat: only the "whole class" patterns (serial '*') have a Digital Link equivalent
    if not body.endswith(".*"):
        return None
    body = body[:-2]
    if scheme in ("sgtin", "upui") and (s := _split(body, 13)) and not s[2]:
        return f"{d}/01/{_gtin(s[0], s[1])}"
    if scheme == "grai" and (s := _split(body, 12)) and not s[2]:
        return f"{d}/8003/{_with_check('0' + s[0] + s[1])}"
    if scheme == "gdti" and (s := _split(body, 12)) and not s[2]:
        return f"{d}/253/{_with_check(s[0] + s[1])}"
    if scheme == "sgcn" and (s := _split(body, 12)) and not s[2]:
        return f"{d}/255/{_with_check(s[0] + s[1])}"
    if scheme == "cpi" and (m2 := re.fullmatch(r"(\d{6,12})\.([^.]+)", body)):
        return f"{d}/8010/{_pct(m2.group(1) + m2.group(2))}"
    if (
        scheme == "itip"
        and (m2 := re.fullmatch(r"(\d+)\.(\d+)\.(\d{2})\.(\d{2})", body))
        and len(m2.group(1)) + len(m2.group(2)) == 13
    ):
        return f"{d}/8006/{_gtin(m2.group(1), m2.group(2))}{m2.group(3)}{m2.group(4)}"
    return None


_KEYS = (
    r"01|gtin|8006|itip|8010|cpid|414|gln|417|party|8017|gsrnp|8018|gsrn|255|gcn|00|sscc|253"
    r"|gdti|401|ginc|402|gsin|8003|grai|8004|giai"
)
_DL_SHAPE = re.compile(
    r"^https?:(//(([^/?#]*)@)?([^/?#:]*)(:([^/?#]*))?)?(([^?#]*)(/("
    + _KEYS
    + r")/)(\d{4}[^/]+)(/[^/]+/[^/]+)?/?(\?([^?\n]*))?(#([^\n]*))?|(/[A-Za-z_-]{10}$))"
)
_SHORT_NAMES = (
    ("/gtin/", "/01/"),
    ("/itip/", "/8006/"),
    ("/cpid/", "/8010/"),
    ("/gln/", "/414/"),
    ("/party/", "/417/"),
    ("/gsrnp/", "/8017/"),
    ("/gsrn/", "/8018/"),
    ("/gcn/", "/255/"),
    ("/sscc/", "/00/"),
    ("/gdti/", "/253/"),
    ("/ginc/", "/401/"),
    ("/gsin/", "/402/"),
    ("/grai/", "/8003/"),
    ("/giai/", "/8004/"),
    ("/cpv/", "/22/"),
    ("/lot/", "/10/"),
    ("/ser/", "/21/"),
)
_PRIMARY = (
    "00",
    "01",
    "253",
    "255",
    "401",
    "402",
    "414",
    "417",
    "8003",
    "8004",
    "8006",
    "8010",
    "8017",
    "8018",
)
_X = r"[\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]"
_VALID = [
    re.compile("^https://id\\.gs1\\.org" + p + "$")
    for p in (
        r"/00/\d{18}",
        rf"/01/\d{{14}}/21/{_X}{{0,20}}",
        rf"/01/\d{{14}}/10/{_X}{{0,20}}",
        r"/01/\d{14}",
        rf"/01/\d{{14}}/235/{_X}{{0,28}}",
        rf"/253/\d{{13}}{_X}{{0,17}}",
        r"/255/\d{13}\d{0,12}",
        rf"/401/{_X}{{0,30}}",
        r"/402/\d{17}",
        r"/414/\d{13}",
        rf"/414/\d{{13}}/254/{_X}{{0,20}}",
        r"/417/\d{13}",
        rf"/8003/\d{{14}}{_X}{{0,16}}",
        rf"/8004/{_X}{{0,30}}",
        rf"/8006/\d{{18}}/21/{_X}{{0,20}}",
        rf"/8006/\d{{18}}/10/{_X}{{0,20}}",
        r"/8006/\d{18}",
        r"/8010/[\x23\x2D\x2F\x30-\x39\x41-\x5A]{0,30}/8011/\d{0,12}",
        r"/8010/[\x23\x2D\x2F\x30-\x39\x41-\x5A]{0,30}",
        r"/8017/\d{18}",
        r"/8018/\d{18}",
    )
]


def _from_digital_link(uri: str) -> str | None:
    if _DL_SHAPE.match(uri) is None:
        return None
    uri = uri.split("?", 1)[0]
    for short, ai in _SHORT_NAMES:
        uri = uri.replace(short, ai)
    if not re.match(r"^https://id\.gs1\.org/(" + "|".join(_PRIMARY) + r")/\d{4}", uri):
        for ai in _PRIMARY:
            at = uri.find(f"/{ai}/")
            if at != -1:
                uri = _DL_DOMAIN + uri[at:]
                break
    m = re.match(r"^(https://id\.gs1\.org/01/)(\d+)", uri)
    if m and len(m.group(2)) in (8, 12, 13):
        uri = m.group(1) + m.group(2).zfill(14) + uri[m.end() :]
    # drop the consumer product variant (AI 22) and, when a serial is present, the lot (AI 10)
    key = r"^(https://id\.gs1\.org/(?:01/\d{14}|8006/\d{18}))"
    uri = re.sub(key + f"/22/{_X}{{0,20}}", r"\1", uri)
    uri = re.sub(key + f"/10/{_X}{{0,20}}(/21/)", r"\1\2", uri)
    return uri if any(p.match(uri) for p in _VALID) else None


def normalise(uri: str) -> str | None:
    """The canonical GS1 Digital Link URI of an identifier, or None if it conveys no GS1 key."""
    if uri.startswith("urn:epc:"):
        return _from_urn(uri)
    if uri.startswith("http"):
        return _from_digital_link(uri)
    return None
