"""Evaluate citeqa on a BEIR dataset folder: build or reuse its index, run every mode, write a report.

Scores are at the document level: each passage ranking is collapsed to documents by first occurrence,
and enough passages are asked for that ``min_documents`` (100) documents come back. The report folder:

    summary.md          metrics per mode with 95% bootstrap intervals, paired differences, per-subset rows
    results.json        the same as data, with every per-query value
    runs/<mode>.trec    document runs, "qid Q0 docid rank score citeqa-<mode>"; score = n - rank + 1
                        (strictly decreasing), so trec_eval, ranx or pytrec_eval rescore exactly this order;
                        not written when an id holds whitespace (the summary says so)

The index lives in ``var/eval/indexes/<dataset>-<settings-hash>`` and is reused when its corpus fingerprint,
model and settings match; passage embeddings go through an EmbeddingCache, so a rebuild of the same passages
embeds nothing.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from citeqa.fusion import FusionSettings
from citeqa.query_adapter import QueryAdapter
from citeqa.question_tower import question_side
from citeqa.search import Searcher
from citeqa.types import SearchMode
from eval.beir import BeirDataset, Query, load_beir_dataset
from eval.metrics import Qrels, Run, bootstrap_ci, collapse_to_documents, evaluate
from indexer.build import IndexSettings, build_index
from indexer.embedding import Encoder
from indexer.embedding_cache import EmbeddingCache
from indexer.load import LoadedIndex, load_index
from indexer.staleness import index_is_current

EVAL_METRICS = ("ndcg@10", "recall@10", "recall@100", "mrr@10")
MIN_DOCUMENTS = 100
DEFAULT_INDEX_ROOT = Path("var/eval/indexes")
DEFAULT_REPORT_ROOT = Path("var/eval")
GROUP_FIELDS = ("subset", "source", "group", "category")
MISSING_GROUP = "(none)"
Log = Callable[[str], None]


@dataclass(frozen=True)
class Variant:
    """One row of the report: a search mode, with the fusion it uses when hybrid."""

    label: str
    mode: SearchMode
    fusion: FusionSettings


@dataclass(frozen=True)
class PreparedIndex:
    index: LoadedIndex
    built: bool
    seconds: float
    embedded: int = 0
    from_cache: int = 0


@dataclass(frozen=True)
class VariantScores:
    variant: Variant
    metrics: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    per_query: dict[str, dict[str, float]]
    ms_per_query: float
    subsets: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)


@dataclass(frozen=True)
class DatasetReport:
    name: str
    context: dict[str, Any]
    scores: list[VariantScores]
    runs: dict[str, Run]
    out: Path
    index: PreparedIndex


# Index.


def settings_hash(model: str, settings: IndexSettings) -> str:
    """12 hex characters naming (model, index settings)."""
    view = json.dumps({"model": model, **settings.manifest_view()}, sort_keys=True)
    return hashlib.sha256(view.encode()).hexdigest()[:12]


def index_folder(root: Path, dataset_name: str, model: str, settings: IndexSettings) -> Path:
    return Path(root) / f"{dataset_name}-{settings_hash(model, settings)}"


def prepare_index(
    dataset: BeirDataset,
    encoder: Encoder,
    settings: IndexSettings,
    root: Path = DEFAULT_INDEX_ROOT,
    cache: EmbeddingCache | None = None,
) -> PreparedIndex:
    """Load the dataset's index for ``settings``, building it first unless an up-to-date one exists."""
    folder = index_folder(root, dataset.name, encoder.name, settings)
    if index_is_current(folder, dataset.corpus, encoder.name, settings):
        return PreparedIndex(load_index(folder, expected_model=encoder.name), built=False, seconds=0.0)
    hits, misses = (cache.hits, cache.misses) if cache else (0, 0)
    report = build_index(
        dataset.corpus, encoder, folder, settings, f"BEIR dataset {dataset.name}", cache=cache
    )
    embedded = cache.misses - misses if cache else report.passages
    from_cache = cache.hits - hits if cache else 0
    index = load_index(folder, expected_model=encoder.name)
    return PreparedIndex(index, built=True, seconds=report.seconds, embedded=embedded, from_cache=from_cache)


