"""The parent's side of the sandbox: one long-lived child Python process, restarted after a timeout or a crash.

    worker = WorkerProcess("parse", config)
    deadline = worker.submit({"path": ..., ...}, budget_s=120)    # starts (or restarts) the child when needed
    outcome = worker.collect(deadline)                            # Reply, TimedOut, Crashed or Unreadable

- the child's address space is capped (RLIMIT_AS) at `config["memory_mb"]`, so a decompression bomb fails one
  request instead of the machine;
- a request not answered by its deadline kills the child; the next request gets a fresh one;
- a crash (a segfault or abort in native code) ends one request; the next gets a fresh child.
The budget starts once the child is ready (its imports done), so a restart never eats into a request's time.

Why a plain `subprocess` and not `multiprocessing`: fork is unsafe (the parent runs torch and Gradio threads), and
"spawn"/"forkserver" re-run the parent's main script in the child, which for the app means importing Gradio and
torch there, slowly and under the memory cap. We start `python -c` ourselves with the parent's sys.path and speak
JSON over two pipes (`rag.sandbox.wire`); the child's side is `rag.sandbox.child`.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rag.sandbox.wire import BadMessage, Channel

logger = logging.getLogger(__name__)

STARTUP_TIMEOUT_S = 120.0  # a fresh worker imports pypdf, tokenizers, ... (about 1 s idle; far more on a busy box)
_CHILD = (
    "import json, sys; sys.path[:0] = json.loads(sys.argv[3]); "
    "from rag.sandbox.child import serve; serve(int(sys.argv[1]), int(sys.argv[2]))"
)


@dataclass(frozen=True)
class Reply:
    """The child's answer: a JSON object, and the frame that followed it when the request asked for one."""

    message: Any
    frame: bytes | None = None


@dataclass(frozen=True)
class TimedOut:
    """The deadline passed; the child was killed."""


@dataclass(frozen=True)
class Crashed:
    """The child died on the request; `how` says how ("signal SIGSEGV", "exit code 1")."""

    how: str


@dataclass(frozen=True)
class Unreadable:
    """The child answered with something that is not the protocol's (it was stopped)."""

    reason: str


Outcome = Reply | TimedOut | Crashed | Unreadable
ProgressHandler = Callable[[Any], float | None]  # a progress message's data -> a new deadline, or None


class WorkerProcess:
    """A sandboxed child serving one `role` ("parse" or "render"); one caller at a time (not thread-safe).

    `config` is sent to the child at start: it must hold `memory_mb` and what the role needs (see child.py).
    """

    def __init__(self, role: str, config: dict[str, Any]) -> None:
        self.config = {**config, "role": role, "log_level": logging.getLogger().getEffectiveLevel()}
        self._proc: subprocess.Popen | None = None
        self._conn: Channel | None = None
        self._ready = False  # the current child said it is ready (its imports are done)
        self.in_flight = False  # a request was sent and its answer not read yet

    def start(self) -> None:
        """Start the child now (it starts on the first `submit` otherwise), so its imports overlap other work."""
        if self._proc is None or self._proc.poll() is not None:
            self.stop()
            self._spawn()

    def submit(self, request: dict[str, Any], budget_s: float) -> float | None:
        """Send one request to a ready child (starting a new one if needed); return its answer's deadline.

        Returns None when no child could be started (twice in a row).
        """
        if self.in_flight:
            raise RuntimeError("the worker is busy with another request; use one worker per caller")
        for _ in range(2):  # a child that dies between start-up and the request gets one successor
            self.start()
            if not self._wait_ready():
                self.stop()
                continue
            try:
                self._conn.send_json(request)
            except OSError:
                self.stop()
                continue
            self.in_flight = True
            return time.monotonic() + budget_s
        return None

    def collect(self, deadline: float, frame: bool = False, on_progress: ProgressHandler | None = None) -> Outcome:
        """Return the answer to the request in flight (with the frame after it when `frame`), or what went wrong.

        {"progress": data} messages before the answer go to `on_progress(data)`, which returns a new deadline
        (or None to keep it); without `on_progress` they are ignored.
        """
        try:
            while True:
                if not self._conn.poll(max(0.0, deadline - time.monotonic())):
                    self.stop()
                    return TimedOut()
                message = self._conn.recv_json()
                if not (isinstance(message, dict) and set(message) == {"progress"}):
                    break
                extended = on_progress(message["progress"]) if on_progress is not None else None
                deadline = max(deadline, extended or deadline)
            data = self._conn.recv_frame() if frame and isinstance(message, dict) and message.get("ok") else None
        except BadMessage as exc:
            self.stop()
            return Unreadable(str(exc))
        except (EOFError, OSError):
            return self._crashed()
        self.in_flight = False
        return Reply(message, data)

    def stop(self) -> None:
        """Stop the child (a running request is abandoned)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            self._proc.wait()
            self._proc = None
        self.in_flight = False
        self._ready = False

    def _spawn(self) -> None:
        parent_r, child_w = os.pipe()
        child_r, parent_w = os.pipe()
        paths = json.dumps([p for p in sys.path if p])  # the child finds what the parent finds (rag, test hooks)
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(child_r), str(child_w), paths],
            pass_fds=(child_r, child_w),
            stdin=subprocess.DEVNULL,
            close_fds=True,
        )
        os.close(child_r)
        os.close(child_w)
        self._conn = Channel(parent_r, parent_w)
        self._conn.send_json(self.config)
        self._ready = False

    def _wait_ready(self) -> bool:
        """Wait for a new child's "ready" (its imports done); False when it died or never said so."""
        if self._ready:
            return True
        try:
            self._ready = self._conn.poll(STARTUP_TIMEOUT_S) and self._conn.recv_json() == {"ready": True}
        except (EOFError, OSError, BadMessage):  # it died while starting; its traceback is on stderr
            self._ready = False
        return self._ready

    def _crashed(self) -> Crashed:
        try:
            code = self._proc.wait(timeout=5) if self._proc is not None else None
        except subprocess.TimeoutExpired:  # the pipe broke but the process lives on: stop it
            code = None
        self.stop()
        return Crashed(f"signal {_signal_name(-code)}" if code is not None and code < 0 else f"exit code {code}")


def _signal_name(number: int) -> str:
    """Example: 11 -> "SIGSEGV"."""
    return signal.Signals(number).name if number in signal.valid_signals() else str(number)
