"""Dataset evaluation end to end (real model), the embedding cache, the fusion methods and the CV folds.

The medquad-dev smoke slice (first 200 documents and the questions they answer) shares the project's
embedding cache (var/cache/embeddings), which `citeqa eval --dataset .../medquad-dev` fills: with it warm the
slice embeds nothing; cold, its first run embeds ~1,000 passages (a minute or two on 2 cores).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from support import distinct_sentence_texts, record_passage_encoders
from typer.testing import CliRunner

from citeqa.fusion import (
    Candidates,
    FusionSettings,
    fuse,
    fuse_ranking,
    minmax,
    reciprocal_rank_fusion,
    zscore,
)
from eval.beir import Query, load_beir_dataset
from eval.beir_eval import (
    EVAL_METRICS,
    DatasetReport,
    detect_group_fields,
    evaluate_dataset,
    prepare_index,
    read_trec,
)
from eval.cv import (
    CvRow,
    FoldResult,
    PassageSetting,
    cross_validate,
    make_folds,
    page_group,
    paired_gap,
    run_sweep,
    write_sweep,
)
from eval.metrics import evaluate
from indexer.build import IndexSettings
from indexer.chunking import ChunkerSettings
from indexer.embedding import SentenceTransformerEncoder
from indexer.embedding_cache import EmbeddingCache, text_key
from indexer.load import LoadedIndex

MEDQUAD_DEV = Path(__file__).resolve().parents[4] / "shared" / "benchmarks" / "medquad-dev"
SHARED_CACHE = Path(__file__).resolve().parents[3] / "var" / "cache" / "embeddings"
SMALL_PASSAGES = IndexSettings(ChunkerSettings(max_words=12, overlap_words=4), embed_title=True)

TINY_DOCUMENTS = [
    (
        "asthma-causes",
        "Asthma",
        "Asthma is caused by inflamed airways. Allergens, smoke and cold air trigger attacks. "
        "Genes and early infections raise the risk.",
    ),
    (
        "asthma-treatment",
        "Asthma",
        "Asthma is treated with inhalers. Quick-relief inhalers open the airways "
        "during an attack. Daily steroid inhalers reduce the inflammation over time.",
    ),
    (
        "gout-causes",
        "Gout",
        "Gout is caused by uric acid crystals in the joints. A diet rich in red meat and "
        "alcohol raises uric acid.",
    ),
    (
        "gout-treatment",
        "Gout",
        "Gout attacks are treated with anti-inflammatory drugs and colchicine. "
        "Allopurinol lowers uric acid to prevent new attacks.",
    ),
    (
        "anemia-symptoms",
        "Anemia",
        "Anemia makes people feel tired and weak. The skin may look pale, and "
        "climbing stairs leaves them short of breath.",
    ),
    (
        "anemia-causes",
        "Anemia",
        "Anemia is often caused by too little iron. Blood loss and some chronic diseases also cause it.",
    ),
]
TINY_QUERIES = [
    ("asthma_Q1", "What causes asthma ?", "causes", "asthma-causes"),
    ("asthma_Q2", "What are the treatments for asthma ?", "treatment", "asthma-treatment"),
    ("gout_Q1", "What causes gout ?", "causes", "gout-causes"),
    ("gout_Q2", "How is gout treated ?", "treatment", "gout-treatment"),
    ("anemia_Q1", "What are the symptoms of anemia ?", "symptoms", "anemia-symptoms"),
    ("anemia_Q2", "What causes anemia ?", "causes", "anemia-causes"),
]


# Fixtures.


class CountingEncoder:
    """The real encoder, counting the texts it is asked to embed in batches of more than one."""

    def __init__(self, inner: SentenceTransformerEncoder) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        self.batch_texts = 0

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        if len(texts) > 1:
            self.batch_texts += len(texts)
        return self.inner.encode(texts, batch_size)


@pytest.fixture(scope="session")
def real_encoder() -> SentenceTransformerEncoder:
    return SentenceTransformerEncoder()


@pytest.fixture
def encoder(real_encoder: SentenceTransformerEncoder) -> CountingEncoder:
    return CountingEncoder(real_encoder)


def write_beir(
    root: Path, corpus: list[dict], queries: list[dict], qrels: list[tuple[str, str, int]]
) -> Path:
    (root / "qrels").mkdir(parents=True, exist_ok=True)
    (root / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in corpus), encoding="utf-8")
    (root / "queries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in queries), encoding="utf-8")
    rows = "".join(f"{q}\t{d}\t{s}\n" for q, d, s in qrels)
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + rows, encoding="utf-8")
    return root


@pytest.fixture
def tiny_dataset(tmp_path: Path) -> Path:
    corpus = [
        {"_id": i, "title": t, "text": x, "metadata": {"url": f"https://example.org/{i}"}}
        for i, t, x in TINY_DOCUMENTS
    ]
    queries = [
        {"_id": q, "text": t, "metadata": {"subset": q.split("_")[0], "qtype": k}}
        for q, t, k, _ in TINY_QUERIES
    ]
    qrels = [(q, d, 1) for q, _, _, d in TINY_QUERIES] + [("gout_Q1", "gout-treatment", 0)]
    return write_beir(tmp_path / "tiny", corpus, queries, qrels)


def medquad_slice(root: Path, documents: int = 200) -> Path:
    """The first ``documents`` documents of medquad-dev and the questions they answer (all relevant kept)."""
    corpus = [
        json.loads(line) for line in (MEDQUAD_DEV / "corpus.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    corpus = corpus[:documents]
    kept = {record["_id"] for record in corpus}
    judged: dict[str, list[tuple[str, int]]] = {}
    for line in (MEDQUAD_DEV / "qrels" / "test.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        qid, doc_id, score = line.split("\t")
        judged.setdefault(qid, []).append((doc_id, int(score)))
    answered = {qid for qid, pairs in judged.items() if all(doc_id in kept for doc_id, _ in pairs)}
    lines = (MEDQUAD_DEV / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    queries = [record for record in map(json.loads, lines) if record["_id"] in answered]
    qrels = [(qid, doc_id, score) for qid in sorted(answered) for doc_id, score in judged[qid]]
    return write_beir(root, corpus, queries, qrels)


# Checks shared by the end-to-end tests.


def check_report(report: DatasetReport, dataset_dir: Path) -> None:
    for name in ("summary.md", "results.json"):
        assert (report.out / name).is_file()
    results = json.loads((report.out / "results.json").read_text(encoding="utf-8"))
    assert {"hybrid", "dense", "bm25"} <= set(results["modes"])
    qrels = load_beir_dataset(dataset_dir).qrels
    for label, mode in results["modes"].items():
        assert set(mode["metrics"]) == set(EVAL_METRICS)
        assert all(0.0 <= value <= 1.0 for value in mode["metrics"].values())
        assert mode["ms_per_query"] > 0
        run = read_trec(report.out / "runs" / f"{label}.trec")
        assert set(run) == set(qrels)
        rescored = evaluate(qrels, run, list(EVAL_METRICS))
        for metric, result in rescored.items():
            assert result.mean == pytest.approx(mode["metrics"][metric], abs=1e-12)
    lines = (report.out / "runs" / "hybrid.trec").read_text(encoding="utf-8").splitlines()
    _qid, q0, _doc, rank, score, tag = lines[0].split()
    assert (q0, rank, tag) == ("Q0", "1", "citeqa-hybrid") and float(score) > 0


def check_citations(index: LoadedIndex, dataset_dir: Path) -> None:
    """Every passage quotes its document exactly, and the documents are the corpus texts unchanged."""
    corpus = {d.doc_id: d for d in load_beir_dataset(dataset_dir).corpus}
    assert index.passages
    for passage in index.passages:
        document = index.documents[passage.doc_id]
        assert document.text == corpus[passage.doc_id].text
        assert document.text[passage.start : passage.end] == passage.text


# End to end on the tiny dataset (always runs).


def test_tiny_dataset_end_to_end(tiny_dataset: Path, tmp_path: Path, encoder: CountingEncoder) -> None:
    cache = EmbeddingCache(tmp_path / "cache")
    options = dict(settings=SMALL_PASSAGES, index_root=tmp_path / "indexes", cache=cache)
    first = evaluate_dataset(tiny_dataset, encoder, FusionSettings(), out=tmp_path / "report", **options)
    assert first.index.built and first.index.embedded == cache.misses > 0
    assert encoder.batch_texts > 0
    check_report(first, tiny_dataset)
    check_citations(first.index.index, tiny_dataset)
    index = first.index.index
    found = [index.passages[int(i)].text for i in index.bm25.search("anemia", 50)[1]]
    assert any("anemia" not in text.lower() for text in found)  # matched by its document's title
    assert "hybrid-rrf" in json.loads((first.out / "results.json").read_text())["modes"]
    subsets = first.scores[0].subsets["subset"]
    assert set(subsets) == {"asthma", "gout", "anemia"} and subsets["gout"]["queries"] == 2
    assert "## By subset" in (first.out / "summary.md").read_text()

    manifest = first.index.index.path / "manifest.json"
    stamp = manifest.stat().st_mtime_ns
    encoder.batch_texts = 0
    second = evaluate_dataset(tiny_dataset, encoder, FusionSettings(), out=tmp_path / "again", **options)
    assert not second.index.built and manifest.stat().st_mtime_ns == stamp
    assert encoder.batch_texts == 0
    assert [s.metrics for s in second.scores] == [s.metrics for s in first.scores]

    # A build of the same passages elsewhere (a fresh cache object reading the same folder) embeds nothing.
    misses = cache.misses
    fresh = EmbeddingCache(tmp_path / "cache")
    rebuilt = prepare_index(
        load_beir_dataset(tiny_dataset), encoder, SMALL_PASSAGES, tmp_path / "other-root", fresh
    )
    # The build embeds (so caches) the passages and their distinct sentences.
    sentences = distinct_sentence_texts(rebuilt.index.passages, rebuilt.index.documents)
    assert rebuilt.built and rebuilt.embedded == 0
    assert rebuilt.from_cache == len(rebuilt.index.passages) + len(sentences)
    assert encoder.batch_texts == 0 and cache.misses == misses


def test_a_judged_query_with_no_relevant_document_is_said_to_be_left_out(
    tiny_dataset: Path, tmp_path: Path, encoder: CountingEncoder
) -> None:
    """A query whose judgments are all 0 is left out of every mean (eval.metrics), but the report and the
    log said "7 judged queries" over means of 6, so an owner could not tell which questions were scored."""
    with (tiny_dataset / "queries.jsonl").open("a", encoding="utf-8") as queries:
        queries.write(json.dumps({"_id": "gout_Q9", "text": "Is gout contagious ?"}) + "\n")
    with (tiny_dataset / "qrels" / "test.tsv").open("a", encoding="utf-8") as qrels:
        qrels.write("gout_Q9\tgout-causes\t0\n")
    said: list[str] = []
    report = evaluate_dataset(
        tiny_dataset,
        encoder,
        FusionSettings(),
        settings=SMALL_PASSAGES,
        out=tmp_path / "report",
        index_root=tmp_path / "indexes",
        log=said.append,
    )
    expected = (
        "7 judged queries, of which 1 with no relevant document (every score 0 or below) left out of every "
        "mean: gout_Q9"
    )
    assert any(expected in line for line in said), said
    assert expected in report.context["dataset"]
    assert expected in (report.out / "summary.md").read_text(encoding="utf-8")
    assert all(len(s.per_query["ndcg@10"]) == 6 for s in report.scores)


class QuestionCounter:
    """The real encoder, counting the single questions it embeds."""

    def __init__(self, inner: SentenceTransformerEncoder) -> None:
        self.inner, self.name, self.dimension = inner, inner.name, inner.dimension
        self.questions = 0

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        self.questions += len(texts) == 1
        return self.inner.encode(texts, batch_size)


def test_questions_go_to_the_query_encoder_when_one_is_given(
    tiny_dataset: Path, tmp_path: Path, real_encoder: SentenceTransformerEncoder
) -> None:
    """The service embeds passages at build time and questions on its configured backend: the dataset
    evaluation measures that pairing when given a query encoder, with the same metrics for the same model."""
    options = dict(settings=SMALL_PASSAGES, index_root=tmp_path / "indexes")
    plain = evaluate_dataset(tiny_dataset, real_encoder, FusionSettings(), out=tmp_path / "a", **options)
    questions = QuestionCounter(real_encoder)
    paired = evaluate_dataset(
        tiny_dataset, real_encoder, FusionSettings(), out=tmp_path / "b", query_encoder=questions, **options
    )
    assert questions.questions > 0
    assert [s.metrics for s in paired.scores] == [s.metrics for s in plain.scores]


def test_group_by_is_detected_or_given(tiny_dataset: Path) -> None:
    queries = list(load_beir_dataset(tiny_dataset).queries.values())
    assert detect_group_fields(queries) == ["subset"]
    assert detect_group_fields([Query("q", "x", {"qtype": "a"})]) == []


def test_a_group_by_field_no_query_holds_is_refused(tiny_dataset: Path, tmp_path: Path) -> None:
    """`--group-by subsett` (a typo) gave one "(none)" row of every query, as if the set had no subsets."""
    with pytest.raises(ValueError) as error:
        evaluate_dataset(tiny_dataset, None, FusionSettings(), group_by=["subsett"], out=tmp_path / "r")  # type: ignore[arg-type]
    expected = (
        "--group-by subsett: no judged query's metadata has that field; the fields they hold: qtype, subset"
    )
    assert str(error.value) == expected
    assert not (tmp_path / "r").exists()


def test_a_sweep_file_that_cannot_be_written_is_refused_before_the_sweep(
    tiny_dataset: Path, tmp_path: Path
) -> None:
    """--out naming a folder (or --details a path under a file) ended in an IsADirectoryError /
    FileExistsError traceback once the whole sweep had run."""
    from service.cli.app import app

    taken = tmp_path / "taken"
    taken.write_text("mine", encoding="utf-8")
    dataset = ["sweep", "--dataset", str(tiny_dataset), "--index-root", str(tmp_path / "ix")]
    cases = [
        ([*dataset, "--out", str(tmp_path)], f"--out {tmp_path} is a folder: pass the file to write"),
        (
            [*dataset, "--out", str(tmp_path / "s.md"), "--details", str(taken / "d.json")],
            f"--details {taken / 'd.json'} is under the file {taken}",
        ),
        (["seed-sweep", "--out", str(taken / "s.md")], f"--out {taken / 's.md'} is under the file {taken}"),
    ]
    for arguments, expected in cases:
        result = CliRunner().invoke(app, arguments)
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output and expected in " ".join(result.output.split())
    assert not (tmp_path / "ix").exists() and not (tmp_path / "s.md").exists()


def test_cli_eval_and_sweep_on_a_dataset(
    tiny_dataset: Path,
    tmp_path: Path,
    real_encoder: SentenceTransformerEncoder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import indexer.embedding
    from service.cli.app import app

    monkeypatch.setattr(indexer.embedding, "SentenceTransformerEncoder", lambda name: real_encoder)
    common = [
        "--dataset",
        str(tiny_dataset),
        "--index-root",
        str(tmp_path / "ix"),
        "--cache-dir",
        str(tmp_path / "c"),
    ]
    out = tmp_path / "report"
    result = CliRunner().invoke(
        app,
        [
            "eval",
            *common,
            "--out",
            str(out),
            "--group-by",
            "qtype",
            "--max-words",
            "12",
            "--overlap-words",
            "4",
            "--fusion",
            "convex_minmax",
            "--dense-weight",
            "0.7",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = (out / "summary.md").read_text()
    assert "convex_minmax w=0.7" in summary and "## By qtype" in summary
    assert {p.name for p in (out / "runs").iterdir()} == {
        "hybrid.trec",
        "dense.trec",
        "bm25.trec",
        "hybrid-rrf.trec",
    }

    table = tmp_path / "sweep.md"
    result = CliRunner().invoke(
        app,
        [
            "sweep",
            *common,
            "--passages",
            "12:4:title",
            "--passages",
            "12:4:notitle",
            "--folds",
            "3",
            "--out",
            str(table),
            "--details",
            str(tmp_path / "sweep.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    text = table.read_text()
    assert "Produced by `citeqa sweep" in text and "full procedure" in text and "12:4:notitle" in text
    assert json.loads((tmp_path / "sweep.json").read_text())["choice"]["fusion"]["method"]


def test_cli_eval_on_a_dataset_keeps_its_embeddings_where_the_setting_says(
    tiny_dataset: Path,
    tmp_path: Path,
    real_encoder: SentenceTransformerEncoder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without --cache-dir, the embedding cache is CITEQA_EMBEDDING_CACHE_PATH's, as for the service and
    `citeqa index` (before: var/cache/embeddings of the working folder, whatever the setting)."""
    import indexer.embedding
    from indexer.onnx_encoder import OnnxEncoder
    from service.cli.app import app

    monkeypatch.setattr(indexer.embedding, "SentenceTransformerEncoder", lambda name: real_encoder)
    made = record_passage_encoders(monkeypatch)  # the encoder of passages, as eval makes it
    monkeypatch.setenv("CITEQA_ONNX_CACHE_PATH", str(Path("var/cache/onnx").resolve()))  # the exports made
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CITEQA_EMBEDDING_CACHE_PATH", str(tmp_path / "configured-cache"))
    args = ["eval", "--dataset", str(tiny_dataset), "--index-root", "ix", "--out", "report"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert list((tmp_path / "configured-cache").rglob("*.keys.npy"))
    assert not (tmp_path / "var" / "cache" / "embeddings").exists()
    # Its passages were embedded as `citeqa index` embeds them: on ONNX Runtime in float32.
    (built,) = made
    assert isinstance(built, OnnxEncoder) and built.backend == "onnx"


# The medquad-dev smoke slice.


@pytest.mark.slow  # embeds a slice of the benchmark
@pytest.mark.skipif(not MEDQUAD_DEV.is_dir(), reason="medquad-dev benchmark not present")
def test_medquad_slice_end_to_end(tmp_path: Path, encoder: CountingEncoder) -> None:
    dataset_dir = medquad_slice(tmp_path / "medquad-slice")
    dataset = load_beir_dataset(dataset_dir)
    assert len(dataset.corpus) == 200 and len(dataset.queries) > 50
    cache = EmbeddingCache(SHARED_CACHE)
    report = evaluate_dataset(
        dataset_dir,
        encoder,
        FusionSettings(),
        out=tmp_path / "report",
        index_root=tmp_path / "ix",
        cache=cache,
    )
    check_report(report, dataset_dir)
    check_citations(report.index.index, dataset_dir)
    by_label = {s.variant.label: s.metrics for s in report.scores}
    assert by_label["dense"]["ndcg@10"] > 0.6 and by_label["bm25"]["recall@100"] > 0.8
    assert "## By subset" in (report.out / "summary.md").read_text()

    encoder.batch_texts = 0
    again = prepare_index(dataset, encoder, IndexSettings(), tmp_path / "ix", cache)
    assert not again.built and encoder.batch_texts == 0
    rebuilt = prepare_index(dataset, encoder, IndexSettings(), tmp_path / "ix2", EmbeddingCache(SHARED_CACHE))
    assert rebuilt.built and rebuilt.embedded == 0 and encoder.batch_texts == 0


# Embedding cache.


class FakeEncoder:
    name = "fake-model"
    dimension = 3

    def __init__(self) -> None:
        self.calls: list[str] = []

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        self.calls += list(texts)
        vectors = np.asarray([[len(t), t.count("a"), 1.0] for t in texts], dtype=np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_cache_serves_known_texts_and_persists(tmp_path: Path) -> None:
    encoder = FakeEncoder()
    cache = EmbeddingCache(tmp_path)
    first = cache.embed(encoder, ["alpha", "beta", "alpha"])
    assert encoder.calls == ["alpha", "beta"] and (cache.hits, cache.misses) == (0, 2)
    assert np.array_equal(first[0], first[2])
    again = EmbeddingCache(tmp_path).embed(encoder, ["beta", "gamma", "alpha"])
    assert encoder.calls == ["alpha", "beta", "gamma"]
    assert np.array_equal(again[0], first[1]) and np.array_equal(again[2], first[0])
    progress: list[int] = []
    EmbeddingCache(tmp_path).embed(encoder, ["alpha", "beta", "gamma", "gamma"], on_batch=progress.append)
    assert sum(progress) == 4 and len(encoder.calls) == 3


def test_cache_files_are_open_formats_and_keyed_by_model(tmp_path: Path) -> None:
    encoder = FakeEncoder()
    cache = EmbeddingCache(tmp_path)
    cache.embed(encoder, ["alpha"])
    keys_files = list(tmp_path.rglob("*.keys.npy"))
    assert len(keys_files) == 1 and not list(tmp_path.rglob(".*tmp*"))
    keys = np.load(keys_files[0], allow_pickle=False)
    vectors = np.load(str(keys_files[0]).replace(".keys.npy", ".vectors.npy"), allow_pickle=False)
    assert keys.tolist() == [text_key("fake-model", "alpha")] and vectors.shape == (1, 3)
    other = FakeEncoder()
    other.name = "another-model"
    EmbeddingCache(tmp_path).embed(other, ["alpha"])
    assert other.calls == ["alpha"]


def test_cache_ignores_an_incomplete_segment(tmp_path: Path) -> None:
    encoder = FakeEncoder()
    EmbeddingCache(tmp_path).embed(encoder, ["alpha"])
    vectors_file = next(tmp_path.rglob("*.vectors.npy"))
    vectors_file.unlink()  # as if a crash fell between the two writes of a segment
    EmbeddingCache(tmp_path).embed(encoder, ["alpha"])
    assert encoder.calls == ["alpha", "alpha"]


# Fusion.


def candidates(dense: list[int], bm25: list[int], scores: dict[int, tuple[float, float]]) -> Candidates:
    ids = np.union1d(dense, bm25).astype(np.int64)
    return Candidates(
        np.asarray(dense, dtype=np.int64),
        np.asarray(bm25, dtype=np.int64),
        ids,
        np.asarray([scores[i][0] for i in ids]),
        np.asarray([scores[i][1] for i in ids]),
    )


EXAMPLE = candidates([1, 2, 3], [3, 4, 1], {1: (0.9, 1.0), 2: (0.8, 0.0), 3: (0.5, 6.0), 4: (0.1, 3.0)})


def test_weighted_rrf_by_hand() -> None:
    ids, scores = fuse(EXAMPLE, FusionSettings("weighted_rrf", rrf_k=1.0, dense_weight=0.75))
    # 1: .75/2 + .25/4 = .4375; 2: .75/3 = .25; 3: .75/4 + .25/2 = .3125; 4: .25/3 = .0833
    assert ids.tolist() == [1, 3, 2, 4]
    assert scores.tolist() == pytest.approx([0.4375, 0.3125, 0.25, 0.25 / 3])
    plain, _ = fuse(EXAMPLE, FusionSettings("rrf", rrf_k=1.0))
    half, _ = fuse(EXAMPLE, FusionSettings("weighted_rrf", rrf_k=1.0, dense_weight=0.5))
    assert plain.tolist() == half.tolist()
    only_dense, _ = reciprocal_rank_fusion([EXAMPLE.dense_ids, EXAMPLE.bm25_ids], 1.0, [1.0, 0.0])
    assert only_dense.tolist()[:3] == [1, 2, 3]


def test_convex_minmax_by_hand() -> None:
    assert minmax(np.asarray([2.0, 4.0, 3.0])).tolist() == [0.0, 1.0, 0.5]
    assert minmax(np.asarray([5.0, 5.0])).tolist() == [0.0, 0.0]
    ids, scores = fuse(EXAMPLE, FusionSettings("convex_minmax", dense_weight=0.5))
    # dense minmax: 1, .875, .5, 0; bm25 minmax: 1/6, 0, 1, .5 -> 1: .5833, 2: .4375, 3: .75, 4: .25
    assert ids.tolist() == [3, 1, 2, 4]
    assert scores.tolist() == pytest.approx([0.75, 0.5 + 1 / 12, 0.4375, 0.25])


def test_convex_zscore_weights_the_extremes() -> None:
    dense_only, _ = fuse(EXAMPLE, FusionSettings("convex", dense_weight=1.0))
    bm25_only, _ = fuse(EXAMPLE, FusionSettings("convex", dense_weight=0.0))
    assert dense_only.tolist() == [1, 2, 3, 4] and bm25_only.tolist() == [3, 4, 1, 2]
    assert zscore(np.asarray([1.0, 1.0])).tolist() == [0.0, 0.0]


def test_candidates_head_keeps_the_top_of_each_list() -> None:
    head = EXAMPLE.head(1)
    assert head.ids.tolist() == [1, 3] and head.dense_scores.tolist() == [0.9, 0.5]
    assert head.bm25_scores.tolist() == [1.0, 6.0]


@pytest.mark.parametrize("method", ["rrf", "weighted_rrf", "convex", "convex_minmax"])
def test_deep_ranking_keeps_the_service_head(method: str) -> None:
    rng = np.random.default_rng(7)
    dense_all, bm25_all = rng.random(500), rng.random(500) * 10
    dense_order, bm25_order = np.argsort(-dense_all), np.argsort(-bm25_all)

    def lists(depth: int) -> Candidates:
        ids = np.union1d(dense_order[:depth], bm25_order[:depth])
        return Candidates(dense_order[:depth], bm25_order[:depth], ids, dense_all[ids], bm25_all[ids])

    settings = FusionSettings(method, dense_weight=0.7, candidates=50)  # type: ignore[arg-type]
    shallow_ids, shallow_scores = fuse_ranking(lists(50), settings, 20)
    deep_ids, deep_scores = fuse_ranking(lists(200), settings, 300)
    head_ids, _ = fuse(lists(50), settings)
    assert shallow_ids.tolist() == head_ids[:20].tolist() == deep_ids[:20].tolist()
    assert deep_ids[: len(head_ids)].tolist() == head_ids.tolist()
    assert len(deep_ids) == 300 == len(set(deep_ids.tolist()))
    assert np.all(np.diff(deep_scores) <= 0) and np.all(np.diff(shallow_scores) <= 0)


def test_fusion_settings_reject_unknown_methods() -> None:
    with pytest.raises(ValueError, match="unknown fusion method"):
        FusionSettings("max")  # type: ignore[arg-type]
    assert FusionSettings("weighted_rrf", rrf_k=30, dense_weight=0.9).label() == "weighted_rrf w=0.9 k=30"


# Cross-validation.


def test_folds_are_deterministic_disjoint_grouped_and_balanced() -> None:
    qids = [f"P{page:03d}_Q{n}" for page in range(40) for n in range(1, 1 + page % 4 + 1)]
    folds = make_folds(qids, k=5, seed=3)
    assert [f.tolist() for f in folds] == [f.tolist() for f in make_folds(qids, k=5, seed=3)]
    assert [f.tolist() for f in folds] != [f.tolist() for f in make_folds(qids, k=5, seed=4)]
    positions = np.concatenate(folds)
    assert sorted(positions.tolist()) == list(range(len(qids)))
    fold_of = {int(p): n for n, fold in enumerate(folds) for p in fold}
    for page in {page_group(q) for q in qids}:
        assert len({fold_of[i] for i, q in enumerate(qids) if page_group(q) == page}) == 1
    sizes = [len(f) for f in folds]
    assert max(sizes) - min(sizes) <= 4
    assert page_group("GARD_0000123_Q12") == "GARD_0000123" and page_group("q7") == "q7"
    with pytest.raises(ValueError):
        make_folds(qids[:3], k=5)


def test_fewer_groups_than_folds_is_refused_not_left_empty() -> None:
    """15 questions of one page ("faq_Q1" ... "faq_Q15") made "3 folds (15, 0, 0 questions)": every choice was
    made on no training question and reported as cross-validated."""
    one_page = [f"faq_Q{n}" for n in range(1, 16)]
    with pytest.raises(ValueError) as error:
        make_folds(one_page, k=3)
    assert str(error.value) == (
        'need at least 3 groups of questions for 3 folds (a group (the qid without its "_Q<n>" suffix) stays '
        "within one fold), found 1: 'faq'; cross-validation needs questions of two groups or more: give the "
        'qids of other pages other prefixes before "_Q<n>"'
    )
    two_pages = [*one_page, "other_Q1"]
    with pytest.raises(ValueError, match="found 2: 'faq', 'other'; use --folds 2 or fewer"):
        make_folds(two_pages, k=3)
    assert all(len(fold) for fold in make_folds(two_pages, k=2))


def test_cross_validation_chooses_on_train_and_scores_held_out() -> None:
    # Six questions, three folds of two. Config "a" is best on folds 0 and 1, "b" on fold 2.
    folds = [np.asarray([0, 1]), np.asarray([2, 3]), np.asarray([4, 5])]
    table = {
        "s | a": {"ndcg@10": np.asarray([1.0, 1.0, 1.0, 1.0, 0.0, 0.0])},
        "s | b": {"ndcg@10": np.asarray([0.5, 0.5, 0.5, 0.5, 1.0, 1.0])},
        "s | dense": {"ndcg@10": np.asarray([0.5, 0.5, 0.5, 0.5, 0.5, 0.5])},
    }
    results = cross_validate(table, ["s | a", "s | b"], folds, lambda key: "s | dense")
    # Fold 0: train a = (1+1+0+0)/4 = .5, b = (.5+.5+1+1)/4 = .75 -> b, held out .5. Same for fold 1.
    # Fold 2: train a = 1, b = .5 -> a, held out 0.
    assert [r.chosen for r in results] == ["s | b", "s | b", "s | a"]
    assert [r.heldout["ndcg@10"] for r in results] == [0.5, 0.5, 0.0]
    assert [r.delta["ndcg@10"] for r in results] == [0.0, 0.0, -0.5]
    row = CvRow("x", results)
    assert row.mean("ndcg@10") == pytest.approx(1 / 3)
    assert row.std("ndcg@10") == pytest.approx(float(np.std([0.5, 0.5, 0.0], ddof=1)))


def test_paired_gap_is_the_mean_and_standard_error_of_fold_differences() -> None:
    def row(values: list[float]) -> CvRow:
        return CvRow("r", [FoldResult("c", {"ndcg@10": v}, {"ndcg@10": 0.0}) for v in values])

    mean, error = paired_gap(row([0.5, 0.7, 0.6]), row([0.6, 0.7, 0.8]))
    assert mean == pytest.approx(-0.1) and error == pytest.approx(0.1 / np.sqrt(3))
    assert paired_gap(row([0.5, 0.6]), row([0.5, 0.6])) == (0.0, 0.0)


def test_passage_setting_parse() -> None:
    assert PassageSetting.parse("200:50:notitle:bm25text") == PassageSetting(200, 50, False, False)
    assert PassageSetting.parse("120:30:title").bm25_title == IndexSettings().bm25_title
    assert PassageSetting.parse("120:30:title:bm25title").label == "120:30:title:bm25title"
    settings = PassageSetting(80, 20, False, False).index_settings()
    assert (settings.chunker.max_words, settings.embed_title, settings.bm25_title) == (80, False, False)
    for bad in ("120-30", "120:30:title:bm25", "120:30:yes"):
        with pytest.raises(ValueError, match="MAX_WORDS:OVERLAP"):
            PassageSetting.parse(bad)


def test_sweep_end_to_end_on_the_tiny_dataset(
    tiny_dataset: Path, tmp_path: Path, encoder: CountingEncoder
) -> None:
    settings = [PassageSetting(12, 4, True), PassageSetting(20, 0, False, False)]
    sweep = run_sweep(
        tiny_dataset,
        encoder,
        settings,
        folds=3,
        seed=0,
        index_root=tmp_path / "ix",
        cache=EmbeddingCache(tmp_path / "cache"),
    )
    assert len(sweep.folds) == 3 and sorted(np.concatenate(sweep.folds).tolist()) == list(range(6))
    choice = write_sweep(sweep, tmp_path / "sweep.md", tmp_path / "sweep.json", "citeqa sweep ...", 1.0)
    assert choice.setting in settings
    for values in sweep.table.values():
        assert all(np.all((v >= 0) & (v <= 1)) for v in values.values())
    assert "## Passages `20:0:notitle:bm25text`" in (tmp_path / "sweep.md").read_text()
    other = next(s for s in settings if s != choice.setting)
    pinned = write_sweep(
        sweep, tmp_path / "pinned.md", tmp_path / "pinned.json", "citeqa sweep ...", 1.0, pinned=other
    )
    assert pinned.setting == other and pinned.rule_setting == choice.setting
    assert f"pinned to `{other.label}`" in (tmp_path / "pinned.md").read_text()
    with pytest.raises(ValueError, match="not in the sweep's grid"):
        write_sweep(sweep, tmp_path / "x.md", tmp_path / "x.json", "c", 1.0, PassageSetting(9, 1, True))


def test_the_report_says_which_encoder_encoded_the_questions(
    tiny_dataset: Path, tmp_path: Path, real_encoder: SentenceTransformerEncoder
) -> None:
    """The report said "query adapter: none" and nothing of the question tower, on by default: an owner
    could not tell the in-sample tower numbers (medquad-dev hybrid nDCG@10 0.959) from the model's (0.847)."""
    options = dict(settings=SMALL_PASSAGES, index_root=tmp_path / "indexes")
    plain = evaluate_dataset(tiny_dataset, real_encoder, FusionSettings(), out=tmp_path / "a", **options)
    assert plain.context["questions encoded by"] == "the model"
    tower = tmp_path / "tower-model"
    tower.mkdir()
    (tower / "tower.json").write_text(json.dumps({"sha256": "0123456789abcdef" * 4}), encoding="utf-8")
    questions = QuestionCounter(real_encoder)
    questions.name = str(tower)
    towered = evaluate_dataset(
        tiny_dataset, real_encoder, FusionSettings(), out=tmp_path / "b", query_encoder=questions, **options
    )
    assert towered.context["questions encoded by"] == "question tower 0123456789abcdef"
    summary = (tmp_path / "b" / "summary.md").read_text(encoding="utf-8")
    assert "- questions encoded by: question tower 0123456789abcdef" in summary


def test_ids_with_whitespace_leave_out_the_trec_runs_and_say_why(
    tiny_dataset: Path, tmp_path: Path, real_encoder: SentenceTransformerEncoder
) -> None:
    """A query id "asthma Q1" was written as "asthma Q1 Q0 asthma-causes 1 30 citeqa-hybrid": eight columns,
    which trec_eval, ranx or pytrec_eval read as other ids (eval.beir_eval promises they rescore the run)."""
    for name in ("queries.jsonl", "qrels/test.tsv"):
        path = tiny_dataset / name
        path.write_text(path.read_text(encoding="utf-8").replace("asthma_Q1", "asthma Q1"), encoding="utf-8")
    said: list[str] = []
    report = evaluate_dataset(
        tiny_dataset,
        real_encoder,
        FusionSettings(),
        settings=SMALL_PASSAGES,
        out=tmp_path / "report",
        index_root=tmp_path / "indexes",
        log=said.append,
    )
    expected = (
        "not written: the id 'asthma Q1' holds whitespace, which separates the columns of a TREC run file"
    )
    assert report.context["TREC runs"].startswith(expected)
    assert any(expected in line for line in said)
    assert expected in (report.out / "summary.md").read_text(encoding="utf-8")
    assert not (report.out / "runs").exists()
    assert "asthma Q1" in report.scores[0].per_query["ndcg@10"]


def test_a_report_written_over_an_earlier_one_leaves_none_of_its_run_files(
    tiny_dataset: Path, tmp_path: Path, real_encoder: SentenceTransformerEncoder
) -> None:
    """An evaluation into the --out folder of an earlier one kept the earlier runs/<mode>.trec where it
    wrote none of its own (an id with whitespace), so they read as this evaluation's runs."""
    out = tmp_path / "report"
    (out / "runs").mkdir(parents=True)
    (out / "runs" / "hybrid.trec").write_text("asthma_Q1 Q0 old-run 1 30 citeqa-hybrid\n", encoding="utf-8")
    for name in ("queries.jsonl", "qrels/test.tsv"):
        path = tiny_dataset / name
        path.write_text(path.read_text(encoding="utf-8").replace("asthma_Q1", "asthma Q1"), encoding="utf-8")
    report = evaluate_dataset(
        tiny_dataset,
        real_encoder,
        FusionSettings(),
        settings=SMALL_PASSAGES,
        out=out,
        index_root=tmp_path / "indexes",
    )
    assert report.context["TREC runs"].startswith("not written")
    assert list((out / "runs").glob("*.trec")) == []


def test_a_sweep_without_out_leaves_the_projects_own_reports_alone(
    tiny_dataset: Path,
    tmp_path: Path,
    real_encoder: SentenceTransformerEncoder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`citeqa sweep --dataset MINE` run in the repository wrote its table over eval/fusion_sweep.md, the
    committed medquad-dev report the README cites; without --out it writes var/eval/sweep/<dataset>.md."""
    import indexer.embedding
    from service.cli.app import app

    monkeypatch.setattr(indexer.embedding, "SentenceTransformerEncoder", lambda name: real_encoder)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "fusion_sweep.md").write_text("the project's report\n", encoding="utf-8")
    args = ["sweep", "--dataset", str(tiny_dataset), "--index-root", "ix", "--cache-dir", "c"]
    result = CliRunner().invoke(app, [*args, "--passages", "12:4:title", "--folds", "3"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "eval" / "fusion_sweep.md").read_text(encoding="utf-8") == "the project's report\n"
    table = tmp_path / "var" / "eval" / "sweep" / f"{tiny_dataset.resolve().name}.md"
    assert "Produced by `citeqa sweep" in table.read_text(encoding="utf-8")


def test_a_sweep_file_in_a_folder_this_user_may_not_write_is_refused_before_the_sweep(
    tiny_dataset: Path, tmp_path: Path
) -> None:
    """--out (or --details) in a folder this user may not write (a read-only mount, another user's folder)
    ran the whole sweep, then failed, naming --index: it is refused first, naming the option."""
    from support import unwritable

    from service.cli.app import app

    locked = tmp_path / "locked"
    locked.mkdir()
    dataset = ["sweep", "--dataset", str(tiny_dataset), "--index-root", str(tmp_path / "ix")]
    cases = [
        ([*dataset, "--out", str(locked / "s.md")], f"--out {locked / 's.md'}: cannot write in {locked}"),
        (
            [*dataset, "--out", str(tmp_path / "s.md"), "--details", str(locked / "d.json")],
            f"--details {locked / 'd.json'}: cannot write in {locked}",
        ),
    ]
    with unwritable(locked):
        for arguments, expected in cases:
            result = CliRunner().invoke(app, [*arguments, "--passages", "120:30:title", "--folds", "2"])
            assert result.exit_code == 2, result.output
            assert expected in " ".join(result.output.split()), result.output
    assert not (tmp_path / "ix").exists() and not (tmp_path / "s.md").exists()
