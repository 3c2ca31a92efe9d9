"""The declaring enterprise's identity on China E-Port: configuration, not data of a message.

Every CEB message the platform sends carries a ``BaseTransfer`` naming the enterprise whose
client transmits it (copCode, copName, dxpId); customs checks it against the client's identity,
so it must be the operator's real registration, never a default. It comes from, lowest priority
first: a TOML file named by ``XBORDER_CEB_CONFIG`` (a ``[ceb]`` table), the environment
(``XBORDER_CEB_COP_CODE``, ``XBORDER_CEB_COP_NAME``, ``XBORDER_CEB_DXP_ID``, and for signing
``XBORDER_CEB_KEY_FILE``, ``XBORDER_CEB_CERT_FILE``), then the command's options. This module is
pure: the caller reads the environment and the file and hands their contents in.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from xborder.domain.errors import InvalidValue

ENV_CONFIG = "XBORDER_CEB_CONFIG"
# setting -> (environment variable, TOML key in [ceb], command-line option)
SOURCES: Mapping[str, tuple[str, str, str]] = {
    "cop_code": ("XBORDER_CEB_COP_CODE", "cop_code", "--cop-code"),
    "cop_name": ("XBORDER_CEB_COP_NAME", "cop_name", "--cop-name"),
    "dxp_id": ("XBORDER_CEB_DXP_ID", "dxp_id", "--dxp-id"),
    "key_file": ("XBORDER_CEB_KEY_FILE", "key_file", "--key"),
    "cert_file": ("XBORDER_CEB_CERT_FILE", "cert_file", "--cert"),
}
# (CEB element, setting, max length): the BaseTransfer schema's bounds (202205)
_IDENTITY = (("copCode", "cop_code", 18), ("copName", "cop_name", 100), ("dxpId", "dxp_id", 30))


@dataclass(frozen=True, slots=True)
class Enterprise:
    """The transmitting enterprise (``BaseTransfer``) and, when it signs, its key and
    certificate files (PEM)."""

    cop_code: str
    cop_name: str
    dxp_id: str
    dxp_mode: str = "DXP"
    key_file: str | None = None
    cert_file: str | None = None

    def base_transfer(self) -> dict[str, str]:
        """The BaseTransfer fields in the schema's order."""
        return {
            "copCode": self.cop_code,
            "copName": self.cop_name,
            "dxpMode": self.dxp_mode,
            "dxpId": self.dxp_id,
        }


def _toml(text: str | None, where: str) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidValue(where, f"not valid TOML: {exc}") from None
    table = doc.get("ceb", {})
    if not isinstance(table, dict):
        raise InvalidValue(f"{where} [ceb]", "must be a table")
    unknown = sorted(set(table) - {toml for _, toml, _ in SOURCES.values()})
    if unknown:
        raise InvalidValue(f"{where} [ceb].{unknown[0]}", "not a setting of the CEB enterprise")
    for key, value in table.items():
        if not isinstance(value, str):
            raise InvalidValue(f"{where} [ceb].{key}", "must be a string", value)
    return dict(table)


def enterprise_from(
    env: Mapping[str, str],
    config_text: str | None = None,
    overrides: Mapping[str, str | None] | None = None,
    *,
    config_name: str = ENV_CONFIG,
) -> Enterprise:
    """The enterprise from the TOML text of the config file, the environment and the overrides
    (each later source wins). A missing or malformed identity raises ``InvalidValue`` naming
    what to set."""
    settings: dict[str, str] = {}
    for name, value in _toml(config_text, config_name).items():
        settings[next(k for k, (_, toml, _) in SOURCES.items() if toml == name)] = value
    for name, (variable, _, _) in SOURCES.items():
        if env.get(variable):
            settings[name] = env[variable]
    for name, value in (overrides or {}).items():
        if value:
            settings[name] = value
    for element, name, longest in _IDENTITY:
        variable, toml, option = SOURCES[name]
        value = settings.get(name, "").strip()
        if not value:
            raise InvalidValue(
                f"enterprise.{element}",
                f"is not configured: set {variable}, {toml} in the [ceb] table of the file "
                f"{ENV_CONFIG} names, or {option}",
            )
        if len(value) > longest or any(ord(c) < 32 for c in value):
            raise InvalidValue(
                f"enterprise.{element}", f"must be 1 to {longest} printable characters", value
            )
        settings[name] = value
    return Enterprise(
        settings["cop_code"],
        settings["cop_name"],
        settings["dxp_id"],
        key_file=settings.get("key_file") or None,
        cert_file=settings.get("cert_file") or None,
    )
