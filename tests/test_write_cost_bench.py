"""bench/write_cost.py runs end to end on the local files and Qdrant Edge: a 2,000-chunk index, two timed writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("backend", ["local", "qdrant-edge"])
def test_write_cost_reports_one_json_object(backend, tmp_path):
    if backend == "qdrant-edge":
        pytest.importorskip("qdrant_edge")
    cmd = [sys.executable, str(ROOT / "bench" / "write_cost.py"), "--chunks", "2000", "--runs", "2", "--json",
           "--backend", backend, "--data-dir", str(tmp_path / "data")]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=dict(os.environ), cwd=ROOT)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["backend"] == backend and result["chunks"] == 2000
    assert result["write_s"] > 0 and len(result["write_s_runs"]) == 2 and result["delete_s"] > 0
    assert not result["reused"] and "cpu_flags" in result and result["threads"] >= 1
