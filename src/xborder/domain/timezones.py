"""Local time zones for event times: EPCIS records each event's ``eventTimeZoneOffset``.

A country's offset is taken from one representative IANA zone (the capital's, or the main
commercial one where the country spans several: US New York, CA Toronto, AU Sydney), through
the IANA tz database that ``zoneinfo`` reads (2025 release or later via the ``tzdata``
package). Daylight saving is applied for the event's own instant. A country not listed records
in UTC, which EPCIS allows (the offset is informative; eventTime itself is absolute).
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

COUNTRY_ZONE = {
    "CN": "Asia/Shanghai", "HK": "Asia/Hong_Kong", "JP": "Asia/Tokyo", "KR": "Asia/Seoul",
    "SG": "Asia/Singapore", "MY": "Asia/Kuala_Lumpur", "AU": "Australia/Sydney",
    "US": "America/New_York", "CA": "America/Toronto", "GB": "Europe/London",
    "IE": "Europe/Dublin", "DE": "Europe/Berlin", "FR": "Europe/Paris", "ES": "Europe/Madrid",
    "IT": "Europe/Rome", "NL": "Europe/Amsterdam", "PL": "Europe/Warsaw",
    "LU": "Europe/Luxembourg", "BE": "Europe/Brussels", "AT": "Europe/Vienna",
}  # fmt: skip


@lru_cache(maxsize=64)
def _zone(country: str) -> ZoneInfo | None:
    name = COUNTRY_ZONE.get(country)
    return ZoneInfo(name) if name else None


def utc_offset(country: str | None, at: datetime) -> str:
    """``+08:00``-style offset of the country's zone at the instant ``at`` (``+00:00`` if
    unknown)."""
    zone = _zone(country or "")
    if zone is None:
        return "+00:00"
    offset = at.astimezone(zone).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
