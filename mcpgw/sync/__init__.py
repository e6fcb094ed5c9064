"""Team mode: the local SQLite stays the user's source; an outbox is pushed to a shared Postgres
(:mod:`mcpgw.sync.outbox`, :mod:`mcpgw.sync.postgres`) and Redis holds the shared response cache and
budget counters (:mod:`mcpgw.sync.redis`). :mod:`mcpgw.sync.service` is the daemon's startup hook.

Submodules import their drivers (psycopg, redis) themselves, so importing this package costs nothing
when team mode is off.
"""
