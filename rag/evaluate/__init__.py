"""`python -m rag eval`: retrieval quality over real benchmark formats.

`datasets` reads a benchmark into an `EvalSet` (what to index + questions with gold), `runner` builds one index
and queries it once per retrieval configuration, `metrics` scores the rankings with ir-measures, `report`
prints Markdown/JSON, `command` wires it into the CLI. Nothing here is imported by `import rag`.
"""

from __future__ import annotations
