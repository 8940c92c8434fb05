"""Footnote's web page: drop documents, ask questions, read answers with page citations. UI only.

    python app.py                      # http://127.0.0.1:7860, library in ~/.footnote (or $RAG_DATA_DIR)
    python app.py --public --port 8000 # one private, temporary library per browser session
    python app.py --auth me:secret     # ask for a password

`build_demo(engine)` lays out the components and wires the events to thin handlers; the work is done by
`rag` through `ui.engine.Engine`. Tests build an Engine with fake models and call `build_demo` directly.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ui.config import go_offline

go_offline()  # before gradio and huggingface_hub read their environment at import time

import gradio as gr  # noqa: E402

from rag.config import Settings  # noqa: E402
from rag.errors import RagError  # noqa: E402
from rag.generate.registry import PRESETS  # noqa: E402
from rag.ingest.loaders import KINDS  # noqa: E402
from rag.search.options import MODES  # noqa: E402
from ui.api import Api, mcp_behind_login  # noqa: E402
from ui.chat import ChatOptions  # noqa: E402
from ui.config import AppSettings, parse_auth  # noqa: E402
from ui.conversations import conversations_panel, wire_conversations  # noqa: E402
from ui.engine import Engine  # noqa: E402
from ui.handlers import Handlers  # noqa: E402
from ui.render import CSS, sources_html  # noqa: E402

logger = logging.getLogger("footnote")

EXAMPLES = [
    "What is the difference between LoRA and adapters?",
    "How does multi-head attention work?",
    "What are the steps of a ReAct agent?",
    "Why do transformers need positional encoding?",
    "What are the components of a RAG system?",
]
TITLE = "Footnote — chat with your documents"


@dataclass
class Page:
    """The components handlers read and write (filled in by the layout functions)."""

    status: Any = None
    files: Any = None
    results: Any = None
    doc_list: Any = None
    doc_filter: Any = None
    doc_remove: Any = None
    remove: Any = None
    options: list[Any] | None = None
    chatbot: Any = None
    msg: Any = None
    stop: Any = None
    examples: Any = None
    cite_pick: Any = None
    sources: Any = None
    page_image: Any = None
    views: Any = None
    timer: Any = None
    feedback_note: Any = None
    conv_search: Any = None
    conv_pick: Any = None
    conv_new: Any = None
    conv_delete: Any = None
    conv_title: Any = None
    conv_rename: Any = None
    conv_export: Any = None
    conv_file: Any = None


def _sidebar(page: Page, engine: Engine) -> None:
    page.files = gr.Files(label="Add documents (PDF, TXT, MD, HTML, DOCX)", file_types=list(KINDS), elem_id="docs")
    page.results = gr.HTML(elem_id="upload-results")
    with gr.Accordion("Your documents", open=True):
        page.doc_list = gr.HTML(elem_id="doc-list")
        page.doc_filter = gr.CheckboxGroup(
            label="Ask only these (none ticked = all documents)", choices=[], elem_id="doc-filter"
        )
        with gr.Row():
            page.doc_remove = gr.Dropdown(label="Remove a document", choices=[], elem_id="doc-remove", scale=3)
            page.remove = gr.Button("Remove", variant="stop", elem_id="remove-btn", scale=1, min_width=60)
    conversations_panel(page)
    _settings_panel(page, engine)


def _settings_panel(page: Page, engine: Engine) -> None:
    d = ChatOptions.defaults(engine.settings)
    models = list(dict.fromkeys([d.generator, *PRESETS]))
    with gr.Accordion("Settings", open=False):
        page.options = [
            gr.Radio(list(MODES), value=d.retrieval, label="Retrieval", elem_id="opt-mode"),
            gr.Slider(1, 12, value=d.top_k, step=1, label="Passages given to the model (k)", elem_id="opt-k"),
            gr.Checkbox(value=d.rerank, label="Re-rank passages", elem_id="opt-rerank",
                        info="A second, finer scoring of the candidates (slower)."),
            gr.Checkbox(value=d.expand, label="Expand the query", elem_id="opt-expand",
                        info="Add terms from the best first results, then search again."),
            gr.Dropdown(models, value=d.generator, label="Model", elem_id="opt-model",
                        interactive=not engine.app.public),  # fmt: skip
            gr.Slider(0.0, 1.0, value=d.temperature, step=0.05, label="Temperature", elem_id="opt-temp"),
            gr.Slider(64, 1024, value=d.max_new_tokens, step=32, label="Max answer length (tokens)", elem_id="opt-max"),
            gr.Textbox(value=d.system_prompt, lines=3, label="Your answer instructions (added to the built-in rules)",
                       placeholder="e.g. Answer in French, as a bullet list.", elem_id="opt-system"),
        ]  # fmt: skip


def _chat_column(page: Page) -> None:
    page.chatbot = gr.Chatbot(
        label="Chat", elem_id="chatbot", height=520, buttons=["copy", "copy_all"], latex_delimiters=[],
        feedback_options=("Like", "Dislike"),
        placeholder="Ask about your documents. Answers cite their sources as [1], [2]…",
    )  # fmt: skip
    with gr.Row():
        page.msg = gr.Textbox(placeholder="Ask a question…", show_label=False, submit_btn=True, elem_id="msg", scale=8)
        page.stop = gr.Button("Stop", elem_id="stop", scale=1, min_width=60)
    page.feedback_note = gr.Textbox(
        placeholder="A note to go with your 👍/👎 (optional), e.g. what was wrong", show_label=False,
        elem_id="feedback-note", max_lines=2,
    )  # fmt: skip
    page.examples = gr.Examples([[q] for q in EXAMPLES], inputs=[page.msg], label="Try the sample library")


def _sources_column(page: Page) -> None:
    page.cite_pick = gr.Radio(choices=[], label="Show source", elem_id="cite-pick")
    page.page_image = gr.Image(
        type="pil", label="Page", interactive=False, visible=False, height=480, elem_id="page-image"
    )
    page.sources = gr.HTML(sources_html([]), elem_id="sources")
    page.views = gr.State([])


def build_demo(engine: Engine) -> gr.Blocks:
    """Return the page for this engine (models may still be loading: handlers wait for them)."""
    page = Page()
    # Public mode: Gradio's copies of uploads are deleted too, not only the session's library.
    delete_cache = (int(engine.app.session_ttl_s), int(engine.app.session_ttl_s)) if engine.app.public else None
    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=delete_cache) as demo:
        with gr.Row():
            gr.Markdown(f"## {TITLE}")
            page.status = gr.Markdown(f"**Status:** {engine.status}", elem_id="status")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=280):
                _sidebar(page, engine)
            with gr.Column(scale=5):
                _chat_column(page)
            with gr.Column(scale=4, min_width=300):
                _sources_column(page)
        page.timer = gr.Timer(1.0)
        _wire(demo, page, Handlers(engine), engine)
    return demo


def _wire(demo: gr.Blocks, page: Page, h: Handlers, engine: Engine) -> None:
    docs_out = [page.doc_list, page.doc_filter, page.doc_remove]
    refresh_out = [page.status, *docs_out, page.timer]
    demo.load(h.refresh, [page.doc_filter], refresh_out, api_visibility="private")
    page.timer.tick(h.refresh, [page.doc_filter], refresh_out, api_visibility="private", show_progress="hidden")
    page.files.upload(h.upload, [page.files, page.doc_filter], [page.results, *docs_out, page.files],
                      concurrency_id="ingest", concurrency_limit=1, api_visibility="private", api_name="ui_upload")  # fmt: skip
    page.remove.click(
        h.remove, [page.doc_remove, page.doc_filter], docs_out, api_visibility="private", api_name="ui_remove"
    )
    chat_out = [page.msg, page.chatbot, page.sources, page.cite_pick, page.page_image, page.views]
    chat_kw: dict[str, Any] = dict(concurrency_id="chat", concurrency_limit=engine.app.chat_concurrency,
                                   api_visibility="private")  # fmt: skip
    asked = page.msg.submit(
        h.ask, [page.msg, page.chatbot, page.doc_filter, *page.options], chat_out, api_name="ui_ask", **chat_kw
    )
    example = page.examples.load_input_event.then(
        h.ask, [page.msg, page.chatbot, page.doc_filter, *page.options], chat_out, api_name="ui_example", **chat_kw
    )
    retried = page.chatbot.retry(
        h.retry, [page.chatbot, page.doc_filter, *page.options], chat_out, api_name="ui_retry", **chat_kw
    )
    page.chatbot.undo(h.undo, [page.chatbot], [page.chatbot, page.msg], api_visibility="private")
    page.chatbot.clear(h.clear, None, [page.sources, page.cite_pick, page.page_image, page.views],
                       api_visibility="private")  # fmt: skip
    # Not `cancels=`: killing a streaming task mid-token sometimes leaves "Error" on the page (ui.stopping).
    page.stop.click(h.stop, None, None, queue=False, api_visibility="private")
    page.chatbot.like(h.rate, [page.feedback_note], [page.feedback_note], api_visibility="private")
    wire_conversations(demo, page, h.conversations, [asked, example, retried])
    page.cite_pick.input(h.pick, [page.cite_pick, page.views], [page.sources, page.page_image],
                         api_visibility="private")  # fmt: skip
    _api(Api(engine), engine.app)
    demo.unload(h.release)


def _api(api: Api, app: AppSettings) -> None:
    gr.api(api.upload, api_name="upload", concurrency_id="ingest", concurrency_limit=1)
    gr.api(api.ask, api_name="ask", concurrency_id="chat")
    # Searches embed the query on the same cores as everything else: a shared limit keeps a burst of API calls
    # from piling onto them (the rest wait in Gradio's queue).
    gr.api(api.search, api_name="search", concurrency_id="lookup", concurrency_limit=app.search_concurrency)
    gr.api(api.list_documents, api_name="list", concurrency_id="lookup", concurrency_limit=app.search_concurrency)
    gr.api(api.delete, api_name="delete")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python app.py", description=TITLE)
    parser.add_argument("--host", help="interface to listen on (default 127.0.0.1; FOOTNOTE_HOST)")
    parser.add_argument("--port", type=int, help="port (default 7860; FOOTNOTE_PORT)")
    parser.add_argument("--data-dir", help="library folder (default $RAG_DATA_DIR or ~/.footnote)")
    parser.add_argument("--share", action="store_true", default=None, help="also serve on a public gradio.live link")
    parser.add_argument("--auth", help="USER:PASSWORD required to open the page (FOOTNOTE_AUTH)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--public", action="store_true", default=None, help="a private temporary library per visitor")
    mode.add_argument("--local", dest="public", action="store_false", help="one shared, persistent library")
    parser.add_argument("--no-sample", action="store_true", help="do not load the sample library into an empty one")
    parser.add_argument("--mcp", action="store_true", default=None,
                        help="also serve search, ask and list_documents as MCP tools (FOOTNOTE_MCP)")  # fmt: skip
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    return parser.parse_args(argv)


def configure(args: argparse.Namespace) -> tuple[Settings, AppSettings]:
    """Return engine and app settings: environment first, flags on top."""
    settings = Settings.from_env()
    if args.data_dir:
        settings = settings.replace(data_dir=Path(args.data_dir).expanduser())
    app = AppSettings.from_env()
    flags = {"host": args.host, "port": args.port, "share": args.share, "public": args.public, "mcp": args.mcp}
    app = app.replace(**{k: v for k, v in flags.items() if v is not None})
    if args.auth:
        app = app.replace(auth=parse_auth(args.auth))
    if args.no_sample:
        app = app.replace(sample_dir=None)
    return settings, app


def launch(demo: gr.Blocks, app: AppSettings, block: bool = True) -> str:
    """Start serving and return the local URL. Offline, `share` only warns and the app keeps serving.

    Gradio's own start-up lines are silenced (they suggest `share=True` in code; ours is `--share`); with `block`
    we print where the page is instead.
    """
    demo.queue(default_concurrency_limit=1)
    _, url, share_url = demo.launch(
        server_name=app.host, server_port=app.port, share=app.share, auth=app.auth, ssr_mode=False,
        css=CSS, prevent_thread_lock=True, quiet=True, show_error=True,
        max_file_size=f"{app.max_upload_mb:g}mb" if app.public else None, mcp_server=app.mcp,
    )  # fmt: skip
    if app.mcp and app.auth:
        mcp_behind_login(demo, url, app.auth)
    if app.share and not share_url:
        logger.warning("no public share link could be created (offline?); serving locally at %s", url)
    if block:
        say(f"open {url} in a browser" + (f" (public link: {share_url})" if share_url else "") + "; Ctrl-C stops")
        if app.mcp:
            say(f"MCP tools at {url.rstrip('/')}/gradio_api/mcp/ (streamable HTTP) and .../gradio_api/mcp/sse (SSE)")
        demo.block_thread()
    return url


def say(text: str) -> None:
    """One line for the person who started the app, in the terminal."""
    print(f"Footnote: {text}", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")  # fmt: skip
    try:
        settings, app = configure(args)
    except RagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # SIGTERM (docker stop, Spaces restarts) must unwind through `finally` so session folders are removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    engine = Engine(settings, app, announce=say)
    engine.start()
    demo = build_demo(engine)
    try:
        launch(demo, app)
    finally:
        engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
