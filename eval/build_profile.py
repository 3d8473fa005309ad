"""Where an index build's time goes, against the encode floor (issue: build >= 0.9 x raw encode throughput).

    python -m eval.build_profile [--passages 2000] [--out var/bench/build-profile]

Builds an index of synthetic passages under pyinstrument with the real encoder, timing the encoder's own
calls (``TimedEncoder`` delegates to it and adds up the seconds), then rebuilds with the embedding cache now
warm, which is the whole build minus encoding. Writes profile.txt (pyinstrument's call tree), profile.html
and build_profile.json; prints encode share = encode seconds / build seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from eval.synthetic import synthetic_documents
from indexer.build import IndexSettings, build_index
from indexer.embedding import DEFAULT_MODEL, Encoder
from indexer.embedding_cache import EmbeddingCache

DEFAULT_OUT = Path("var/bench/build-profile")


class TimedEncoder:
    """The given encoder, with the seconds spent in its ``encode`` added up."""

    def __init__(self, encoder: Encoder) -> None:
        self._encoder = encoder
        self.name = encoder.name
        self.dimension = encoder.dimension
        self.seconds = 0.0
        self.calls = 0

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        started = time.perf_counter()
        try:
            return self._encoder.encode(texts, batch_size)
        finally:
            self.seconds += time.perf_counter() - started
            self.calls += 1


def profile_build(encoder: Encoder, passages: int, out: Path) -> dict[str, float]:
    from pyinstrument import Profiler

    out.mkdir(parents=True, exist_ok=True)
    documents = synthetic_documents(passages)
    timed = TimedEncoder(encoder)
    with tempfile.TemporaryDirectory() as work:
        cache = EmbeddingCache(Path(work) / "cache")
        profiler = Profiler(interval=0.005)
        profiler.start()
        cold = build_index(documents, timed, Path(work) / "index", IndexSettings(), "synthetic", cache=cache)
        profiler.stop()
        warm = build_index(documents, timed, Path(work) / "index2", IndexSettings(), "synthetic", cache=cache)
    (out / "profile.txt").write_text(profiler.output_text(unicode=True, show_all=False), encoding="utf-8")
    (out / "profile.html").write_text(profiler.output_html(), encoding="utf-8")
    result = {
        "passages": cold.passages,
        "build_seconds": cold.seconds,
        "encode_seconds": timed.seconds,
        "encode_share": timed.seconds / cold.seconds,
        "non_encode_seconds": cold.seconds - timed.seconds,
        "warm_cache_build_seconds": warm.seconds,
    }
    (out / "build_profile.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.build_profile", description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=2_000, help="synthetic passages to index")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    args = parser.parse_args(argv)
    from eval.bench import load_encoder

    result = profile_build(load_encoder(DEFAULT_MODEL), args.passages, args.out)
    print(json.dumps(result, indent=2), file=sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
