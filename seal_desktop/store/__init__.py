"""The app's persistent state: one SQLite database (WAL, transactions, schema migrations)."""

from .db import Database, open_database

__all__ = ["Database", "open_database"]
