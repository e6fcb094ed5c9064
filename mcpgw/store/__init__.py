"""SQLite storage: one database file, numbered migrations, a write-behind queue with group commit."""

from mcpgw.store.db import Store, connect_sync, migrate

__all__ = ["Store", "connect_sync", "migrate"]
