"""The web app's own settings (host, port, auth, public mode, upload limits), separate from the engine's `Settings`.

`AppSettings.from_env()` is the one place the app reads `FOOTNOTE_*` variables; `app.py`'s flags override them.
Public mode is on by default on Hugging Face Spaces (the `SPACE_ID` variable is set there).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from rag.config import parse_env_value, warn_unknown
from rag.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
# Read by scripts/test, not by the app: never "unknown".
SCRIPT_VARIABLES = frozenset({"FOOTNOTE_TEST_NETWORK", "FOOTNOTE_REQUIRE_NETNS"})
SAMPLE_DIR = ROOT / "assets" / "kb"


@dataclass(frozen=True)
class AppSettings:
    host: str = "127.0.0.1"
    port: int = 7860
    share: bool = False
    auth: tuple[str, str] | None = dataclasses.field(default=None, repr=False)  # (user, password): never printed
    public: bool = False  # one private, temporary library per browser session
    sample_dir: Path | None = SAMPLE_DIR  # ingested into an empty library; None = start empty
    session_ttl_s: float = 3600.0  # public mode: a session's library is removed after this much idle time
    max_upload_mb: float = 20.0  # public mode: per file
    max_session_files: int = 20  # public mode: documents one session may hold
    chat_concurrency: int = 1  # answers generated at once (one LLM on a small CPU)
    search_concurrency: int = 2  # API searches and listings served at once (they share the CPU with answers)
    # Serve the API endpoints as MCP tools (Gradio's MCP server) for assistants and editors.
    mcp: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AppSettings:
        """Return settings from FOOTNOTE_HOST/PORT/SHARE/AUTH/PUBLIC/SAMPLE_DIR/SESSION_TTL_S/MAX_UPLOAD_MB/..."""
        env = os.environ if environ is None else environ
        # On Spaces: public mode, and MCP tools too (each MCP client names its own library; see ui/api.py).
        on_spaces = bool(env.get("SPACE_ID"))
        values: dict[str, object] = {"public": on_spaces, "mcp": on_spaces}
        if env.get("SPACE_ID"):
            values["host"] = "0.0.0.0"  # Spaces routes traffic to the container, not to localhost
        for field in dataclasses.fields(cls):
            raw = env.get("FOOTNOTE_" + field.name.upper())
            if raw:
                values[field.name] = _parse(field.name, field.type, raw)
        warn_unknown(env, "FOOTNOTE_", {"FOOTNOTE_" + f.name.upper() for f in dataclasses.fields(cls)} | SCRIPT_VARIABLES)
        return cls(**values)

    def replace(self, **changes: object) -> AppSettings:
        return dataclasses.replace(self, **changes)


# Nothing may call out of the machine: no telemetry, no version check, no model download, no SSR node server.
OFFLINE_ENV = {
    "GRADIO_ANALYTICS_ENABLED": "False",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "GRADIO_SSR_MODE": "False",
}


def go_offline() -> None:
    """Set the offline variables (keeping any the user set) before gradio or huggingface_hub is imported."""
    for name, value in OFFLINE_ENV.items():
        os.environ.setdefault(name, value)


def parse_auth(raw: str) -> tuple[str, str]:
    """Return (user, password) from "user:password", or raise ConfigError naming the expected form."""
    user, sep, password = raw.partition(":")
    if not sep or not user or not password:
        raise ConfigError("auth must look like USER:PASSWORD (flag --auth or FOOTNOTE_AUTH)")
    return user, password


def _parse(name: str, type_name: str, raw: str) -> object:
    """The app's two special forms (USER:PASSWORD, "none"), then the engine's parsing for FOOTNOTE_<NAME>."""
    if name == "auth":
        return parse_auth(raw)
    if name == "sample_dir" and raw.lower() == "none":  # start with an empty library
        return None
    return parse_env_value("FOOTNOTE_" + name.upper(), raw, type_name)
