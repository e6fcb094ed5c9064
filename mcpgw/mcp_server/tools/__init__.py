"""The MCP tools, one module per area; each exposes ``register(server, ctx)``."""
