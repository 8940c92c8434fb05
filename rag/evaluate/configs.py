"""`--config NAME:field=value,...`: compare retrieval stages of the engine side by side over one index.

    python -m rag eval --dataset llamaindex:DIR --mode hybrid \
        --config rrf:fusion=rrf --config rerank:reranker=embed --config prf:expansion=prf --config hop:multi_hop=true

Each config is the library's default `RetrievalOptions` (from the settings) with these fields replaced, searched
through `rag.search.retrieve.retrieve` on the same index as the plain modes. Fields: see `RetrievalOptions`.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

from rag.errors import ConfigError
from rag.evaluate.runner import RunConfig
from rag.search.options import RetrievalOptions, check_query
from rag.search.retrieve import retrieve
from rag.types import Hit

_SETTABLE = {f.name: f.type for f in fields(RetrievalOptions) if f.name != "documents"}


def parse_option_configs(specs: list[str] | None) -> list[RunConfig]:
    """Return one RunConfig per "NAME:field=value,..." spec; a bad spec is a ConfigError naming it."""
    configs = []
    for spec in specs or []:
        name, _, body = spec.partition(":")
        if not name.strip() or not body.strip():
            raise ConfigError(f"--config {spec!r}: expected NAME:field=value[,field=value], e.g. rerank:reranker=embed")
        overrides = dict(_parse_pair(spec, pair) for pair in body.split(",") if pair.strip())
        replace(RetrievalOptions(), **overrides)  # checks the values now, not after indexing
        configs.append(RunConfig(name.strip(), str(overrides.get("mode", "hybrid")), _strategy(overrides)))
    return configs


def _parse_pair(spec: str, pair: str) -> tuple[str, Any]:
    """Return (field, typed value) for "field=value"."""
    key, _, raw = (part.strip() for part in pair.partition("="))
    if key not in _SETTABLE:
        raise ConfigError(f"--config {spec!r}: unknown field {key!r}; use some of {', '.join(_SETTABLE)}")
    kind = str(_SETTABLE[key])
    try:
        if kind == "bool":
            if raw.lower() not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                raise ValueError(raw)
            return key, raw.lower() in ("true", "1", "yes", "on")
        if kind == "int":
            return key, int(raw)
        if kind == "float":
            return key, float(raw)
    except ValueError:
        raise ConfigError(f"--config {spec!r}: {key}={raw!r} is not a valid {kind}") from None
    return key, raw


def _strategy(overrides: dict[str, Any]) -> Any:
    """Return (index, query, depth) -> hits searching `index` (a rag.Library) with these option overrides."""

    def search(index: Any, query: str, depth: int) -> list[Hit]:
        options = replace(index.options(k=depth), **overrides)
        return retrieve(check_query(query, index.settings.max_query_chars), index.sources, options)

    return search
