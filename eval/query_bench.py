"""Benchmark (not a test) of one query against its floor, per encoder backend, and against txtai.

    python -m eval.query_bench [--backends torch,onnx,onnx-int8] [--synthetic-passages 1000]
                               [--queries 100] [--txtai auto|on|off] [--out var/bench/query] [--smoke]

One index of a generated corpus (eval.synthetic) is built with the torch encoder and shared by every backend
(their vectors are compatible: the cosine between backends is reported). Per backend, side by side in one run:
the single-question encode time (the floor), the in-process hybrid answer (Answerer.respond: search, grouping,
highlights, answerability; sentence vectors read from the index as the service does) and POST /query hybrid
over HTTP on 127.0.0.1 (response cache off, distinct questions, so every query is computed). Quality: Recall@5
and MRR@10 of the hybrid passage ranking on the seed set. txtai (dense, and hybrid: its BM25 fused with dense)
runs in its own virtual environment (var/txtai-venv, see eval/txtai_probe.py) on the same passages and local
model, timed the same way and scored on the same qrels. Ratios, not absolute numbers, are the result on a
shared machine: the load average is reported at the start and end.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from citeqa.search import Searcher
from eval.bench import Latency, build_and_load, load_average, log, loopback_server, machine_info, time_calls
from eval.metrics import evaluate
from eval.seed_set import DEFAULT_SEED_SET, load_eval_set, seed_qrels
from indexer.backends import default_threads, make_encoder
from indexer.build import IndexSettings, build_index
from indexer.embedding import DEFAULT_MODEL, Encoder, resolve_model_path
from indexer.load import LoadedIndex, load_index
from indexer.onnx_encoder import BACKENDS

TXTAI_VENV = Path("var/txtai-venv")
PROBE = Path(__file__).with_name("txtai_probe.py")
QUALITY = ("recall@5", "mrr@10")


@dataclass(frozen=True)
class BackendResult:
    backend: str
    floor: Latency
    in_process: Latency
    http: Latency
    in_process_over_floor: float
    http_minus_floor_ms: float
    # GET /health on the same server and client: what HTTP alone costs (FastAPI, uvicorn, the client).
    http_alone: Latency
    cosine_to_torch_min: float
    cosine_to_torch_mean: float
    quality: dict[str, float]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m eval.query_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated encoder backends")
    parser.add_argument("--synthetic-passages", type=int, default=1000, help="size of the timed corpus")
    parser.add_argument("--queries", type=int, default=100, help="distinct timed questions")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument(
        "--txtai", choices=("auto", "on", "off"), default="auto", help="auto: if its venv exists"
    )
    parser.add_argument("--threads", type=int, default=None, help="encoder threads (default: all cores)")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--out", type=Path, default=Path("var/bench/query"))
    parser.add_argument(
        "--smoke", action="store_true", help="tiny sizes, torch only (txtai: if its venv exists)"
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.synthetic_passages, args.queries, args.warmup = 100, 5, 1
        args.backends = "torch" if args.backends == ",".join(BACKENDS) else args.backends
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if unknown := [b for b in args.backends if b not in BACKENDS]:
        parser.error(f"unknown backends {unknown}; use a subset of {','.join(BACKENDS)}")
    return args


def seed_quality(searcher: Searcher, run_of: Any = None) -> dict[str, float]:
    """Recall@5 and MRR@10 of the hybrid passage ranking (``run_of(question) -> passage ids``) on the
    answerable seed questions."""
    questions = [q for q in load_eval_set(DEFAULT_SEED_SET) if q.answerable]
    qrels = seed_qrels(questions, searcher.index.documents, searcher.index.passages)
    if run_of is None:
        run_of = {
            q.question: [h.passage.passage_id for h in searcher.search(q.question, 10)] for q in questions
        }
    run = {q.qid: {str(pid): 10.0 - r for r, pid in enumerate(run_of[q.question])} for q in questions}
    return {name: result.mean for name, result in evaluate(qrels, run, QUALITY).items()}


def bench_backend(
    backend: str,
    index: LoadedIndex,
    seed_index: LoadedIndex,
    questions: list[str],
    args: argparse.Namespace,
    torch_vectors: np.ndarray,
) -> BackendResult:
    import httpx

    from service.app import create_app
    from service.settings import Settings
    from service.wiring import build_answerer, build_query_adapter, build_question_encoder

    threads = args.threads or default_threads()
    encoder = make_encoder(args.model, backend, threads)  # type: ignore[arg-type]
    encoder.encode(["warm-up"])
    vectors = encoder.encode(questions)
    cosines = np.sum(vectors * torch_vectors, axis=1)
    settings = Settings(index_path=index.path, model=args.model, backend=backend, response_cache_size=0)
    log(f"{backend}: opening the answer layer over {len(index.passages)} passages")
    # As the service searches: questions by the question tower when one is on (its encode costs the same),
    # and the floor is that encoder's own encode: timing the model's session between the tower's queries
    # would set two ONNX Runtime pools spinning against each other, which a served query never does.
    adapter = build_query_adapter(settings, encoder.dimension)
    quiet = settings.model_copy(update={"question_batch_size": 1, "question_cache_size": 0})
    questions_encoder = build_question_encoder(quiet, encoder)
    questions_encoder.encode(["warm-up"])
    searcher = Searcher(index, encoder, query_adapter=adapter, question_encoder=questions_encoder)
    answerer = build_answerer(settings, searcher)
    # Alternated per question, so that a change of the machine's load hits both series alike.
    floor, in_process = [], []
    for question in questions[: args.warmup]:
        answerer.respond(question, 5, "hybrid")
    for question in questions:
        floor += time_calls(lambda q: questions_encoder.encode([q]), [question], 0)
        in_process += time_calls(lambda q: answerer.respond(q, 5, "hybrid"), [question], 0)
    with (
        loopback_server(create_app(settings, answerer=answerer)) as url,
        httpx.Client(base_url=url, timeout=60.0, trust_env=False) as client,
    ):

        def post(q: str) -> None:
            client.post("/query", json={"question": q, "mode": "hybrid"}).raise_for_status()

        http = time_calls(post, [f"{q} ?" for q in questions], args.warmup)  # not the questions timed above
        alone = time_calls(lambda _: client.get("/health").raise_for_status(), questions, args.warmup)
    f, p, h = Latency.of(floor), Latency.of(in_process), Latency.of(http)
    return BackendResult(
        backend,
        f,
        p,
        h,
        p.p50 / f.p50,
        h.p50 - f.p50,
        Latency.of(alone),
        float(cosines.min()),
        float(cosines.mean()),
        seed_quality(Searcher(seed_index, encoder)),
    )


def serves_http(python: Path) -> bool:
    """Whether the txtai environment can serve txtai's API (its [api] extra, as `make bench` installs)."""
    probe = subprocess.run([str(python), "-c", "import txtai.api, uvicorn"], capture_output=True)
    if probe.returncode:
        log("txtai: its API is not installed (txtai[api]): timed in process only")
    return probe.returncode == 0


