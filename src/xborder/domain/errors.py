"""Domain errors. Every validation error names the field and the reason."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base class of every error the domain raises on purpose."""


class InvalidValue(DomainError, ValueError):
    """A value failed validation: ``field`` names where, ``reason`` says why."""

    def __init__(self, field: str, reason: str, value: Any = None) -> None:
        self.field = field
        self.reason = reason
        self.value = value
        super().__init__(f"{field}: {reason}" + (f" (got {value!r})" if value is not None else ""))


class CurrencyMismatch(DomainError, ValueError):
    """Arithmetic or comparison across two currencies."""


class MissingRate(DomainError, LookupError):
    """No FX rate in force for the pair on that date."""


class Conflict(DomainError):
    """An idempotent operation was repeated with different content."""


class NotFound(DomainError, LookupError):
    """A referenced entity does not exist."""


class Unauthorized(DomainError):
    """No valid credentials: the API key is missing, malformed, unknown, revoked or wrong.

    The message never says which, so a caller cannot probe for key ids."""


class Forbidden(DomainError):
    """The principal is authenticated but its key lacks the scope the action needs."""


class RateLimited(DomainError):
    """The key spent its allowance for the current window; retry after ``retry_after_seconds``."""

    def __init__(self, retry_after_seconds: int, message: str | None = None) -> None:
        self.retry_after_seconds = retry_after_seconds
        super().__init__(message or f"rate limit exceeded; retry after {retry_after_seconds} s")
