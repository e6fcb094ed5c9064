"""The Textual TUI (``mcpgw tui``). Imports only the daemon client and shared models, never the store,
providers or gateway internals; the daemon never imports this package."""
