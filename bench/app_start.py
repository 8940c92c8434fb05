"""Seconds from `python app.py` (fresh data dir) to the page being served, to the sources and to the first answer.

    python bench/app_start.py --runs 3 --out /tmp/app.json
    python bench/app_start.py --runs 1 --no-sample          # without the sample library

Each run starts `python app.py --port P --data-dir <fresh>` and polls GET / until it answers 200 (page
served). It then asks two questions through the app's own `/ask` API (gradio_client, streaming), recording for
each the seconds from submitting to the sources ("retrieved"), to the first answer text ("streaming") and to
the finished answer ("done"). The first question pays for the model loads and the sample-library ingest; the
second shows the steady state. The app is stopped with SIGTERM after each run.
"""

from __future__ import annotations

import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from common import ROOT, base_parser, load_avg, offline_env, shared_dir, table, write_json

QUESTIONS = ("What are the components of a RAG system?", "How does multi-head attention work?")


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-sample", action="store_true", help="start with an empty library")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for each step")
    args = parser.parse_args()
    shared_dir(args.shared)  # not read, but kept uniform with the other benchmarks
    runs = [one_run(args) for _ in range(args.runs)]
    keys = ("page_s", "q1_sources_s", "q1_first_token_s", "q1_done_s", "q2_sources_s", "q2_first_token_s", "q2_done_s")
    rows = [[i, *(r.get(k, float("nan")) for k in keys), f"{r['load_before'][0]}→{r['load_after'][0]}"]
            for i, r in enumerate(runs)]  # fmt: skip
    medians = {k: statistics.median(r[k] for r in runs if k in r) for k in keys if any(k in r for r in runs)}
    rows.append(["median", *(medians.get(k, float("nan")) for k in keys), ""])
    print(table(["run", "page served s", "q1 sources s", "q1 first token s", "q1 done s", "q2 sources s",
                 "q2 first token s", "q2 done s", "load 1-min"], rows))  # fmt: skip
    print("q1/q2 times are from submitting the question; page served is from starting python app.py")
    write_json(args.out, {"runs": runs, "median": medians, "sample": not args.no_sample})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_run(args: Any) -> dict[str, Any]:
    """Start the app once, time the page and two answers, stop it; return the timings."""
    port, data = free_port(), Path(tempfile.mkdtemp(prefix="h7-app-"))
    cmd = [sys.executable, str(ROOT / "app.py"), "--port", str(port), "--data-dir", str(data)]
    cmd += ["--no-sample"] * args.no_sample
    result: dict[str, Any] = {"load_before": load_avg(), "data_dir": str(data)}
    start = time.perf_counter()
    app = subprocess.Popen(cmd, env=offline_env(), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}/"
        result["page_s"] = wait_page(url, app, start + args.timeout) - start
        for n, question in enumerate(QUESTIONS, start=1):
            result |= {f"q{n}_{k}": v for k, v in ask(url, question).items()}
    finally:
        app.send_signal(signal.SIGTERM)
        try:
            app.wait(timeout=30)
        except subprocess.TimeoutExpired:
            app.kill()
            app.wait()
    result["load_after"] = load_avg()
    print({k: round(v, 2) if isinstance(v, float) else v for k, v in result.items()}, flush=True)
    return result


def wait_page(url: str, app: subprocess.Popen, deadline: float) -> float:
    """Return the time the page first answered 200; raise if the app exits or the deadline passes."""
    while time.perf_counter() < deadline:
        if app.poll() is not None:
            raise RuntimeError(f"app.py exited with {app.returncode}: {app.stderr.read().decode()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.perf_counter()
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within the timeout")


def ask(url: str, question: str) -> dict[str, Any]:
    """Ask through /ask; return seconds to sources, first token and done, plus the answer's own timings."""
    from gradio_client import Client

    client = Client(url, verbose=False)
    start = time.perf_counter()
    out: dict[str, Any] = {}
    for update in client.submit(question, api_name="/ask"):
        now = time.perf_counter() - start
        status = update.get("status") if isinstance(update, dict) else None
        if status == "retrieved" or (status and "sources_s" not in out and update.get("sources")):
            out.setdefault("sources_s", now)
        if status == "streaming" and update.get("answer"):
            out.setdefault("first_token_s", now)
        if status == "done":
            out["done_s"] = now
            out.setdefault("first_token_s", now)  # an abstention shows its text all at once
            out["abstained"] = bool(update.get("abstained"))
            out["engine_timings"] = update.get("timings", {})
    return out


if __name__ == "__main__":
    main()
