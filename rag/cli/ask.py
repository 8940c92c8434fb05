"""`python -m rag ask "question"`: a grounded answer from the indexed documents, streamed, with sources.

python -m rag ask "How does Solana order transactions?"
python -m rag ask "..." --markdown # the answer with real footnotes: [^1]: file, page, "the quoted sentence"
python -m rag ask "..." --json     # {answer, abstained, query, citations[{n, document, page, text, score}],
                                   #  unsupported, evidence[{n, document, page, text}], sources,
                                   #  timings{retrieve, evidence, first_token, total, ...}}
Streaming, the documents' best sentences come first ("From your documents"), then the model's answer.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rag.cli.common import add_data_dir, open_library, settings_for
from rag.export import answer_markdown
from rag.generate.pipeline import Done, Quoted, Token, answer
from rag.generate.registry import load_generator
from rag.jsonview import answer_json, supporting_text, supporting_texts
from rag.types import Answer


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `ask` to the `python -m rag` parser."""
    ask = subparsers.add_parser("ask", help="answer a question from the indexed documents, with citations")
    ask.add_argument("question")
    ask.add_argument("--k", type=int, default=None, help="passages given to the model (default: $RAG_TOP_K)")
    ask.add_argument("--document", action="append", default=None, help="only this document (repeatable)")
    ask.add_argument("--generator", default=None, help="model preset or spec (default: $RAG_GENERATOR)")
    ask.add_argument("--max-tokens", type=int, default=None, help="answer length cap (default: $RAG_MAX_NEW_TOKENS)")
    ask.add_argument("--json", action="store_true", help="print one JSON object instead of streaming")
    ask.add_argument("--markdown", action="store_true", help="print the answer as Markdown with real footnotes")
    add_data_dir(ask)
    ask.set_defaults(func=run_ask)


def run_ask(args: argparse.Namespace) -> int:
    """Answer `args.question`; stream it (or print JSON); return 0 (an abstention is a valid answer)."""
    settings = settings_for(args)
    changes: dict[str, Any] = {}
    if args.k is not None:
        changes["top_k"] = args.k
    if args.generator:
        changes["generator"] = args.generator
    if args.max_tokens is not None:
        changes["max_new_tokens"] = args.max_tokens
    settings = settings.replace(**changes)
    library = open_library(settings)
    generator = load_generator(settings)
    result: Answer | None = None
    streamed: list[str] = []  # the model's words, printed as they came
    try:
        for event in answer(args.question, library, generator, settings=settings, documents=args.document):
            quiet = args.json or args.markdown
            if isinstance(event, Quoted) and not quiet:
                print_evidence(event.evidence)
            elif isinstance(event, Token) and not quiet:
                print(event.text, end="", flush=True)
                streamed.append(event.text)
            elif isinstance(event, Done):
                result = event.answer
    finally:
        library.close()
    assert result is not None  # answer() always ends with Done
    if args.json:
        print(json.dumps(answer_json(result), ensure_ascii=False, indent=2))
    elif args.markdown:
        print(answer_markdown(result), end="")
    else:
        print_sources(result, "".join(streamed))
    return 0


def print_evidence(quotes) -> None:
    """Before the model's first token: the passages' own sentences that best answer the question."""
    if not quotes:
        return
    print("From your documents:")
    for q in quotes:
        print(f'  [{q.n}] {q.document}, page {q.page}: "{_short(supporting_text(q), 240)}"')
    print("\nAnswer:", flush=True)


def print_sources(result: Answer, streamed: str) -> None:
    """After the streamed tokens: the answer when it was not streamed (a refusal, or a No the passages' figures
    gave without the model) or when the check changed it (a marker re-pointed, "[3]" that names no passage dropped,
    "This is stated in [1]." left out), then the sources and any warnings."""
    if not streamed and not result.abstained:
        print(result.text, end="")  # under "Answer:", where the model's words would have been
    print()
    if result.abstained:
        print(f"\n{result.text}")
    elif streamed and " ".join(streamed.split()) != " ".join(result.text.split()):
        # The terminal cannot take the streamed words back: the checked text is what the sources below number.
        print(f"\nChecked against the passages:\n{result.text}")
    out = sys.stdout
    cited = {c.n: c for c in result.citations}
    title = "Sources:" if result.citations else "Closest passages:"
    print(f"\n{title}", file=out)
    for n, hit in enumerate(result.sources, start=1):
        if cited and n not in cited:
            continue
        # every sentence the answer's claims cite from this passage, as the sources panel marks them
        quote = " … ".join(map(_short, supporting_texts(cited[n]))) if n in cited else _short(hit.chunk.text)
        print(f'  [{n}] {hit.document}, page {hit.page}: "{quote}"', file=out)
    for sentence in result.unsupported if not result.abstained else ():
        print(f'  (not supported by the passages: "{_short(sentence)}")', file=out)
    timings = result.timings
    first = f"first token {timings['first_token']:.1f}s, " if "first_token" in timings else ""
    print(f"  ({first}total {timings.get('total', 0.0):.1f}s)", file=out)


def _short(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
