"""The Stop button: a per-session request that the running answer checks between its updates.

Gradio's own `cancels=` kills the handler's task mid-stream, and now and then the page is left showing "Error"
where the answer was (gradio-app/gradio#10648, #11586). Ending the stream from our side avoids that race: the
answer closes the model's stream itself (so llama.cpp stops decoding) and finishes as a normal event.
"""

from __future__ import annotations

import threading


class StopRequests:
    """Which sessions pressed Stop since their current answer began. Safe across Gradio's worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[str, int] = {}  # session -> answers streaming now (a Retry can overlap its own end)
        self._asked: set[str] = set()

    def begin(self, session: str) -> None:
        """An answer starts: a Stop pressed before it (for an answer already over) does not apply to it."""
        with self._lock:
            self._running[session] = self._running.get(session, 0) + 1
            self._asked.discard(session)

    def end(self, session: str) -> None:
        with self._lock:
            left = self._running.get(session, 0) - 1
            if left > 0:
                self._running[session] = left
            else:
                self._running.pop(session, None)
                self._asked.discard(session)

    def request(self, session: str) -> None:
        """Stop was pressed: the session's running answer, if any, ends at its next update."""
        with self._lock:
            if session in self._running:
                self._asked.add(session)

    def requested(self, session: str) -> bool:
        with self._lock:
            return session in self._asked
