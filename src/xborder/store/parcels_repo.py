"""Parcels and consolidations in the store: the one parcel that planning, trace, customs and
settlement all refer to (by id, SSCC or tracking number)."""

from __future__ import annotations

from sqlalchemy import Connection


class ParcelRepository:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.postgres = connection.dialect.name == "postgresql"
