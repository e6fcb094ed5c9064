"""The /v1/apply/journal routes in-process, and the reviewer's split and edit parsing."""

from __future__ import annotations

import base64

from mcpgw.patch import JournalEntry, JournalFile, parse_patch
from mcpgw.patch.review import hunk_from_text, hunk_to_text, split_hunk
from mcpgw.paths import Paths
from tests.conftest import app_client


async def test_journal_round_trip_prefix_lookup_and_undone(paths: Paths) -> None:
    entry = JournalEntry(
        "0" * 31 + "1",
        "/repo",
        (
            JournalFile("a.txt", b"\x00old\r\n", 0o644, "ab" * 32, 0o644),
            JournalFile("new.txt", None, None, "cd" * 32, 0o600),
        ),
        "p.diff",
    )
    async with app_client(paths) as client:
        r = await client.post("/v1/apply/journal", json=entry.to_json())
        assert r.status_code == 200, r.text
        dup = await client.post("/v1/apply/journal", json=entry.to_json())
        assert dup.status_code == 400
        latest = await client.get("/v1/apply/journal/latest", params={"root": "/repo"})
        got = JournalEntry.from_json(latest.json())
        assert got.files == entry.files
        assert (await client.get(f"/v1/apply/journal/{entry.id[:8]}")).json()["id"] == entry.id
        assert (await client.post(f"/v1/apply/journal/{entry.id}/undone", json={})).status_code == 200
        assert (await client.post(f"/v1/apply/journal/{entry.id}/undone", json={})).status_code == 400
        none_left = await client.get("/v1/apply/journal/latest", params={"root": "/repo"})
        assert none_left.status_code == 404
        assert none_left.json()["fix"]
        bad = entry.to_json() | {"id": "f" * 32}
        bad["files"][0]["before_b64"] = base64.b64encode(b"other").decode()
        rejected = await client.post("/v1/apply/journal", json=bad)
        assert rejected.status_code == 400
        assert "before_sha256 does not match" in rejected.json()["detail"]


PATCH = """--- a/f.txt
+++ b/f.txt
@@ -1,7 +1,7 @@
 one
-two
+TWO
 three
 four
 five
-six
+SIX
 seven
"""


def test_split_at_context_and_edit_round_trip() -> None:
    [hunk] = parse_patch(PATCH).files[0].hunks
    first, second = split_hunk(hunk)
    assert (first.old_start, first.old_len, first.new_len) == (1, 5, 5)
    assert (second.old_start, second.old_len) == (3, 5)
    assert [ln.text for ln in second.lines if ln.kind != " "] == ["six", "SIX"]
    assert split_hunk(first) == [first]
    text = hunk_to_text(second).replace("+SIX\n", "+Six\n+extra\n")
    edited = hunk_from_text(text, second)
    assert (edited.old_start, edited.old_len, edited.new_len) == (3, 5, 6)
    assert [ln.text for ln in edited.lines if ln.kind == "+"] == ["Six", "extra"]
