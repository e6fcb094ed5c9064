"""API keys and roles for the optional TCP listener.

The Unix socket is keyless (the server checks the peer's uid); every request that arrives over TCP must
carry ``Authorization: Bearer mcpgw_…``. A key is ``mcpgw_`` + 32 random bytes (URL-safe base64); only
its SHA-256 is stored. :class:`ApiKeyAuth` is a pure-ASGI middleware that leaves socket requests alone
(``scope["server"]`` has no port there) and, on TCP, answers 401 (missing/wrong/revoked key) or 403
(role too low) before the app runs. Key lookups are cached for a few seconds, so auth costs one hash
and one dict lookup per request; revoking through the daemon clears the cache at once.

Roles are ordered viewer < developer < admin. The role an endpoint needs (:func:`required_role`):

    ==========================================================  =========
    request                                                     role
    ==========================================================  =========
    any method on /v1/keys*, /v1/config*, /v1/db*, /v1/debug*,  admin
    /v1/cache/clear
    GET / HEAD / OPTIONS on anything else (models, stats,       viewer
    traces, history, health, events, cache entries …)
    POST /v1/chat, /v1/chat/completions, /v1/completions,       developer
    /v1/code-agent, /v1/embeddings, /v1/route, /v1/context/{id}
    any other write (PUT, DELETE, other POSTs)                  admin
    ==========================================================  =========

Unknown writes need admin: a new endpoint is closed over TCP until it is listed here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args

import orjson

from mcpgw.errors import MCPGWError, NotFound, UsageError
from mcpgw.ids import new_id

if TYPE_CHECKING:
    from mcpgw.daemon.state import DaemonState
    from mcpgw.store import Store

log = logging.getLogger(__name__)

Role = Literal["viewer", "developer", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
_RANK: dict[str, int] = {role: i for i, role in enumerate(ROLES)}
KEY_PREFIX = "mcpgw_"
_KEY_BYTES = 32
_KEY_LEN = len(KEY_PREFIX) + len(base64.urlsafe_b64encode(b"\0" * _KEY_BYTES).rstrip(b"="))
_SHOWN = len(KEY_PREFIX) + 6  # characters of a key kept in clear for listings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class Unauthorized(MCPGWError):
    """401: the request has no valid API key."""

    status = 401
    type = "unauthorized"


class Forbidden(MCPGWError):
    """403: the key is valid but its role or project does not allow this request."""

    status = 403
    type = "forbidden"


# ---- keys --------------------------------------------------------------------------------------


def generate_key() -> str:
    """A new secret key: ``mcpgw_`` + 32 random bytes, URL-safe base64 without padding."""
    return KEY_PREFIX + base64.urlsafe_b64encode(secrets.token_bytes(_KEY_BYTES)).rstrip(b"=").decode()


def hash_key(key: str) -> str:
    """The stored form of a key: its SHA-256, hex."""
    return hashlib.sha256(key.encode()).hexdigest()


def looks_like_key(token: str) -> bool:
    """Cheap shape check, so garbage never reaches the database."""
    return len(token) == _KEY_LEN and token.startswith(KEY_PREFIX)


def parse_role(value: str) -> Role:
    """Validate a role name given by a user."""
    if value not in _RANK:
        raise UsageError(f"unknown role {value!r}", fix=f"use one of: {', '.join(ROLES)}")
    return value  # type: ignore[return-value]


def role_allows(have: str, need: str) -> bool:
    """True when role ``have`` is at least ``need``."""
    return _RANK.get(have, -1) >= _RANK[need]


# ---- the role table ----------------------------------------------------------------------------

_ADMIN_PREFIXES = ("/v1/keys", "/v1/config", "/v1/db", "/v1/debug", "/v1/cache/clear")
_DEVELOPER_POSTS = frozenset(
    {"/v1/chat", "/v1/chat/completions", "/v1/completions", "/v1/code-agent", "/v1/embeddings", "/v1/route"}
)
_DEVELOPER_POST_PREFIXES = ("/v1/context/",)
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def required_role(method: str, path: str) -> Role:
    """The least role allowed to make this request (the table in the module docstring)."""
    path = path.rstrip("/") or "/"
    if any(_under(path, p) for p in _ADMIN_PREFIXES):
        return "admin"
    if method in _READ_METHODS:
        return "viewer"
    if method == "POST" and (path in _DEVELOPER_POSTS or path.startswith(_DEVELOPER_POST_PREFIXES)):
        return "developer"
    return "admin"


# ---- the key store -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A key as stored (never the secret itself)."""

    id: str
    name: str
    prefix: str
    role: Role
    project_id: str | None
    created_at: str
    last_used_at: str | None
    revoked_at: str | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["active"] = self.active
        return data


