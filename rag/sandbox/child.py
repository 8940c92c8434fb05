"""The sandboxed child's side: started by `rag.sandbox.process.WorkerProcess` as `python -c "...serve(r, w)"`.

It receives its config once ({"role", "memory_mb", "log_level", "preload", ...}), sets up the role's handler,
caps its own address space, answers {"ready": true}, then answers one JSON request at a time: a JSON reply, and
for a render a frame of pixels after it. Before its reply a handler may send {"progress": {...}} messages (a parse
reading scanned pages by OCR reports each page; the parent extends the request's deadline with each).
Roles: "parse" (`rag.ingest.reading.ParseHandler`) and "render" (`rag.pages.RenderHandler`).
"""

from __future__ import annotations

import importlib
import logging
import signal
from collections.abc import Callable
from typing import Any, Protocol

from rag.ingest.reading import ParseHandler
from rag.pages import RenderHandler
from rag.sandbox.wire import Channel


class Handler(Protocol):
    progress: Callable[[dict[str, Any]], None]  # sends {"progress": data} to the parent before the reply

    def __call__(self, request: dict[str, Any]) -> tuple[dict[str, Any], bytes | None]: ...

    def out_of_memory(self, request: dict[str, Any]) -> dict[str, Any]: ...


ROLES: dict[str, type] = {"parse": ParseHandler, "render": RenderHandler}


def serve(read_fd: int, write_fd: int) -> None:
    """Child main loop: read requests, answer each; return when the parent closes the pipe."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent, which stops us
    conn = Channel(read_fd, write_fd)
    config = conn.recv_json()
    logging.basicConfig(level=config["log_level"], format="%(levelname)s %(name)s (sandbox): %(message)s")
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # hostile PDFs make it chatty; failures reach the user anyway
    for module in config.get("preload", ()):
        importlib.import_module(module)
    handler: Handler = ROLES[config["role"]](config)
    handler.progress = lambda data: conn.send_json({"progress": data})
    _cap_memory(config["memory_mb"])
    conn.send_json({"ready": True})
    while True:
        try:
            request = conn.recv_json()
        except EOFError:  # the parent closed the pipe or died
            return
        reply, frame = handler(request)
        try:
            conn.send_json(reply)
            if frame is not None:
                conn.send_frame(frame)
        except MemoryError:
            conn.send_json(handler.out_of_memory(request))
        except BrokenPipeError:  # the parent stopped listening (it was closed or died): nothing left to do
            return


def _cap_memory(megabytes: int) -> None:
    """Cap this process's address space (RLIMIT_AS): a decompression bomb fails one request, not the machine."""
    import resource

    limit = megabytes * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
