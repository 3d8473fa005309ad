"""Where a query's time goes, against the encode floor: pyinstrument over ``Answerer.respond`` as the
service builds it (settings from CITEQA_*, so the configured backend), on the seed questions.

    python -m eval.query_profile [--repeats 3] [--index DIR] [--out var/bench/query-profile]

Each question is asked once to warm the caches, then ``repeats`` times with a suffix that keeps the
question-vector cache from answering; the floor is the question encoder's own single-question encode of
the same texts (the question tower's when it is on). Writes profile.txt (pyinstrument's call tree) and
query_profile.json; prints floor and respond.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path

from pyinstrument import Profiler

from eval.seed_set import load_eval_set
from service.settings import Settings
from service.wiring import build_answerer

DEFAULT_OUT = Path("var/bench/query-profile")


def variants(questions: Sequence[str], repeats: int) -> list[str]:
    """Each question ``repeats`` times, each time worded apart (a trailing marker word), so no cache of
    question vectors or responses answers it."""
    return [f"{q} {'again ' * r}".strip() for r in range(1, repeats + 1) for q in questions]


def profile_queries(
    questions: Sequence[str], repeats: int, out: Path, settings: Settings
) -> dict[str, float]:
    answerer = build_answerer(settings)
    for question in questions:
        answerer.respond(question, 5, "hybrid")
    asked = variants(questions, repeats)
    encoder = answerer.searcher.question_encoder
    started = time.perf_counter()
    for question in asked:
        encoder.encode([question + " floor"])
    floor_ms = (time.perf_counter() - started) / len(asked) * 1000
    profiler = Profiler(interval=0.0002)
    profiler.start()
    started = time.perf_counter()
    for question in asked:
        answerer.respond(question, 5, "hybrid")
    respond_ms = (time.perf_counter() - started) / len(asked) * 1000
    profiler.stop()
    out.mkdir(parents=True, exist_ok=True)
    (out / "profile.txt").write_text(profiler.output_text(unicode=False, color=False), encoding="utf-8")
    result = {"queries": len(asked), "floor_ms": floor_ms, "respond_ms": respond_ms}
    (out / "query_profile.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.query_profile", description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--questions", type=int, default=None, help="the first N seed questions only")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--index", type=Path, default=None, help="index folder (default: CITEQA_INDEX_PATH)")
    args = parser.parse_args(argv)
    settings = Settings() if args.index is None else Settings(index_path=args.index)
    questions = [q.question for q in load_eval_set()][: args.questions]
    result = profile_queries(questions, args.repeats, args.out, settings)
    print(
        f"{result['queries']} queries: encode floor {result['floor_ms']:.2f} ms, respond "
        f"{result['respond_ms']:.2f} ms ({result['respond_ms'] / result['floor_ms']:.2f} x); "
        f"call tree in {args.out / 'profile.txt'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
