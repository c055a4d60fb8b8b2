"""Persistence: SQLAlchemy models, exact money columns, Alembic migrations (SQLite or PostgreSQL)."""

from .db import Database, DatabaseError

__all__ = ["Database", "DatabaseError"]
