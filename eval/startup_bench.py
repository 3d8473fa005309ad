"""Start-up benchmark (not a test): seconds from spawning `citeqa serve` over an index to its first answer,
with no sentence vectors cached, and what loading the model alone costs in a fresh process.

    python -m eval.startup_bench --index DIR [--repeats 2] [--out var/bench/startup.json]

Each start gets a new empty embedding cache (CITEQA_EMBEDDING_CACHE_PATH), so an index that stores no
sentence vectors embeds them all, as a first start would; the ONNX export cache is the configured one
(warm after any earlier start; a first export adds its own cost). The model alone: a fresh Python process
that imports the service, loads the question encoder as `citeqa serve` does and encodes one question.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from eval import load_bench
from eval.load_bench import cold_start_seconds, log, server_env

MODEL_ONLY = """
import time
started = time.perf_counter()
from service.settings import Settings
from service.wiring import build_encoder, build_question_encoder
settings = Settings()
encoder = build_encoder(settings)
build_question_encoder(settings, encoder).encode(["what are milia?"])
print(time.perf_counter() - started)
"""


def model_load_seconds() -> float:
    """A fresh process: import the service, load the model and the question encoder (the question tower
    when on) as `citeqa serve` does, encode one question."""
    done = subprocess.run(
        [sys.executable, "-c", MODEL_ONLY], env=server_env(), capture_output=True, text=True, check=True
    )
    return float(done.stdout.strip().splitlines()[-1])


def startup_seconds(index: Path, repeats: int) -> list[float]:
    """Seconds to the first answer of `citeqa serve` over ``index``, each start with an empty embedding
    cache."""
    seconds = []
    for repeat in range(repeats):
        with tempfile.TemporaryDirectory(prefix="citeqa-startup-") as fresh:
            seconds.append(cold_start_seconds(index, extra_env={"CITEQA_EMBEDDING_CACHE_PATH": fresh}))
        log(f"start-up {repeat + 1}/{repeats} over {index}: {seconds[-1]:.1f} s to the first answer")
    return seconds


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m eval.startup_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--index", type=Path, required=True, help="index folder to serve")
    parser.add_argument("--repeats", type=int, default=2, help="starts to time")
    parser.add_argument("--out", type=Path, help="write the numbers as JSON here too")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for a first answer")
    args = parser.parse_args(argv)
    load_bench.STARTUP_TIMEOUT = args.timeout  # an index without sentence vectors may take minutes
    manifest = json.loads((args.index / "manifest.json").read_text(encoding="utf-8"))
    started = time.perf_counter()
    result = {
        "index": str(args.index),
        "passages": manifest["counts"]["passages"],
        "stores_sentences": all(e.get("sentences") is not None for e in manifest["segments"]),
        "first_answer_seconds": startup_seconds(args.index, args.repeats),
    }
    # After the starts, so that both find the libraries in the page cache.
    result["model_load_seconds"] = [model_load_seconds() for _ in range(args.repeats)]
    result["bench_seconds"] = time.perf_counter() - started
    text = json.dumps(result, indent=2)
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
