"""CEB XML messages and tariff books for the entry points, which may not reach into the engine.

The CLI and the API write and read China customs messages, read the JSON records a quote or a
match is given, and load national tariffs through these names; the engine (``xborder.customs``)
stays an implementation detail behind the service layer. Every bad input raises ``InvalidValue``
naming where (the file, its line or record) and why.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from xborder.customs.ceb import MAX_MESSAGE_BYTES, MESSAGE_TYPES, Message, generate, parse
from xborder.customs.ceb import message_type as _message_type
from xborder.customs.ceb_sign import ALGORITHMS, DEFAULT_ALGORITHM, sign, verify
from xborder.customs.enterprise import ENV_CONFIG, SOURCES, Enterprise, enterprise_from
from xborder.customs.tariffs import TariffBook, load_tariff_csv, shipped_book
from xborder.domain.errors import InvalidValue

__all__ = [
    "ALGORITHMS",
    "DEFAULT_ALGORITHM",
    "MAX_MESSAGE_BYTES",
    "MESSAGE_TYPES",
    "SOURCES",
    "Enterprise",
    "Message",
    "TariffBook",
    "WriteMessage",
    "build_message",
    "ceb_records",
    "json_document",
    "json_records",
    "load_enterprise",
    "load_tariff_csv",
    "parse_message",
    "shipped_book",
    "verify_message",
    "write_message",
]


def load_enterprise(
    overrides: Mapping[str, str | None] | None = None, env: Mapping[str, str] | None = None
) -> Enterprise:
    """The declaring enterprise from the file ``XBORDER_CEB_CONFIG`` names, the environment
    (``XBORDER_CEB_COP_CODE``, ...) and ``overrides`` (the command's options, by setting name:
    ``cop_code``, ``cop_name``, ``dxp_id``, ``key_file``, ``cert_file``)."""
    env = os.environ if env is None else env
    text = None
    path = env.get(ENV_CONFIG)
    if path:
        try:
            text = Path(path).read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidValue(ENV_CONFIG, f"cannot read {path}: {exc}") from None
    return enterprise_from(env, text, overrides, config_name=path or ENV_CONFIG)


@dataclass(frozen=True, slots=True)
class WriteMessage:
    """Write the CEB message ``code`` holding ``records`` for ``enterprise``, dated ``now``.

    Signed with the enterprise's key and certificate when it has them (``algorithm``:
    ``rsa-sha256``, or ``rsa-sha1`` for a receiver that verifies nothing else). A declaration
    list (CEB621, CEB603) without a key is refused unless ``unsigned``: then the message lacks
    ``ds:Signature`` (CEB621's schema requires it) and must be signed by the enterprise's
    signing client before it is sent.
    """

    code: str
    records: Sequence[Mapping[str, Any]]
    enterprise: Enterprise
    now: datetime | None
    guid: str | None = None
    unsigned: bool = False
    algorithm: str = DEFAULT_ALGORITHM


def _pem(path: str, what: str) -> bytes:
    try:
        with Path(path).open("rb") as handle:
            data = handle.read(1024 * 1024 + 1)
    except OSError as exc:
        raise InvalidValue(what, f"cannot read {path}: {exc.strerror}") from None
    if len(data) > 1024 * 1024:
        raise InvalidValue(what, f"{path} is larger than 1 MB: not a PEM file")
    return data


def write_message(command: WriteMessage) -> bytes:
    """The CEB XML message of ``command``; a bad record, a missing identity or key raises
    ``InvalidValue`` naming what and why."""
    mtype = _message_type(command.code, written=True)
    if command.algorithm not in ALGORITHMS:
        raise InvalidValue("algorithm", f"must be one of {', '.join(ALGORITHMS)}")
    ent = command.enterprise
    signing = not command.unsigned and (ent.key_file or ent.cert_file)
    if mtype.is_list and not command.unsigned and not signing:
        raise InvalidValue(
            "signature",
            f"{mtype.code} is a declaration list and must be signed: give the enterprise's key "
            "and certificate (--key/--cert or XBORDER_CEB_KEY_FILE/XBORDER_CEB_CERT_FILE), or "
            "--unsigned to hand the message to a signing client",
        )
    body = generate(
        mtype.code, list(command.records), enterprise=ent, now=command.now, guid=command.guid
    )
    if not signing:
        return body
    if not (ent.key_file and ent.cert_file):
        missing = "key (--key, XBORDER_CEB_KEY_FILE)" if not ent.key_file else "certificate"
        raise InvalidValue("signature", f"signing needs both key and certificate: {missing}")
    return sign(body, _pem(ent.key_file, "key"), _pem(ent.cert_file, "cert"), command.algorithm)


def build_message(
    code: str,
    records: list[Mapping[str, Any]],
    *,
    now: datetime | None = None,
    guid: str | None = None,
    enterprise: Enterprise | None = None,
    unsigned: bool = False,
) -> bytes:
    """``write_message`` with the enterprise from configuration (``load_enterprise``) unless
    given. Without ``now`` the records must carry their own appTime."""
    ent = enterprise or load_enterprise()
    return write_message(WriteMessage(code, records, ent, now, guid, unsigned))


def parse_message(data: bytes) -> Message:
    """One CEB XML message from outside (no DOCTYPE, no entities, no network, bounded size and
    depth); malformed XML or a message that is not CEB raises ``InvalidValue``."""
    return parse(data)


def verify_message(data: bytes, cert_pem: bytes | None = None, algorithm: str = "") -> bytes:
    """Verify a message's enveloped signature (``InvalidValue`` when it does not)."""
    return verify(data, cert_pem, algorithm or DEFAULT_ALGORITHM)


def _text(data: bytes | str, where: str) -> str:
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidValue(where, "not UTF-8 text") from None


def json_document(data: bytes | str, where: str) -> Any:
    """One JSON document; numbers with a fraction become exact ``Decimal``s, never floats
    (``NaN`` and ``Infinity`` too, so the field they sit in refuses them by name)."""
    text = _text(data, where)
    try:
        return json.loads(text, parse_float=Decimal, parse_constant=Decimal)
    except json.JSONDecodeError as exc:
        reason = f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        raise InvalidValue(where, reason) from None
    except RecursionError:
        raise InvalidValue(where, "not valid JSON: nested too deeply") from None
    except ValueError:  # Python refuses integers of more than 4,300 digits
        raise InvalidValue(where, "not valid JSON: a number has too many digits") from None


def json_records(data: bytes | str, where: str) -> list[Any]:
    """JSON lines (one record a line, blank lines skipped) or one JSON array of records."""
    text = _text(data, where)
    stripped = text.strip()
    if stripped.startswith("["):
        return list(json_document(stripped, where))
    return [
        json_document(line, f"{where} line {i}")
        for i, line in enumerate(text.splitlines(), 1)
        if line.strip()
    ]


def ceb_records(data: bytes, where: str) -> list[dict[str, Any]]:
    """The records of a CEB XML message, or JSON records (lines or an array) in the same shape."""
    if data.lstrip()[:1] == b"<":
        try:
            return parse(data).records
        except InvalidValue as exc:
            raise InvalidValue(where, str(exc)) from None
    records = json_records(data, where)
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise InvalidValue(f"{where} record {i + 1}", "must be a JSON object")
    return records
