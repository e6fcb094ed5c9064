"""The mcpgw exception tree. Lower layers raise these (``raise X(...) from exc``); only the boundaries
(the CLI, the daemon's HTTP error handler, the MCP server) turn them into messages and exit codes.

    MCPGWError                      base: ``message`` + optional ``fix`` (one line telling the user what to do)
    ├── ConfigError                 a config or policy file is invalid (names file, key/line, expected value)
    ├── UsageError                  bad arguments or input the user can correct (exit 2)
    ├── DaemonError                 the daemon cannot be reached or started
    │   └── VersionMismatch         CLI and daemon versions differ
    ├── StoreError                  the database cannot be opened, migrated or written
    ├── NotFound                    an id (trace, history entry, key, …) does not exist
    ├── GatewayError                a model request failed; ``status`` is its HTTP status
    │   ├── PolicyViolation         400: the prompt broke the project policy
    │   │   └── OutputPolicyViolation   422: the answer broke it (withheld)
    │   ├── BudgetExceeded          429: a budget or quota would be exceeded
    │   ├── NoRoute                 503: no usable model for the request
    │   ├── UpstreamError           502: a provider failed (names the provider)
    │   └── ConfirmationRequired    409: escalation needs the user's consent
    ├── PatchError                  a patch is malformed or does not apply
    └── IndexError_                 the code index is missing or unusable
"""

from __future__ import annotations

from typing import Any


class MCPGWError(Exception):
    """Base of every error mcpgw raises on purpose."""

    exit_code = 1
    status = 500
    type = "about:blank"

    def __init__(self, message: str, *, fix: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix
        self.details = details

    def __str__(self) -> str:
        return self.message


class ConfigError(MCPGWError):
    status = 400
    type = "config-invalid"


class UsageError(MCPGWError):
    exit_code = 2
    status = 400
    type = "bad-request"


class DaemonError(MCPGWError):
    type = "daemon-unavailable"


class VersionMismatch(DaemonError):
    type = "version-mismatch"


class StoreError(MCPGWError):
    type = "store-error"


class NotFound(MCPGWError):
    status = 404
    type = "not-found"


class GatewayError(MCPGWError):
    status = 500
    type = "gateway-error"


class PolicyViolation(GatewayError):
    status = 400
    type = "policy-violation"


class OutputPolicyViolation(PolicyViolation):
    status = 422
    type = "output-policy-violation"


class BudgetExceeded(GatewayError):
    status = 429
    type = "budget-exceeded"


class NoRoute(GatewayError):
    status = 503
    type = "no-route"


class UpstreamError(GatewayError):
    status = 502
    type = "upstream-error"


class ConfirmationRequired(GatewayError):
    status = 409
    type = "confirmation-required"


class PatchError(MCPGWError):
    type = "patch-error"


class IndexError_(MCPGWError):
    status = 409
    type = "index-missing"