# Runs.


def default_variants(fusion: FusionSettings) -> list[Variant]:
    """hybrid (with ``fusion``), dense, bm25, and plain RRF for comparison when ``fusion`` is not RRF."""
    variants = [
        Variant("hybrid", "hybrid", fusion),
        Variant("dense", "dense", fusion),
        Variant("bm25", "bm25", fusion),
    ]
    if fusion.method != "rrf":
        rrf = FusionSettings(method="rrf", rrf_k=60.0, candidates=fusion.candidates)
        variants.append(Variant("hybrid-rrf", "hybrid", rrf))
    return variants


def ranked_documents(
    searcher: Searcher, question: str, mode: SearchMode, min_documents: int = MIN_DOCUMENTS
) -> dict[str, float]:
    """The first ``min_documents`` documents of the question's passage ranking, by first occurrence
    (score n - position); the passage depth doubles until that many documents come back or none are left."""
    total = len(searcher.index.passages)
    depth = min(total, 3 * min_documents)
    while True:
        ranked = searcher.rank(question, depth, mode)
        pairs = [
            (searcher.index.passages[int(i)].doc_id, float(s))
            for i, s in zip(ranked.ids, ranked.scores, strict=True)
        ]
        documents = collapse_to_documents(pairs)
        if len(documents) >= min_documents or len(ranked.ids) < depth or depth >= total:
            break
        depth = min(total, 2 * depth)
    return collapse_to_documents([(doc_id, 0.0) for doc_id in list(documents)[:min_documents]])


def run_variant(
    searcher: Searcher, queries: list[Query], mode: SearchMode, min_documents: int = MIN_DOCUMENTS
) -> tuple[Run, float]:
    """The document run of every query, and the mean milliseconds per query (encoding included)."""
    run: Run = {}
    started = time.perf_counter()
    for query in queries:
        run[query.qid] = ranked_documents(searcher, query.text.strip(), mode, min_documents)
    elapsed = (time.perf_counter() - started) * 1000 / max(len(queries), 1)
    return run, elapsed


# Scores.


def score_run(
    qrels: Qrels, run: Run, metrics: tuple[str, ...] = EVAL_METRICS
) -> tuple[dict[str, float], dict[str, tuple[float, float]], dict[str, dict[str, float]]]:
    """Means, 95% bootstrap intervals and per-query values of each metric."""
    results = evaluate(qrels, run, metrics)
    means = {name: r.mean for name, r in results.items()}
    intervals = {name: bootstrap_ci(list(r.per_query.values())) for name, r in results.items() if r.per_query}
    return means, intervals, {name: r.per_query for name, r in results.items()}


def detect_group_fields(queries: list[Query]) -> list[str]:
    """The first of GROUP_FIELDS that some query's metadata holds, if any."""
    present = {key for query in queries for key in query.metadata}
    return next(([name] for name in GROUP_FIELDS if name in present), [])


def check_group_fields(queries: list[Query], fields: list[str]) -> None:
    """Each field asked for per-subset rows is in some query's metadata: one that none holds (a typo) would
    put every query in one "(none)" row."""
    present = sorted({key for query in queries for key in query.metadata})
    for name in fields:
        if name not in present:
            held = ", ".join(present) if present else "none (no query has metadata)"
            raise ValueError(
                f"--group-by {name}: no judged query's metadata has that field; the fields they hold: {held}"
            )


