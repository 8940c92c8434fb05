"""What crosses the sandbox boundary: JSON objects, and raw byte frames (a page picture's pixels).

Nothing is unpickled on either side: a worker that a hostile file took over can send wrong data, which the
parent checks before using it, but never code. Frames are length-prefixed by `multiprocessing.connection`, and
the parent refuses one longer than `MAX_FRAME_BYTES` before reading it.
"""

from __future__ import annotations

import json
from multiprocessing.connection import Connection
from typing import Any

# A parse reply holds every page's text: a 5,000-page filing is tens of MB. Past this the file is refused.
MAX_FRAME_BYTES = 512 * 1024 * 1024


class BadMessage(Exception):
    """The other side sent something that is not what the protocol says (not JSON, too long, wrong shape)."""


class Channel(Connection):
    """A connection over two one-way pipe fds (read, write), as the worker and its parent use them."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        super().__init__(read_fd, writable=False)
        self._writer = Connection(write_fd, readable=False)

    def send_json(self, message: Any) -> None:
        self._writer.send_bytes(json.dumps(message, ensure_ascii=False).encode("utf-8"))

    def send_frame(self, data: bytes) -> None:
        self._writer.send_bytes(data)

    def recv_json(self) -> Any:
        """Return the next JSON message; raise BadMessage when it is not JSON or too long, EOFError at the end."""
        try:
            return json.loads(self.recv_frame().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise BadMessage(f"not a JSON message ({type(exc).__name__})") from exc

    def recv_frame(self) -> bytes:
        """Return the next frame; raise BadMessage when it is longer than MAX_FRAME_BYTES."""
        try:
            return self.recv_bytes(MAX_FRAME_BYTES)
        except OSError as exc:
            if "bad message length" in str(exc):
                raise BadMessage(f"a message over {MAX_FRAME_BYTES} bytes") from exc
            raise

    def close(self) -> None:
        self._writer.close()
        super().close()


def field(message: Any, name: str, kind: type | tuple[type, ...]) -> Any:
    """Return `message[name]` when `message` is a dict holding a value of `kind` there; else raise BadMessage.

    A bool is not accepted as a number (JSON's true is not 1 here).
    """
    value = message.get(name) if isinstance(message, dict) else None
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise BadMessage(f"field {name!r} is missing or of the wrong type")
    return value