def run_txtai(
    index: LoadedIndex, seed_index: LoadedIndex, questions: list[str], args: argparse.Namespace, work: Path
) -> dict[str, Any] | None:
    python = TXTAI_VENV / "bin" / "python"
    if args.txtai == "off" or (args.txtai == "auto" and not python.exists()):
        return None
    seed = [q.question for q in load_eval_set(DEFAULT_SEED_SET) if q.answerable]
    request = {
        "model": resolve_model_path(args.model),
        "warmup": args.warmup,
        "http": serves_http(python),
        "corpora": [
            {
                "name": "timed",
                "passages": [[p.passage_id, p.text] for p in index.passages],
                "timed": questions,
                "ranked": [],
            },
            {
                "name": "seed",
                "passages": [[p.passage_id, p.text] for p in seed_index.passages],
                "timed": [],
                "ranked": seed,
            },
        ],
    }
    (work / "txtai-in.json").write_text(json.dumps(request), encoding="utf-8")
    log("txtai: indexing and querying in its own venv")
    subprocess.run(
        [str(python), str(PROBE), str(work / "txtai-in.json"), str(work / "txtai-out.json")],
        check=True,
        env={"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
    )
    out = json.loads((work / "txtai-out.json").read_text(encoding="utf-8"))
    result: dict[str, Any] = {"txtai": out["txtai"], "torch": out["torch"]}
    searcher = Searcher(seed_index, make_encoder(args.model, "torch", args.threads))
    for mode in ("dense", "hybrid"):
        ranked = dict(zip(seed, out["corpora"]["seed"][mode]["ranked"], strict=True))
        result[mode] = {
            "latency": asdict(Latency.of(out["corpora"]["timed"][mode]["samples_ms"])),
            "quality": seed_quality(searcher, ranked),
        }
    if "hybrid_http" in out["corpora"]["timed"]:
        result["hybrid_http"] = {
            "latency": asdict(Latency.of(out["corpora"]["timed"]["hybrid_http"]["samples_ms"])),
            "quality": result["hybrid"]["quality"],  # the same index, served
        }
    return result


def report(results: list[BackendResult], txtai: dict[str, Any] | None, meta: dict[str, Any]) -> str:
    lines = [
        f"# Query latency per backend ({meta['passages']} passages, {meta['queries']} distinct questions, "
        f"{meta['threads']} encoder threads)",
        "",
        f"Load average at start {meta['load_start']}, at end {meta['load_end']} ({meta['cpus']} cores, "
        "shared: compare ratios, taken side by side).",
        "",
        "| backend | encode p50 (floor) | in-process hybrid p50 | / floor | HTTP p50 | HTTP - floor "
        "| GET /health p50 (HTTP alone) | cos to torch (min) | Recall@5 | MRR@10 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.backend} | {r.floor.p50:.2f} ms | {r.in_process.p50:.2f} ms "
            f"| {r.in_process_over_floor:.2f} "
            f"| {r.http.p50:.2f} ms | {r.http_minus_floor_ms:+.2f} ms | {r.http_alone.p50:.2f} ms "
            f"| {r.cosine_to_torch_min:.4f} "
            f"| {r.quality['recall@5']:.3f} | {r.quality['mrr@10']:.3f} |"
        )
    if txtai:
        lines += [
            "",
            f"txtai {txtai['txtai']} (torch {txtai['torch']}), same passages and model:",
            "",
            "| txtai mode | p50 | Recall@5 | MRR@10 | citeqa in-process hybrid p50 speed-up "
            "| citeqa HTTP p50 speed-up |",
            "|---|---|---|---|---|---|",
        ]
        for mode in ("dense", "hybrid", "hybrid_http"):
            if mode not in txtai:
                continue
            t = txtai[mode]
            p50 = t["latency"]["p50"]
            in_process = ", ".join(f"{r.backend} {p50 / r.in_process.p50:.1f}x" for r in results)
            http = ", ".join(f"{r.backend} {p50 / r.http.p50:.1f}x" for r in results)
            label = {"dense": "dense, in process", "hybrid": "hybrid, in process"}.get(
                mode, "hybrid, its API over HTTP"
            )
            lines.append(
                f"| {label} | {p50:.2f} ms | {t['quality']['recall@5']:.3f} "
                f"| {t['quality']['mrr@10']:.3f} | {in_process} | {http} |"
            )
        lines += [
            "",
            "In process: txtai's Embeddings.search. Over HTTP: txtai's own API (`uvicorn txtai.api:app`, "
            "GET /search, 10 results) serving the same hybrid index from another process, timed from one "
            "kept-alive connection; citeqa's HTTP p50 is POST /query (hybrid, 5 results with highlights, "
            "answer and answerability) from this process.",
        ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    from corpus import DEFAULT_CORPUS_DIR
    from corpus.sources import load_corpus
    from eval.synthetic import synthetic_documents, synthetic_questions

    args = parse_args(argv)
    load_start = load_average()
    torch_encoder: Encoder = make_encoder(args.model, "torch", args.threads)
    with tempfile.TemporaryDirectory(prefix="citeqa-query-bench-") as tmp:
        work = Path(tmp)
        documents = synthetic_documents(args.synthetic_passages, seed=0)
        log(f"building the timed index ({len(documents)} documents) with the torch encoder")
        _, index = build_and_load(documents, torch_encoder, work / "index", IndexSettings(), "eval.synthetic")
        build_index(load_corpus(DEFAULT_CORPUS_DIR), torch_encoder, work / "seed", IndexSettings(), "seed")
        seed_index = load_index(work / "seed")
        questions = list(dict.fromkeys(synthetic_questions(list(index.documents.values()), args.queries * 3)))
        questions = questions[: args.queries]
        torch_vectors = torch_encoder.encode(questions)
        results = [bench_backend(b, index, seed_index, questions, args, torch_vectors) for b in args.backends]
        txtai = run_txtai(index, seed_index, questions, args, work)
    meta = {
        "passages": len(index.passages),
        "queries": len(questions),
        "threads": args.threads or default_threads(),
        "cpus": default_threads(),
        "load_start": load_start,
        "load_end": load_average(),
    }
    markdown = report(results, txtai, meta)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.md").write_text(markdown, encoding="utf-8")
    payload = {
        "meta": meta,
        "machine": machine_info(),
        "backends": [asdict(r) for r in results],
        "txtai": txtai,
    }
    (args.out / "results.json").write_text(json.dumps(payload, indent=2), encoding="utf-8")
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
