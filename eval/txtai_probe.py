"""Run by the txtai virtual environment's python (not the project's): index passages with txtai and time
dense and hybrid queries. Standard library + txtai only, so it runs without citeqa installed.

    var/txtai-venv/bin/python eval/txtai_probe.py INPUT.json OUTPUT.json

INPUT: {"model": local model path, "warmup": int, "corpora": [{"name", "passages": [[id, text], ...],
"timed": [question, ...], "ranked": [question, ...]}]}. OUTPUT: per corpus and mode ("dense", "hybrid" =
txtai's hybrid: True, its BM25 scoring fused with the dense scores), the query milliseconds of the
"timed" questions and the top-10 passage ids of the "ranked" questions (scored by the caller).
"""

from __future__ import annotations

import json
import sys
import time
from importlib import metadata


def probe(model: str, corpus: dict, warmup: int) -> dict:
    from txtai import Embeddings

    out = {}
    for mode, hybrid in (("dense", False), ("hybrid", True)):
        embeddings = Embeddings(path=model, content=False, hybrid=hybrid)
        started = time.perf_counter()
        embeddings.index([(int(pid), text, None) for pid, text in corpus["passages"]])
        index_seconds = time.perf_counter() - started
        for question in corpus["timed"][:warmup]:
            embeddings.search(question, 10)
        samples = []
        for question in corpus["timed"]:
            started = time.perf_counter()
            embeddings.search(question, 10)
            samples.append((time.perf_counter() - started) * 1000)
        ranked = [[int(pid) for pid, _ in embeddings.search(q, 10)] for q in corpus["ranked"]]
        out[mode] = {"samples_ms": samples, "ranked": ranked, "index_seconds": index_seconds}
    return out


def main() -> int:
    source, target = sys.argv[1], sys.argv[2]
    with open(source, encoding="utf-8") as f:
        request = json.load(f)
    result = {
        "txtai": metadata.version("txtai"),
        "torch": metadata.version("torch"),
        "corpora": {c["name"]: probe(request["model"], c, request["warmup"]) for c in request["corpora"]},
    }
    with open(target, "w", encoding="utf-8") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
