"""One report of the whole benchmark (`make bench`): the parts' Markdown reports, in order, under
var/bench/README.md, with their plots beside them. Run after the parts; a part not run is named as such.

    python -m eval.bench_summary [--root var/bench]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

# (title, report path under the root, the command that writes it)
PARTS = (
    ("Build and query latency per mode (default and synthetic corpora)", "report.md", "python -m eval.bench"),
    (
        "Query path: encoder backends against their floor, and txtai",
        "query/report.md",
        "python -m eval.query_bench",
    ),
    (
        "Encoder cost per question by batch size, and CPU burnt between questions",
        "encode-cost/report.md",
        "python -m eval.encode_cost",
    ),
    ("Large corpora: FAISS index types at 10k / 100k / 1M", "scale/report.md", "python -m eval.scale_bench"),
    (
        "Load: concurrency 1 / 8 / 32 / 128, workers, question batching on and off, shed, load average, "
        "cold start",
        "load.md",
        "python -m eval.load_bench",
    ),
    (
        "Segmented index: writes, opening, queries after writes, memory, merges at 10k / 100k / 1M",
        "segments/report.md",
        "python -m eval.segment_bench",
    ),
)


def shift_headings(markdown: str) -> str:
    """Each part's headings one level down, so the parts sit under this report's own sections."""
    return "\n".join("#" + line if line.startswith("#") else line for line in markdown.splitlines())


def relink_images(markdown: str, folder: str) -> str:
    """Image links of a part relative to the root (a part's plots live beside its report)."""
    if not folder:
        return markdown
    return markdown.replace("](", f"]({folder}/").replace(f"]({folder}/http", "](http")


def summary(root: Path) -> str:
    lines = [
        "# citeqa benchmark",
        "",
        f"Assembled {datetime.now(UTC).isoformat(timespec='seconds')} by `make bench` "
        "(each part below names its machine, load average and command).",
        "",
    ]
    for title, relative, command in PARTS:
        lines += [f"## {title}", "", f"`{command}`", ""]
        report = root / relative
        if report.is_file():
            folder = Path(relative).parent.as_posix()
            part = report.read_text(encoding="utf-8")
            lines += [relink_images(shift_headings(part), "" if folder == "." else folder), ""]
        else:
            lines += [f"(not run: {report} does not exist)", ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.bench_summary", description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=Path("var/bench"))
    args = parser.parse_args(argv)
    out = args.root / "README.md"
    out.write_text(summary(args.root), encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
