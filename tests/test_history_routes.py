"""The /v1/history routes in-process: record, list with filters, fetch by prefix, delete by id or date."""

from __future__ import annotations

from typing import Any

from mcpgw.paths import Paths
from tests.conftest import app_client


def _entry(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "command": "apply",
        "args": ["--yes", "fix.diff"],
        "mode": "diff",
        "files": [{"path": "fix.diff", "sha256": "a" * 64}],
        "success": True,
        "cost": 0.0125,
        "models": ["openai/gpt-4o-mini"],
        "duration_ms": 12,
        "cwd": "/tmp/x",
        "git_commit": "b" * 40,
    }
    base.update(over)
    return base


async def test_record_list_get_delete(paths: Paths) -> None:
    async with app_client(paths) as client:
        first = (await client.post("/v1/history", json=_entry(timestamp="2026-01-01T10:00:00Z"))).json()["id"]
        second = (
            await client.post(
                "/v1/history",
                json=_entry(command="chat", args=["explain async/await"], mode="chat", success=False,
                            error="upstream down", timestamp="2026-01-02T10:00:00+02:00"),
            )
        ).json()["id"]
        assert len(first) == 8 and first != second

        entries = (await client.get("/v1/history")).json()["entries"]
        assert [e["id"] for e in entries] == [second, first]  # newest first
        assert entries[0]["timestamp"] == "2026-01-02T08:00:00.000Z"  # offsets normalised to UTC
        one = entries[1]
        assert one["args"] == ["--yes", "fix.diff"] and one["files"][0]["path"] == "fix.diff"
        assert one["success"] is True and one["cost"] == 0.0125 and one["models"] == ["openai/gpt-4o-mini"]

        assert [e["id"] for e in (await client.get("/v1/history?failed=true")).json()["entries"]] == [second]
        assert [e["id"] for e in (await client.get("/v1/history?mode=diff")).json()["entries"]] == [first]
        assert [e["id"] for e in (await client.get("/v1/history?search=ASYNC")).json()["entries"]] == [second]
        assert [e["id"] for e in (await client.get("/v1/history?search=upstream")).json()["entries"]] == [second]
        assert (await client.get("/v1/history?search=100%25")).json()["entries"] == []  # % is literal
        assert len((await client.get("/v1/history?last=1")).json()["entries"]) == 1

        got = await client.get(f"/v1/history/{first[:5]}")
        assert got.status_code == 200 and got.json()["id"] == first
        missing = await client.get("/v1/history/ffffffff" if not first.startswith("ffff") else "/v1/history/00000000")
        assert missing.status_code == 404 and "fix" in missing.json()
        assert (await client.get("/v1/history/not-an-id")).status_code == 400

        gone = await client.delete(f"/v1/history/{first}")
        assert gone.json() == {"deleted": 1, "ids": [first]}
        assert (await client.get(f"/v1/history/{first}")).status_code == 404


async def test_delete_before_and_bad_input(paths: Paths) -> None:
    async with app_client(paths) as client:
        for day in ("01", "02", "03"):
            await client.post("/v1/history", json=_entry(timestamp=f"2026-03-{day}T12:00:00Z"))
        result = (await client.delete("/v1/history?before=2026-03-02T12:00:00Z")).json()
        assert result["deleted"] == 1 and result["before"] == "2026-03-02T12:00:00.000Z"
        assert len((await client.get("/v1/history")).json()["entries"]) == 2

        bad = await client.delete("/v1/history?before=yesterday-ish")
        assert bad.status_code == 400 and "ISO-8601" in bad.json()["detail"] and bad.json()["fix"]
        assert (await client.delete("/v1/history")).status_code == 400
        assert (await client.post("/v1/history", json={"args": []})).status_code == 400  # no command
        assert (await client.post("/v1/history", json=_entry(cost=-1))).status_code == 400
        assert (await client.post("/v1/history", json=_entry(timestamp="soon"))).status_code == 400


async def test_ambiguous_prefix_is_a_usage_error(paths: Paths) -> None:
    async with app_client(paths) as client:
        store = client.app.state.store  # type: ignore[attr-defined]
        for hid in ("abcd1111", "abcd2222"):
            await store.write("INSERT INTO history (id, command) VALUES (?, 'chat')", (hid,))
        answer = await client.get("/v1/history/abcd")
        assert answer.status_code == 400 and "ambiguous" in answer.json()["detail"]
        assert (await client.get("/v1/history/abcd2")).json()["id"] == "abcd2222"