_COLUMNS = "id, name, prefix, role, project_id, created_at, last_used_at, revoked_at"


def _row_to_key(row: Any) -> ApiKey:
    return ApiKey(
        id=row["id"],
        name=row["name"],
        prefix=row["prefix"],
        role=row["role"],
        project_id=row["project_id"],
        created_at=row["created_at"],
        last_used_at=row["last_used_at"],
        revoked_at=row["revoked_at"],
    )


class ApiKeys:
    """Create, list, revoke and check API keys; checks are cached for ``ttl_s`` seconds."""

    def __init__(self, store: Store, *, ttl_s: float = 5.0, max_cached: int = 4096) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self.max_cached = max_cached
        self._cache: dict[str, tuple[float, ApiKey | None]] = {}

    async def create(self, role: str, *, project_id: str | None = None, name: str = "") -> tuple[ApiKey, str]:
        """Store a new key; returns its record and the secret (shown to the user once, never stored)."""
        checked = parse_role(role)
        if project_id is not None and not project_id.strip():
            raise UsageError("--project must not be empty")
        secret = generate_key()
        key_id = new_id()
        await self.store.write(
            "INSERT INTO api_keys (id, name, prefix, key_hash, role, project_id) VALUES (?, ?, ?, ?, ?, ?)",
            (key_id, name, secret[:_SHOWN], hash_key(secret), checked, project_id),
        )
        row = await self.store.read_one(f"SELECT {_COLUMNS} FROM api_keys WHERE id = ?", (key_id,))
        assert row is not None
        return _row_to_key(row), secret

    async def list(self, *, include_revoked: bool = True) -> list[ApiKey]:
        where = "" if include_revoked else "WHERE revoked_at IS NULL"
        rows = await self.store.read(f"SELECT {_COLUMNS} FROM api_keys {where} ORDER BY id")
        return [_row_to_key(r) for r in rows]

    async def revoke(self, key_id: str) -> ApiKey:
        """Revoke by id or a unique id prefix (at least 6 characters); revoking twice is harmless."""
        ident = key_id.strip().lower()
        if len(ident) < 6 or any(c not in "0123456789abcdef" for c in ident):
            raise UsageError(f"{key_id!r} is not a key id", fix="copy the id from `mcpgw keys list`")
        rows = await self.store.read(
            f"SELECT {_COLUMNS} FROM api_keys WHERE id >= ? AND id < ? LIMIT 2", (ident, ident + "g")
        )
        if not rows:
            raise NotFound(f"no API key with id {key_id}", fix="see `mcpgw keys list`")
        if len(rows) > 1:
            raise UsageError(f"{key_id!r} matches several keys", fix="give more characters of the id")
        key = _row_to_key(rows[0])
        if key.active:
            await self.store.write(
                "UPDATE api_keys SET revoked_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ?", (key.id,)
            )
            row = await self.store.read_one(f"SELECT {_COLUMNS} FROM api_keys WHERE id = ?", (key.id,))
            assert row is not None
            key = _row_to_key(row)
        self._cache.clear()
        return key

    async def authenticate(self, token: str) -> ApiKey | None:
        """The active key for ``token``, or None. Cached (hits and misses) for ``ttl_s`` seconds."""
        if not looks_like_key(token):
            return None
        digest = hash_key(token)
        now = time.monotonic()
        hit = self._cache.get(digest)
        if hit is not None and hit[0] > now:
            return hit[1]
        row = await self.store.read_one(
            f"SELECT {_COLUMNS}, key_hash FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL", (digest,)
        )
        key = _row_to_key(row) if row is not None and hmac.compare_digest(row["key_hash"], digest) else None
        if key is not None:
            self.store.enqueue(
                "UPDATE api_keys SET last_used_at = strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id = ?", (key.id,)
            )
        if len(self._cache) >= self.max_cached:
            self._cache.clear()  # bounded: random wrong keys cannot grow it without limit
        self._cache[digest] = (now + self.ttl_s, key)
        return key