def subset_means(
    per_query: dict[str, dict[str, float]], queries: list[Query], group: str
) -> dict[str, dict[str, float]]:
    """Per value of metadata field ``group``: the query count and the mean of each metric."""
    members: dict[str, list[str]] = {}
    for query in queries:
        members.setdefault(query.metadata.get(group, MISSING_GROUP), []).append(query.qid)
    rows: dict[str, dict[str, float]] = {}
    for value in sorted(members):
        scored = [qid for qid in members[value] if qid in next(iter(per_query.values()), {})]
        row: dict[str, float] = {"queries": float(len(scored))}
        for metric, values in per_query.items():
            row[metric] = sum(values[qid] for qid in scored) / len(scored) if scored else 0.0
        rows[value] = row
    return rows


def paired_difference(
    per_query: dict[str, float], reference: dict[str, float]
) -> tuple[float, tuple[float, float]]:
    """Mean per-query difference (this - reference) and its 95% bootstrap interval."""
    differences = [per_query[qid] - reference[qid] for qid in per_query if qid in reference]
    if not differences:
        return 0.0, (0.0, 0.0)
    return sum(differences) / len(differences), bootstrap_ci(differences)


# Files.


def write_trec(path: Path, run: Run, tag: str) -> None:
    """``qid Q0 docid rank score tag`` lines, best first; score = n - rank + 1 (strictly decreasing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for qid, scores in run.items():
        ordered = sorted(scores, key=lambda doc_id: (-scores[doc_id], doc_id))
        n = len(ordered)
        lines += [f"{qid} Q0 {doc_id} {rank} {n - rank + 1} {tag}" for rank, doc_id in enumerate(ordered, 1)]
    path.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")


def read_trec(path: Path) -> Run:
    """A TREC run file back as a Run (qid -> docid -> score)."""
    run: Run = {}
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        cells = line.split()
        if not cells:
            continue
        if len(cells) != 6 or cells[1] != "Q0":
            raise ValueError(f"{path}, line {number}: expected 'qid Q0 docid rank score tag'")
        run.setdefault(cells[0], {})[cells[2]] = float(cells[4])
    return run


def metrics_table(scores: list[VariantScores], metrics: tuple[str, ...] = EVAL_METRICS) -> str:
    header = "| mode | fusion | " + " | ".join(metrics) + " | ms/query |"
    rule = "|---" * (len(metrics) + 3) + "|"
    rows = [
        f"| {s.variant.label} | {s.variant.fusion.label() if s.variant.mode == 'hybrid' else '-'} | "
        + " | ".join(f"{s.metrics[m]:.3f}" for m in metrics)
        + f" | {s.ms_per_query:.1f} |"
        for s in scores
    ]
    return "\n".join([header, rule, *rows])


def subset_table(scores: list[VariantScores], group: str) -> str:
    """nDCG@10 / MRR@10 of every mode, per value of ``group``."""
    labels = [s.variant.label for s in scores]
    header = f"| {group} | queries | " + " | ".join(f"{label} nDCG@10 / MRR@10" for label in labels) + " |"
    rule = "|---" * (len(labels) + 2) + "|"
    rows = []
    for value, first in scores[0].subsets[group].items():
        cells = [
            f"{s.subsets[group][value]['ndcg@10']:.3f} / {s.subsets[group][value]['mrr@10']:.3f}"
            for s in scores
        ]
        rows.append(f"| {value} | {int(first['queries'])} | " + " | ".join(cells) + " |")
    return "\n".join([header, rule, *rows])


def summary_markdown(report: DatasetReport, reference: str = "dense") -> str:
    lines = [f"# citeqa evaluation: {report.name}", "", metrics_table(report.scores), ""]
    lines += [f"- {key}: {value}" for key, value in report.context.items()]
    lines += ["", "95% bootstrap confidence intervals (1,000 resamples over questions):", ""]
    for s in report.scores:
        cis = ", ".join(f"{m} [{lo:.3f}, {hi:.3f}]" for m, (lo, hi) in s.intervals.items())
        lines.append(f"- {s.variant.label}: {cis}")
    by_label = {s.variant.label: s for s in report.scores}
    if reference in by_label:
        lines += ["", f"Paired difference to {reference} (mean, 95% bootstrap interval):", ""]
        for s in report.scores:
            if s.variant.label == reference:
                continue
            parts = []
            for metric in ("ndcg@10", "mrr@10"):
                mean, (lo, hi) = paired_difference(s.per_query[metric], by_label[reference].per_query[metric])
                parts.append(f"{metric} {mean:+.4f} [{lo:+.4f}, {hi:+.4f}]")
            lines.append(f"- {s.variant.label}: " + ", ".join(parts))
    for group in report.scores[0].subsets if report.scores else []:
        lines += ["", f"## By {group}", "", subset_table(report.scores, group)]
    return "\n".join(lines) + "\n"


def results_json(report: DatasetReport) -> dict[str, Any]:
    return {
        "dataset": report.name,
        "context": report.context,
        "modes": {
            s.variant.label: {
                "mode": s.variant.mode,
                "fusion": s.variant.fusion.label() if s.variant.mode == "hybrid" else None,
                "metrics": s.metrics,
                "ci95": {m: list(ci) for m, ci in s.intervals.items()},
                "ms_per_query": s.ms_per_query,
                "subsets": s.subsets,
                "per_query": s.per_query,
            }
            for s in report.scores
        },
    }


def id_with_whitespace(qrels: Qrels, corpus_ids: list[str]) -> str | None:
    """The first query or document id holding whitespace, which TREC run files cannot hold (their columns
    are separated by whitespace: "q 1 Q0 doc 7 1 30 tag" reads as other ids)."""
    return next((i for i in [*qrels, *corpus_ids] if any(c.isspace() for c in i)), None)


def write_report(report: DatasetReport) -> Path:
    """summary.md, results.json and runs/<mode>.trec into ``report.out`` (no runs when an id holds
    whitespace: see ``id_with_whitespace``; the report's context says so)."""
    report.out.mkdir(parents=True, exist_ok=True)
    (report.out / "summary.md").write_text(summary_markdown(report), encoding="utf-8")
    data = json.dumps(results_json(report), indent=2, ensure_ascii=False) + "\n"
    (report.out / "results.json").write_text(data, encoding="utf-8")
    # The run files of an earlier evaluation into this folder would be read as this one's.
    for stale in (report.out / "runs").glob("*.trec"):
        stale.unlink()
    if report.context.get("TREC runs", "").startswith("not written"):
        return report.out
    for label, run in report.runs.items():
        write_trec(report.out / "runs" / f"{label}.trec", run, f"citeqa-{label}")
    return report.out


# The whole evaluation.


def evaluate_dataset(
    dataset_dir: Path,
    encoder: Encoder,
    fusion: FusionSettings,
    settings: IndexSettings | None = None,
    out: Path | None = None,
    index_root: Path = DEFAULT_INDEX_ROOT,
    cache: EmbeddingCache | None = None,
    group_by: list[str] | None = None,
    min_documents: int = MIN_DOCUMENTS,
    log: Log | None = None,
    query_encoder: Encoder | None = None,
    query_adapter: QueryAdapter | None = None,
) -> DatasetReport:
    """Build or reuse the dataset's index, score every variant, and write the report folder.
    ``query_encoder`` embeds the questions when it is not ``encoder`` (the service builds indexes on
    PyTorch and runs questions on the configured backend; this measures that same pairing);
    ``query_adapter`` maps the question vectors as the service's does (citeqa.query_adapter)."""
    say = log or (lambda _message: None)
    settings = settings or IndexSettings()
    dataset = load_beir_dataset(dataset_dir)
    say(f"{dataset.name}: {len(dataset.corpus)} documents, {judged_queries(dataset.qrels)}")
    check_group_fields(list(dataset.queries.values()), group_by or [])
    prepared = prepare_index(dataset, encoder, settings, index_root, cache)
    say(describe_index(prepared))
    queries = list(dataset.queries.values())
    groups = group_by if group_by else detect_group_fields(queries)
    scores, runs = [], {}
    for variant in default_variants(fusion):
        searcher = Searcher(
            prepared.index, query_encoder or encoder, variant.fusion, query_adapter=query_adapter
        )
        run, ms = run_variant(searcher, queries, variant.mode, min_documents)
        means, intervals, per_query = score_run(dataset.qrels, run)
        subsets = {group: subset_means(per_query, queries, group) for group in groups}
        scores.append(VariantScores(variant, means, intervals, per_query, ms, subsets))
        runs[variant.label] = run
        say(
            f"{variant.label}: "
            + ", ".join(f"{m} {v:.3f}" for m, v in means.items())
            + f", {ms:.1f} ms/query"
        )
    context = report_context(dataset, dataset_dir, prepared, settings, fusion, min_documents, groups)
    context["questions encoded by"] = questions_encoded_by(query_encoder or encoder, encoder)
    context["query adapter"] = str(query_adapter.path) if query_adapter is not None else "none"
    spaced = id_with_whitespace(dataset.qrels, [document.doc_id for document in dataset.corpus])
    context["TREC runs"] = (
        f"not written: the id {spaced!r} holds whitespace, which separates the columns of a TREC run file "
        "(trec_eval would read other ids); the metrics above are not affected"
        if spaced is not None
        else "runs/<mode>.trec"
    )
    if spaced is not None:
        say(f"TREC run files {context['TREC runs']}")
    folder = Path(out or DEFAULT_REPORT_ROOT / dataset.name)
    report = DatasetReport(dataset.name, context, scores, runs, folder, prepared)
    write_report(report)
    return report


def questions_encoded_by(question_encoder: Encoder, encoder: Encoder) -> str:
    """ "the model", or "question tower <sha256 prefix>" when a question tower encodes the questions (its
    numbers differ from the model's, and are in-sample on the questions it was fitted on)."""
    side = question_side(question_encoder, encoder)
    return side if side.startswith("question tower") else "the model"


def judged_queries(qrels: Qrels, shown: int = 5) -> str:
    """How many queries are judged, and which of them no mean counts: a query whose every judgment is
    non-relevant (score <= 0) has nothing to find, so eval.metrics leaves it out of the means."""
    unscored = [qid for qid, grades in qrels.items() if not any(grade > 0 for grade in grades.values())]
    text = f"{len(qrels)} judged queries"
    if not unscored:
        return text
    names = ", ".join(unscored[:shown]) + (", ..." if len(unscored) > shown else "")
    return (
        f"{text}, of which {len(unscored)} with no relevant document (every score 0 or below) left out of "
        f"every mean: {names}"
    )


def describe_index(prepared: PreparedIndex) -> str:
    counts = prepared.index.manifest["counts"]
    what = f"index {prepared.index.path} ({counts['documents']} documents, {counts['passages']} passages)"
    if not prepared.built:
        return f"{what}: reused (corpus fingerprint, model and settings match)"
    return (
        f"{what}: built in {prepared.seconds:.1f} s, {prepared.embedded} texts (passages and sentences) "
        f"embedded, {prepared.from_cache} from the embedding cache"
    )


def report_context(
    dataset: BeirDataset,
    dataset_dir: Path,
    prepared: PreparedIndex,
    settings: IndexSettings,
    fusion: FusionSettings,
    min_documents: int,
    groups: list[str],
) -> dict[str, Any]:
    relevant = sum(1 for grades in dataset.qrels.values() for grade in grades.values() if grade > 0)
    return {
        "dataset": f"{dataset_dir} ({len(dataset.corpus)} documents, {judged_queries(dataset.qrels)}, "
        f"{relevant} relevant pairs)",
        "index": describe_index(prepared),
        "model": prepared.index.model_name,
        "passages": json.dumps(settings.manifest_view(), sort_keys=True),
        "fusion (hybrid)": f"{fusion.label()}, over the top {fusion.candidates} of each list",
        "scoring": f"document level: passage rankings collapsed by first occurrence, {min_documents} "
        "documents per query; ms/query includes encoding the question and the deeper passage retrieval",
        "grouped by": ", ".join(groups) or "-",
    }
