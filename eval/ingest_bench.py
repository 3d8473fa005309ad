"""How long a PDF takes to ingest: a PDF of N text pages made with fpdf2 (the test extra), read through
the one ingestion path (``corpus.ingest.document_from_upload``: pypdf, page starts, cleaning), timed.

    .venv/bin/python -m eval.ingest_bench                 # 100 pages of ~3,400 characters
    .venv/bin/python -m eval.ingest_bench --pages 300 --repeat 5
"""

from __future__ import annotations

import argparse
import statistics
import time

SENTENCES = (
    "Milia are small white cysts of keratin trapped under the surface of the skin.",
    "They are common in newborns and usually clear up on their own within a few weeks.",
    "Squeezing or picking them can irritate the skin and is best avoided.",
    "A dermatologist can remove persistent milia in adults with a sterile needle.",
    "Gentle cleansing with a mild soap is all the care most babies need.",
)


def make_pdf(pages: int, chars_per_page: int) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=9)
    for number in range(1, pages + 1):
        words: list[str] = [f"Page {number}."]
        while sum(len(w) + 1 for w in words) < chars_per_page:
            words.append(SENTENCES[len(words) % len(SENTENCES)])
        pdf.add_page()
        pdf.multi_cell(0, 4, " ".join(words))
    return bytes(pdf.output())


def main() -> None:
    from corpus.ingest import document_from_upload

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--chars-per-page", type=int, default=3_400)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    content = make_pdf(args.pages, args.chars_per_page)
    seconds: list[float] = []
    for _ in range(args.repeat):
        began = time.perf_counter()
        document = document_from_upload(content, filename="bench.pdf")
        seconds.append(time.perf_counter() - began)
    print(
        f"{args.pages}-page PDF of {len(content) / 1000:.0f} KB, {len(document.text):,} characters, "
        f"{len(document.page_starts)} pages kept: ingested in {min(seconds):.2f} s "
        f"(best of {args.repeat}; median {statistics.median(seconds):.2f} s)"
    )


if __name__ == "__main__":
    main()
