"""The WHERE clauses every event query of the trace ledger shares: what a party may see, and
equality filters on the query columns (one definition for the ledger's reads and the EPCIS
REST bindings' reads)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# A party sees the objects it takes part in and the containers (bags) that carried them.
VISIBLE_TO_VIEWER = (
    "(e.object_id IN (SELECT object_id FROM trace_participants WHERE party_id = :viewer)"
    " OR e.object_id IN (SELECT m.container_id FROM trace_memberships m"
    " JOIN trace_participants tp ON tp.object_id = m.member_id"
    " WHERE tp.party_id = :viewer))"
)


def event_filters(
    visible_to: str | None, equals: Mapping[str, Iterable[Any]] | None, allowed: Sequence[str]
) -> tuple[list[str], dict[str, Any]]:
    """(conditions, parameters) on events ``e``; ``equals`` keys must be among ``allowed``
    (the column names are spliced into SQL, so nothing else is accepted)."""
    where: list[str] = ["1 = 1"]
    params: dict[str, Any] = {}
    if visible_to is not None:
        where.append(VISIBLE_TO_VIEWER)
        params["viewer"] = visible_to
    for column, values in (equals or {}).items():
        if column not in allowed:
            raise ValueError(f"not a queryable column: {column}")
        where.append(f"e.{column} IN :{column}")
        params[column] = list(values)
    return where, params
