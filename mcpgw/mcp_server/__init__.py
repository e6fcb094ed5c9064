"""The MCP stdio server for editors: file, git and test tools on a root directory, and the gateway's
chat, code agent, cache, database, search and usage through the daemon."""
