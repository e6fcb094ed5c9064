"""Agent modes that run where the user's code is: ``tests fix``, ``refactor`` and ``spec-first``.

The loops run in the client (tests need the user's files and tools); every model call goes through the
daemon's ``POST /v1/code-agent``; every file change goes through :mod:`mcpgw.patch` with the undo journal.
"""
