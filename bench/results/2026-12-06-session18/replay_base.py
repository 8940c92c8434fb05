"""Session 18: the model replies every replay of this session gives its questions, merged from earlier runs' files
(later files win for a question): session 16's full run, session 17's SEC run with the 0.20 pre-gate, and session
17's live answers to the questions whose terms changed (asking words). Writes /tmp/s18/replay-base.jsonl (answers)
and /tmp/s18/yn-base-{main,heldout}.json (yes/no: session 16's rows plus session 17's asking-word rows).

    python bench/results/2026-12-06-session18/replay_base.py
"""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from bench.answers import load_rows  # noqa: E402

S16, S17 = ROOT / "bench/results/2026-12-06-session16", ROOT / "bench/results/2026-12-06-session17"


def main() -> int:
    out = Path("/tmp/s18")
    out.mkdir(exist_ok=True)
    rows = load_rows(S16 / "answers-all.json") + load_rows(S17 / "answers-sec-gate020.json")
    asked = json.loads((S17 / "asking-words.json").read_text())
    rows += [row for name, group in asked.items() if not name.startswith("summary") for row in group["after"]]
    (out / "replay-base.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    for name in ("main", "heldout"):
        run = json.loads((S16 / f"yesno-{name}.json").read_text())
        run["rows"] += json.loads((S17 / f"yesno-asking-words-{name}.json").read_text())["rows"]
        (out / f"yn-base-{name}.json").write_text(json.dumps(run))
    print(f"{len(rows)} answer rows → {out / 'replay-base.jsonl'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
