"""OCR engines compared on pages whose text is known: Tesseract (Debian + pytesseract) and RapidOCR (ONNX).

    python bench/ocr_engines.py --work /tmp/ocr --engines tesseract,rapidocr --scales 2,3 [--out R.json]

Text PDFs from ../shared are rendered to pictures (PDFium, at each --scale × 72 dpi); the page's own text layer
is the truth. Per engine and scale: character error rate (Levenshtein distance / truth length, on text with
whitespace collapsed), word recall (share of the truth's words the OCR found, order ignored: two-column pages
are read in another order by each engine, which CER punishes and search does not care about) and seconds per
page, one page at a time, with the `lscpu` flags. Each engine runs in whichever interpreter has it installed:
run the script once per environment and compare the JSON.
"""

from __future__ import annotations

import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import base_parser, cpu_flags, load_avg, write_json  # noqa: E402

# (file under ../shared, pages): single- and two-column prose, a filing's tables, a statement, a court filing
PAGES = (
    ("pdfs/real_world/attention_is_all_you_need_1706.03762.pdf", (1, 3, 6)),
    ("eval/docugami_sec10q/docs/2022 Q3 NVDA.pdf", (3, 20, 30)),
    ("pdfs/real_world/llama_agents/court_orders/dr_a_motion.pdf", (1, 2)),
    ("pdfs/real_world/llama_agents/scotus_briefs/598us1r3_j4ek.pdf", (2, 5)),
    ("pdfs/real_world/llama_agents/bank_statements/bank_statement.pdf", (1,)),
    ("eval/blockchain_solana/source_files/BlockchainSolana.pdf", (4, 9)),
)


def render(shared: Path, work: Path, scale: float) -> list[tuple[Path, str]]:
    """(picture, truth) per page, rendered once into `work`."""
    import pypdfium2 as pdfium

    out = []
    for name, numbers in PAGES:
        document = pdfium.PdfDocument(str(shared / name))
        for number in numbers:
            picture = work / f"{Path(name).stem}-p{number}-x{scale:g}.png"
            page = document[number - 1]
            truth = page.get_textpage().get_text_bounded()
            if not picture.exists():
                page.render(scale=scale).to_pil().convert("L").save(picture)
            out.append((picture, truth))
        document.close()
    return out


def engine(name: str):
    """A function picture → text for `name`."""
    from PIL import Image

    if name == "tesseract":
        import pytesseract

        return lambda path: pytesseract.image_to_string(Image.open(path), lang="eng")
    if name == "rapidocr":
        from rapidocr_onnxruntime import RapidOCR

        ocr = RapidOCR()

        def read(path: Path) -> str:
            result, _ = ocr(str(path))
            return "\n".join(text for _, text, _ in result or [])

        return read
    raise SystemExit(f"unknown engine {name!r}")


def flat(text: str) -> str:
    return " ".join(text.split())


def word_recall(ocr: str, truth: str) -> float:
    want, got = Counter(re.findall(r"\w+", truth.lower())), Counter(re.findall(r"\w+", ocr.lower()))
    return sum((want & got).values()) / max(sum(want.values()), 1)


def measure(name: str, pages: list[tuple[Path, str]]) -> dict:
    from rapidfuzz.distance import Levenshtein

    read = engine(name)
    read(pages[0][0])  # warm-up: model load
    cers, recalls, seconds = [], [], []
    for picture, truth in pages:
        started = time.perf_counter()
        text = read(picture)
        seconds.append(time.perf_counter() - started)
        cers.append(Levenshtein.distance(flat(text), flat(truth)) / max(len(flat(truth)), 1))
        recalls.append(word_recall(text, truth))
    return {"engine": name, "pages": len(pages), "cer_median": round(statistics.median(cers), 3),
            "cer_mean": round(statistics.mean(cers), 3), "word_recall_mean": round(statistics.mean(recalls), 3),
            "s_per_page_median": round(statistics.median(seconds), 2), "per_page_cer": [round(c, 3) for c in cers]}


def main() -> None:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="where the rendered pages are kept")
    parser.add_argument("--engines", default="tesseract,rapidocr")
    parser.add_argument("--scales", default="3")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    rows = []
    for scale in (float(s) for s in args.scales.split(",")):
        pages = render(args.shared, args.work, scale)
        for name in args.engines.split(","):
            row = measure(name, pages) | {"scale": scale}
            rows.append(row)
            print(f"{name:10} scale {scale:g}: CER median {row['cer_median']} mean {row['cer_mean']}, "
                  f"word recall {row['word_recall_mean']}, {row['s_per_page_median']} s/page")
    if args.out:
        write_json(args.out, {"results": rows, "cpu_flags": cpu_flags(), "load_avg": load_avg()})


if __name__ == "__main__":
    main()
