"""API keys and roles: key format and storage, the role table, the TCP-only middleware (in-process, with
the ASGI scope of a TCP connection), and the real daemon's TCP listener driven by the ``mcpgw keys`` CLI."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from mcpgw.config import load_settings
from mcpgw.daemon.server import bind_tcp_socket
from mcpgw.errors import ConfigError
from mcpgw.paths import Paths
from mcpgw.security.auth import (
    KEY_PREFIX,
    generate_key,
    hash_key,
    looks_like_key,
    required_role,
    role_allows,
)
from mcpgw.store import connect_sync
from tests.conftest import app_client


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_key_shape_and_hash() -> None:
    a, b = generate_key(), generate_key()
    assert a != b
    assert a.startswith(KEY_PREFIX) and len(a) == len(KEY_PREFIX) + 43
    assert looks_like_key(a)
    assert not looks_like_key(a[:-1]) and not looks_like_key("sk-" + a[3:])
    assert hash_key(a) == hash_key(a) != hash_key(b)
    assert len(hash_key(a)) == 64


@pytest.mark.parametrize(
    ("method", "path", "role"),
    [
        ("GET", "/v1/models", "viewer"),
        ("GET", "/health", "viewer"),
        ("GET", "/v1/stats", "viewer"),
        ("GET", "/v1/cache/entries/abc", "viewer"),
        ("POST", "/v1/chat/completions", "developer"),
        ("POST", "/v1/chat", "developer"),
        ("POST", "/v1/embeddings", "developer"),
        ("POST", "/v1/code-agent", "developer"),
        ("POST", "/v1/route", "developer"),
        ("POST", "/v1/context/c1", "developer"),
        ("GET", "/v1/keys", "admin"),
        ("POST", "/v1/keys", "admin"),
        ("DELETE", "/v1/keys/abc", "admin"),
        ("GET", "/v1/config", "admin"),
        ("POST", "/v1/db/backup", "admin"),
        ("POST", "/v1/cache/clear", "admin"),
        ("DELETE", "/v1/cache/entries/abc", "admin"),
        ("POST", "/v1/something-new", "admin"),
        ("POST", "/v1/chatty", "admin"),
    ],
)
def test_role_table(method: str, path: str, role: str) -> None:
    assert required_role(method, path) == role


def test_role_order() -> None:
    assert role_allows("admin", "developer") and role_allows("developer", "viewer")
    assert not role_allows("viewer", "developer") and not role_allows("developer", "admin")
    assert not role_allows("nobody", "viewer")


@pytest.fixture
async def pair(paths: Paths) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """(socket-like client, TCP-like client) on one in-process app. httpx's ASGITransport puts the URL's
    port in ``scope["server"]``: none for ``http://mcpgw`` (like the Unix socket), 8787 for the TCP one."""
    async with app_client(paths, load_settings(paths.config_file, environ={})) as sock:
        transport = httpx.ASGITransport(app=sock.app)  # type: ignore[attr-defined]
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8787") as tcp:
            yield sock, tcp


