"""The store adapter: SQLAlchemy 2 Core tables, Alembic migrations, repositories, unit of work."""
