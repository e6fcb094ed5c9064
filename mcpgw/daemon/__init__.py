"""The mcpgw daemon: an ASGI app served on a Unix socket (and optionally a keyed TCP listener)."""