async def create(sock: httpx.AsyncClient, role: str, **extra: Any) -> dict[str, Any]:
    response = await sock.post("/v1/keys", json={"role": role, **extra})
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_socket_is_keyless_tcp_needs_a_key(pair: tuple[httpx.AsyncClient, httpx.AsyncClient]) -> None:
    sock, tcp = pair
    assert (await sock.get("/v1/version")).status_code == 200
    for headers in ({}, bearer("nope"), bearer(generate_key()), {"Authorization": "Basic abc"}):
        response = await tcp.get("/v1/version", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"] == "unauthorized"
    # OpenAI paths answer OpenAI's error object (what the SDKs parse).
    response = await tcp.post("/v1/chat/completions", json={})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "missing_api_key"


async def test_roles_are_enforced(pair: tuple[httpx.AsyncClient, httpx.AsyncClient]) -> None:
    sock, tcp = pair
    viewer = (await create(sock, "viewer"))["key"]
    developer = (await create(sock, "developer"))["key"]
    admin = (await create(sock, "admin"))["key"]

    assert (await tcp.get("/v1/version", headers=bearer(viewer))).status_code == 200
    denied = await tcp.post("/v1/chat/completions", json={"model": "mcpgw/auto"}, headers=bearer(viewer))
    assert denied.status_code == 403
    assert denied.json()["error"]["type"] == "permission_error"
    assert "needs 'developer'" in denied.json()["error"]["message"]

    assert (await tcp.get("/v1/keys", headers=bearer(developer))).status_code == 403
    assert (await tcp.post("/v1/keys", json={"role": "admin"}, headers=bearer(developer))).status_code == 403
    listing = await tcp.get("/v1/keys", headers=bearer(admin))
    assert listing.status_code == 200
    assert [k["role"] for k in listing.json()["keys"]] == ["viewer", "developer", "admin"]
    assert all("key" not in k and "key_hash" not in k for k in listing.json()["keys"])


async def test_revoke_takes_effect_at_once(pair: tuple[httpx.AsyncClient, httpx.AsyncClient]) -> None:
    sock, tcp = pair
    made = await create(sock, "viewer", name="ci")
    assert (await tcp.get("/v1/version", headers=bearer(made["key"]))).status_code == 200  # now cached
    revoked = await sock.delete(f"/v1/keys/{made['id'][:10]}")
    assert revoked.status_code == 200
    assert revoked.json()["active"] is False and revoked.json()["revoked_at"]
    assert (await tcp.get("/v1/version", headers=bearer(made["key"]))).status_code == 401
    assert (await sock.delete("/v1/keys/ffffffffff")).status_code == 404
    bad = await sock.delete("/v1/keys/zz")
    assert bad.status_code == 400 and "not a key id" in bad.json()["detail"]


async def test_bad_create_requests(pair: tuple[httpx.AsyncClient, httpx.AsyncClient]) -> None:
    sock, _ = pair
    response = await sock.post("/v1/keys", json={"role": "root"})
    assert response.status_code == 400
    assert response.json()["detail"].startswith("role:")
    assert (await sock.post("/v1/keys", json={"role": "viewer", "project": ""})).status_code == 400


async def test_only_the_hash_is_stored(paths: Paths, pair: tuple[httpx.AsyncClient, httpx.AsyncClient]) -> None:
    sock, tcp = pair
    made = await create(sock, "developer", project="web")
    assert made["project_id"] == "web" and made["prefix"] == made["key"][:12]
    assert (await tcp.get("/v1/version", headers=bearer(made["key"]))).status_code == 200
    await sock.app.state.store.flush()  # type: ignore[attr-defined]
    conn = connect_sync(paths.db_path, readonly=True)
    try:
        row = conn.execute("SELECT key_hash, last_used_at FROM api_keys WHERE id = ?", (made["id"],)).fetchone()
        rows = [tuple(r) for r in conn.execute("SELECT * FROM api_keys")]
    finally:
        conn.close()
    files = b"".join(p.read_bytes() for p in paths.db_path.parent.glob(paths.db_path.name + "*"))
    assert row["key_hash"] == hash_key(made["key"])
    assert row["last_used_at"] is not None
    assert not any(made["key"] in str(value) for r in rows for value in r)
    assert made["key"].encode() not in files


def test_non_loopback_needs_the_flag() -> None:
    with pytest.raises(ConfigError) as info:
        bind_tcp_socket(f"0.0.0.0:{free_port()}", allow_remote=False)
    assert "--allow-remote" in (info.value.fix or "")


def test_daemon_tcp_listener_with_cli_keys(cli: Any, paths: Paths) -> None:
    port = free_port()
    started = cli("daemon", "start", "--tcp", f"127.0.0.1:{port}")
    assert started.returncode == 0, started.stderr
    try:
        made = cli("keys", "create", "--role", "viewer", "--name", "laptop", "--json")
        assert made.returncode == 0, made.stderr
        key = json.loads(made.stdout)["key"]
        plain = cli("keys", "create", "--role", "admin")
        assert plain.returncode == 0 and looks_like_key(plain.stdout.strip())
        assert "only time" in plain.stderr

        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base) as http:
            assert http.get("/v1/version").status_code == 401
            assert http.get("/v1/version", headers=bearer(key)).status_code == 200
            assert http.post("/v1/chat/completions", json={}, headers=bearer(key)).status_code == 403

            listed = json.loads(cli("keys", "list", "--json").stdout)
            assert [(k["role"], k["name"]) for k in listed] == [("viewer", "laptop"), ("admin", "")]
            table = cli("keys", "list")
            assert "viewer" in table.stdout and key not in table.stdout

            key_id = next(k["id"] for k in listed if k["role"] == "viewer")
            assert cli("keys", "revoke", key_id).returncode == 0
            assert http.get("/v1/version", headers=bearer(key)).status_code == 401
        active = json.loads(cli("keys", "list", "--active", "--json").stdout)
        assert [k["role"] for k in active] == ["admin"]

        bad = cli("keys", "create", "--role", "owner")
        assert bad.returncode == 2 and "unknown role" in bad.stderr
        missing = cli("keys", "revoke", "abcdef123456")
        assert missing.returncode == 1 and "no API key" in missing.stderr
    finally:
        cli("daemon", "stop")
