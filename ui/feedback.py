"""Which answer a 👍/👎 is about: the chat's like event gives a message index; the handler remembers each finished
answer under its session and the index of its last message (the reply), so a rating finds the full `Answer`
(citations and passages), which the chat's text alone no longer has."""

from __future__ import annotations

import threading
from collections import OrderedDict

from rag.types import Answer

PER_SESSION = 100  # answers remembered per session (older ones can no longer be rated)
SESSIONS = 1000


class RatedAnswers:
    def __init__(self) -> None:
        self._answers: OrderedDict[str, dict[int, Answer]] = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, session: str, index: int, answer: Answer) -> None:
        with self._lock:
            answers = self._answers.setdefault(session, {})
            self._answers.move_to_end(session)
            answers[index] = answer
            for old in sorted(answers)[:-PER_SESSION]:
                del answers[old]
            while len(self._answers) > SESSIONS:
                self._answers.popitem(last=False)

    def find(self, session: str, index: int) -> Answer | None:
        """The answer whose reply is message `index`, or whose turn it belongs to (its trace line just before)."""
        with self._lock:
            answers = self._answers.get(session, {})
            return next((answers[i] for i in (index, index + 1) if i in answers), None)