def api_keys(state: DaemonState) -> ApiKeys:
    """The daemon's one :class:`ApiKeys` (created on first use, kept in ``state.services``)."""
    service = state.services.get("api_keys")
    if service is None:
        service = state.services["api_keys"] = ApiKeys(state.store)
    assert isinstance(service, ApiKeys)
    return service


def request_key(scope_or_state: Any) -> ApiKey | None:
    """The key a TCP request was authenticated with (None on the socket).

    Accepts a Starlette ``Request`` (reads ``request.state``) or an ASGI scope.
    """
    state = getattr(scope_or_state, "scope", scope_or_state).get("state") or {}
    key = state.get("api_key")
    return key if isinstance(key, ApiKey) else None


def scoped_project(request: Any, requested: str | None) -> str | None:
    """The project a request may act on: a project-scoped key pins it, and asking for another is 403."""
    key = request_key(request)
    if key is None or key.project_id is None:
        return requested
    if requested is not None and requested != key.project_id:
        raise Forbidden(
            f"this API key is limited to project {key.project_id!r}",
            fix="use a key created for that project, or one without --project",
        )
    return key.project_id


# ---- the middleware ----------------------------------------------------------------------------

_OPENAI_PATHS = ("/v1/chat/completions", "/v1/completions", "/v1/models", "/v1/embeddings")


def _is_tcp(scope: Scope) -> bool:
    server = scope.get("server")
    return server is not None and server[1] is not None


def _bearer(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else None
    return None


def _error_body(path: str, status: int, message: str, code: str, fix: str) -> tuple[bytes, bytes]:
    """OpenAI's error object on the OpenAI-compatible paths, RFC 9457 problem+json elsewhere."""
    if path.startswith(_OPENAI_PATHS):
        kind = "invalid_request_error" if status == 401 else "permission_error"
        body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
        return orjson.dumps(body), b"application/json"
    title = "Unauthorized" if status == 401 else "Forbidden"
    problem = {
        "type": "unauthorized" if status == 401 else "forbidden",
        "title": title,
        "status": status,
        "detail": message,
        "fix": fix,
    }
    return orjson.dumps(problem), b"application/problem+json"


class ApiKeyAuth:
    """Pure-ASGI middleware: API key + role check on TCP connections; socket requests pass untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not _is_tcp(scope):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        token = _bearer(scope)
        if not token:
            await self._deny(
                scope,
                send,
                401,
                "missing API key: send `Authorization: Bearer <key>`",
                "missing_api_key",
                "create a key with `mcpgw keys create --role developer`",
            )
            return
        state: DaemonState | None = getattr(scope["app"].state, "daemon", None) if "app" in scope else None
        if state is None:
            await self._deny(scope, send, 503, "the daemon is starting", "starting", "retry in a moment")
            return
        key = await api_keys(state).authenticate(token)
        if key is None:
            await self._deny(
                scope,
                send,
                401,
                "invalid or revoked API key",
                "invalid_api_key",
                "check the key, or create one with `mcpgw keys create`",
            )
            return
        need = required_role(scope.get("method", "GET"), path)
        if not role_allows(key.role, need):
            await self._deny(
                scope,
                send,
                403,
                f"this API key has role {key.role!r}; this endpoint needs {need!r}",
                "insufficient_role",
                f"use a key created with `mcpgw keys create --role {need}`",
            )
            return
        scope.setdefault("state", {})["api_key"] = key
        await self.app(scope, receive, send)

    @staticmethod
    async def _deny(scope: Scope, send: Send, status: int, message: str, code: str, fix: str) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": message[:120]})
            return
        body, content_type = _error_body(scope["path"], status, message, code, fix)
        headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
        if status == 401:
            headers.append((b"www-authenticate", b'Bearer realm="mcpgw"'))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
