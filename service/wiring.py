"""Wiring: the one place where the encoder, index, searcher, answerer and live index are built from settings.
The HTTP app, the command line, eval and the tests all build through here."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import faiss

from citeqa.answer_model import AnswerModel, load_answer_model
from citeqa.answerability import Calibration, calibration_summary, load_calibration, resolve_calibration_path
from citeqa.answers import Answerer
from citeqa.fusion import FusionSettings
from citeqa.query_adapter import DEFAULT_QUERY_ADAPTER_PATH, QueryAdapter, adapter_model, load_query_adapter
from citeqa.question_tower import (
    DEFAULT_QUESTION_TOWER_PATH,
    load_question_tower,
    question_side,
    tower_model,
    tower_model_folder,
)
from citeqa.rerank import Reranker
from citeqa.search import Searcher
from citeqa.sharded.candidate_index import candidate_index
from citeqa.sharded.gather import ShardedAnswerer, ShardedSnapshot
from citeqa.sharded.local import ShardedLive, open_local_shards
from citeqa.turns import Turns
from indexer.backends import SERVING_FAISS_THREADS, default_threads, make_encoder
from indexer.batching_encoder import BatchingEncoder
from indexer.cached_encoder import CachedEncoder
from indexer.embedding import Encoder
from indexer.errors import EncoderError, IndexMismatchError
from indexer.lexical import CorpusStatistics
from indexer.live import LiveIndex
from indexer.load import LoadedIndex, load_index
from indexer.merging import TieredMergePolicy
from indexer.onnx_encoder import Backend, OnnxEncoder, onnx_export_pending
from indexer.shards import (
    ShardsManifest,
    in_shard,
    is_sharded,
    read_shards_manifest,
    sharded_index_holding,
)
from service.settings import Settings


def answerer_factory(base: Answerer) -> Callable[[LoadedIndex], Answerer]:
    """Answerers of new snapshots share ``base``'s encoder, fusion, reranker, calibration and dedup. The
    factory holds only the last answerer it made (``base`` until then), each made over the one before: held
    for good, ``base`` kept the commit served at start in memory (and its segments' files mapped once a
    merge had deleted them) whatever commits replaced it."""
    last = [base]

    def make(index: LoadedIndex) -> Answerer:
        previous = last[0]
        searcher = previous.searcher
        made = previous.over(
            Searcher(
                index,
                searcher.encoder,
                searcher.fusion,
                searcher.reranker,
                searcher.query_adapter,
                searcher.question_encoder,
            )
        )
        last[0] = made  # one assignment: a concurrent call sees the old answerer or the new one
        return made

    return make


def build_live(settings: Settings, answerer: Answerer) -> LiveIndex:
    """The live index over the answerer's index. Writable (and merging in the background) only when API
    keys are configured: without a key no write can be accepted. Read-only, it still follows the commits
    other processes make (another worker, `citeqa add`). A shard of a sharded index served alone takes no
    writes: a document written there may belong to another shard, where the sharded index never looks."""
    folder = answerer.searcher.index.path
    if settings.api_keys and (whole := sharded_index_holding(folder)) is not None:
        raise IndexMismatchError(
            f"{folder} is a shard of the sharded index at {whole}: serve {whole}, which puts each written "
            "document in the shard its doc_id hashes to (a shard served alone, without API keys, reads only)"
        )
    return LiveIndex.open(
        folder,
        answerer.searcher.encoder,
        writable=bool(settings.api_keys),
        index=answerer.searcher.index,
        policy=TieredMergePolicy(segments_per_tier=settings.merge_segments_per_tier),
        mmap=settings.index_mmap,
        checksums=settings.index_checksums,
    )


def fusion_settings(settings: Settings) -> FusionSettings:
    return FusionSettings(
        method=settings.fusion_method,
        rrf_k=settings.fusion_rrf_k,
        dense_weight=settings.fusion_dense_weight,
        sentence_weight=settings.fusion_sentence_weight,
    )


def build_searcher(settings: Settings, encoder: Encoder | None = None) -> Searcher:
    """Load the index first (fails fast with a clear message), then the model unless one is given, then
    the reranker if one is configured."""
    index = load_index(
        settings.index_path,
        expected_model=settings.model,
        mmap=settings.index_mmap,
        checksums=settings.index_checksums,
    )
    encoder = encoder or build_encoder(settings)
    adapter = build_query_adapter(settings, encoder.dimension)
    questions = build_question_encoder(settings, encoder)
    warn_adapter_over_tower(adapter, questions, encoder)
    return Searcher(index, encoder, fusion_settings(settings), build_reranker(settings), adapter, questions)


def warn_adapter_over_tower(adapter: QueryAdapter | None, questions: Encoder, encoder: Encoder) -> None:
    """A query adapter maps the question vectors it was fitted on (the packaged one: the model's); with the
    question tower on, it maps the tower's instead. Allowed, but said."""
    if adapter is not None and questions is not encoder:
        say(
            f"warning: the query adapter {adapter.path} maps the question tower's vectors, and was fitted on "
            "another encoder's (the packaged one on the model's); turn one off (CITEQA_QUERY_ADAPTER_PATH= "
            "or CITEQA_QUESTION_TOWER_PATH=) unless you fitted it over the tower"
        )


def build_query_adapter(settings: Settings, dimension: int) -> QueryAdapter | None:
    """The configured query adapter (CITEQA_QUERY_ADAPTER_PATH), or None when it is off. The packaged
    default is off for other models than its own; any other adapter fitted for another model than the
    configured one is refused (QueryAdapterError)."""
    path = settings.query_adapter_path
    if path is None:
        return None
    if Path(path).resolve() == DEFAULT_QUERY_ADAPTER_PATH and adapter_model(path) != settings.model:
        say(f"query adapter: the packaged one is for {adapter_model(path)!r}; off for {settings.model!r}")
        return None
    return load_query_adapter(settings.query_adapter_path, settings.model, dimension)


def build_encoder(settings: Settings) -> Encoder:
    """The model's encoder on the configured backend (passages, sentences, and questions unless a question
    tower is on): concurrent questions encoded together (unless the batch size is 1), behind an LRU of
    question vectors if one is sized (a cached question skips batching)."""
    return question_ready(settings, model_encoder(settings, settings.model), settings.model)


def encoder_threads(settings: Settings) -> int:
    """The encoder's threads: CITEQA_THREADS, else the cores shared among the workers."""
    return settings.threads or default_threads(settings.workers)


def model_encoder(settings: Settings, model: str) -> Encoder:
    """``model`` (a name or folder) on the configured backend, threads and ONNX cache."""
    threads, cache = encoder_threads(settings), settings.onnx_cache_path
    if settings.backend != "torch":
        try:
            Path(cache).mkdir(parents=True, exist_ok=True)
        except OSError as err:  # a file, or a folder this process cannot write: said by its setting
            raise EncoderError(
                f"cannot keep ONNX exports in {cache} (CITEQA_ONNX_CACHE_PATH): {err.strerror or err}; "
                "set it to a folder this process can write, or unset it for var/cache/onnx"
            ) from None
    if settings.backend != "torch" and (folder := onnx_export_pending(model, settings.backend, cache)):
        say(
            f"exporting {model} to ONNX ({settings.backend}) into {folder}: once per machine and model, "
            "a few seconds to a minute"
        )
    return make_encoder(model, settings.backend, threads, cache, settings.encoder_spin)


def build_backend(settings: Settings) -> Backend:
    """The backend builds embed on: ONNX Runtime in float32 whether questions run on onnx or onnx-int8
    (whose vectors are further off), PyTorch when CITEQA_BACKEND=torch."""
    return "torch" if settings.backend == "torch" else "onnx"


def build_passage_encoder(settings: Settings) -> Encoder:
    """The encoder of builds and command-line writes (passages and sentences: ``citeqa index``, ``rebuild``,
    ``add``, the format-1 upgrade, ``citeqa eval --dataset``) on ``build_backend``. ONNX Runtime's vectors
    agree with PyTorch's to a cosine of 0.999999, so an index serves either, and it builds about 1.6 times
    as fast on the CPU (README, How it works)."""
    return model_encoder(settings.model_copy(update={"backend": build_backend(settings)}), settings.model)


def build_question_encoder(settings: Settings, encoder: Encoder) -> Encoder:
    """The encoder of questions: the configured question tower (CITEQA_QUESTION_TOWER_PATH) made into a
    model folder once (in the ONNX cache folder) and loaded on the configured backend, batched and cached
    as questions are; ``encoder`` itself when the tower is off. The packaged tower is off for other models
    than its own; any other tower tuned from another model than the configured one is refused
    (QuestionTowerError)."""
    path = settings.question_tower_path
    if path is None:
        return encoder
    tuned_from = tower_model(path)  # None when unreadable: load_question_tower says why
    if Path(path).resolve() == DEFAULT_QUESTION_TOWER_PATH and tuned_from not in (None, settings.model):
        say(f"question tower: the packaged one is for {tuned_from!r}; off for {settings.model!r}")
        return encoder
    tower = load_question_tower(path, settings.model)
    folder = tower_model_folder(tower, settings.onnx_cache_path)
    say(f"question tower: {tower.folder} encodes the questions (made into {folder}; once per machine)")
    return question_ready(settings, model_encoder(settings, str(folder)), str(folder))


def question_ready(settings: Settings, encoder: Encoder, model: str) -> Encoder:
    """``encoder`` (of ``model``) batched and cached for questions as the settings say."""
    if settings.question_batch_size > 1:
        encoder = BatchingEncoder(
            encoder,
            settings.question_batch_size,
            settings.question_batch_wait_ms,
            under_load=one_thread_twin(settings, model),
        )
    if settings.question_cache_size:
        encoder = CachedEncoder(encoder, settings.question_cache_size)
    return encoder


def one_thread_twin(settings: Settings, model: str) -> Callable[[], Encoder] | None:
    """What makes ``model`` on one ONNX thread, for batches of questions under load
    (indexer.batching_encoder); None when the encoder has one thread already, or runs on torch (whose
    threads are the process's)."""
    if settings.backend == "torch" or encoder_threads(settings) == 1:
        return None
    backend, cache, spin = settings.backend, settings.onnx_cache_path, settings.encoder_spin
    return lambda: OnnxEncoder(model, backend, cache, 1, spin)


def build_reranker(settings: Settings) -> Reranker | None:
    if settings.reranker is None:
        return None
    from citeqa.rerank import CrossEncoderReranker

    return CrossEncoderReranker(settings.reranker, settings.rerank_depth)


def build_answerer(settings: Settings, searcher: Searcher | None = None) -> Answerer:
    """The answer layer over a searcher (built from the settings unless given), with its calibration. For a
    sharded index (and no searcher given), the sharded answer layer over shards opened in this process."""
    if searcher is None and is_sharded(settings.index_path):
        live, base = build_sharded(settings)
        return ShardedAnswerer(live.clients, live.current, base)  # type: ignore[return-value]
    searcher = searcher or build_searcher(settings)
    answerer = answer_layer(settings, searcher, searcher.index.path, searcher.index.model_name)
    answerer.stored_sentences.warm()
    if settings.precompute_sentences:
        preload_unstored_sentences(settings, answerer)
    return answerer


def answer_layer(settings: Settings, searcher: Searcher, index_folder: Path, model_name: str) -> Answerer:
    """The answer layer over ``searcher`` as the settings say: the calibration of the index at
    ``index_folder`` (built with ``model_name``), the answer model, dedup, sentence retrieval and the
    process's turns, the calibration and answer model matched to how questions are encoded."""
    side = question_side_of(searcher)
    return Answerer(
        searcher,
        build_calibration(settings, index_folder, model_name, side),
        settings.dedup,
        answer_model=build_answer_model(settings, side),
        sentence_candidates=settings.answer_sentence_candidates,
        sentence_bm25_weight=settings.answer_sentence_bm25_weight,
        turns=Turns(settings.answer_concurrency),
    )


def build_calibration(
    settings: Settings, index_folder: Path, model_name: str, questions: str = "the model"
) -> Calibration:
    """The answerability calibration of a service over ``index_folder``: CITEQA_CALIBRATION_PATH when set,
    else the index folder's own calibration.json, else the packaged default; refused (CalibrationError)
    when malformed or fitted for another model than the index's. Says on stderr which one is in use, and
    warns when it was fitted with questions encoded otherwise than ``questions`` (question_side_of): its
    threshold was set on another encoder's scores."""
    path = resolve_calibration_path(settings.calibration_path, index_folder)
    calibration = load_calibration(path, expected_model=model_name)
    say(f"answerability calibration: {calibration_origin(calibration, index_folder)}")
    warn_if_fitted_otherwise(
        f"the calibration {calibration.source}",
        calibration.fitted_on.get("question_encoder"),
        questions,
        "its threshold may flag too many or too few questions",
        "`citeqa eval --calibrate` (README: Calibrating your own index)",
    )
    return calibration


def build_answer_model(settings: Settings, questions: str = "the model") -> AnswerModel | None:
    """The answer choice model (CITEQA_ANSWER_MODEL_PATH; None: the similarity mix); warns when it was
    fitted with questions encoded otherwise than ``questions``: its weights were set on other cosines."""
    if settings.answer_model_path is None:
        return None
    model = load_answer_model(settings.answer_model_path)
    warn_if_fitted_otherwise(
        f"the answer model {settings.answer_model_path}",
        model.report.get("question_encoder"),
        questions,
        "it may choose worse answer sentences",
        "`python -m eval.answer_fit`",
    )
    return model


def warn_if_fitted_otherwise(what: str, recorded: object, questions: str, effect: str, refit: str) -> None:
    """Warn on stderr when ``what`` was fitted with questions encoded otherwise than this service encodes
    them (``questions``, question_side_of); ``recorded`` is what it says it was fitted with (a file from
    before the record: the model)."""
    fitted_with = str(recorded or "the model")
    if fitted_with != questions:
        say(
            f"warning: {what} was fitted with questions encoded by {fitted_with}, and this service encodes "
            f"them by {questions}: {effect}; refit it with {refit}"
        )


def question_side_of(searcher: Searcher) -> str:
    return question_side(searcher.question_encoder, searcher.encoder)


def calibration_origin(calibration: Calibration, index_folder: Path) -> str:
    """Which calibration is in use, in words (the start-up log)."""
    summary = calibration_summary(calibration, index_folder)
    kind = {"index": "the index's own", "default": "the packaged default"}.get(
        summary["kind"], "configured (CITEQA_CALIBRATION_PATH)"
    )
    return (
        f"{kind}, {calibration.source} (fitted on {summary['fitted_on'] or '?'}, "
        f"threshold {calibration.threshold:.4f})"
    )


def preload_unstored_sentences(settings: Settings, answerer: Answerer) -> None:
    """Embed (through the embedding cache) the sentences of segments an earlier release wrote without
    sentence vectors, saying so with progress on stderr; an index of this release has none to embed."""
    from citeqa.sentence_vectors import precompute_sentence_vectors, unstored_segments
    from indexer.embedding_cache import EmbeddingCache

    index = answerer.searcher.index
    if not unstored_segments(index):
        return
    # Vectors of other backends differ a little: each backend has its own sentence cache.
    folder = settings.embedding_cache_path
    cache = EmbeddingCache(folder if settings.backend == "torch" else folder / settings.backend)
    vectors = precompute_sentence_vectors(
        answerer.searcher.encoder, index, cache, on_start=sentence_progress(index.path, cache.folder)
    )
    answerer.preload_sentences(vectors)


def sentence_progress(index_path: Path, cache_folder: Path) -> Callable[[int], Callable[[int], None]]:
    """Start-up progress on stderr for embedding the sentences an index does not store."""

    def start(total: int) -> Callable[[int], None]:
        say(
            f"index at {index_path} was written without sentence vectors (an earlier release): embedding its "
            f"{total} sentences once (cached in {cache_folder}, later starts read them); "
            f"`citeqa rebuild --index {index_path}` stores them in the index"
        )
        done = [0, 0]  # sentences done, last tenth reported

        def advance(count: int) -> None:
            done[0] += count
            tenth = done[0] * 10 // total
            if tenth > done[1]:
                done[1] = tenth
                say(f"sentence vectors: {done[0]}/{total}")

        return advance

    return start


def say(message: str) -> None:
    print(f"citeqa: {message}", file=sys.stderr, flush=True)


def shards_manifest(settings: Settings) -> ShardsManifest:
    """The configured sharded index's top-level manifest, its model checked against the settings'."""
    manifest = read_shards_manifest(settings.index_path)
    if manifest.model_name != settings.model:
        raise IndexMismatchError(
            f"index at {settings.index_path} was built with model {manifest.model_name!r} but the configured "
            f"model is {settings.model!r}; rebuild it, or configure the index's model"
        )
    return manifest


def check_shards(settings: Settings, manifest: ShardsManifest) -> None:
    """Open every shard as the service will (a damaged shard would fail each worker process, or its
    deployment on Ray, its error lost in their logs): the first that cannot be opened fails, naming its
    rebuild."""
    for folder in manifest.shard_folders:
        try:
            load_index(folder, settings.model, mmap=True, checksums=settings.index_checksums)
        except IndexMismatchError as err:
            raise in_shard(err, folder, manifest.folder) from None


def sharded_base(settings: Settings, encoder: Encoder, manifest: ShardsManifest) -> Answerer:
    """The answer layer a sharded index's answerers share (its searcher holds no passages: each question
    gets its own over the shards' candidates, see citeqa.sharded.gather)."""
    nothing = candidate_index(
        [], "", None, CorpusStatistics(0, 0), {}, manifest.folder, manifest.data, encoder.dimension
    )
    adapter = build_query_adapter(settings, encoder.dimension)
    questions = build_question_encoder(settings, encoder)
    warn_adapter_over_tower(adapter, questions, encoder)
    searcher = Searcher(
        nothing,  # type: ignore[arg-type]
        encoder,
        fusion_settings(settings),
        build_reranker(settings),
        adapter,
        questions,
    )
    return answer_layer(settings, searcher, manifest.folder, manifest.model_name)


def build_sharded(settings: Settings, encoder: Encoder | None = None) -> tuple[ShardedLive, Answerer]:
    """A sharded index served from this process: every shard opened as a live index (writable when API
    keys are configured), and the base answer layer."""
    manifest = shards_manifest(settings)
    encoder = encoder or build_encoder(settings)
    # Shards search FAISS from the gatherer's threads: one OpenMP thread each, as a served query does
    # (several OpenMP teams would spin against each other and the encoder).
    faiss.omp_set_num_threads(SERVING_FAISS_THREADS)
    writable = bool(settings.api_keys)

    def open_shard(folder: Path) -> LiveIndex:
        try:
            return LiveIndex.open(
                folder,
                encoder,
                expected_model=settings.model,
                writable=writable,
                policy=TieredMergePolicy(segments_per_tier=settings.merge_segments_per_tier),
                mmap=settings.index_mmap,
                checksums=settings.index_checksums,
            )
        except IndexMismatchError as err:
            raise in_shard(err, folder, manifest.folder) from None

    live = open_local_shards(manifest.folder, manifest.data, manifest.shard_folders, open_shard, writable)
    return live, sharded_base(settings, encoder, manifest)


def sharded_answerer_factory(
    live: ShardedLive, base: Answerer
) -> Callable[[ShardedSnapshot], ShardedAnswerer]:
    def make(snapshot: ShardedSnapshot) -> ShardedAnswerer:
        return ShardedAnswerer(live.clients, snapshot, base)

    return make
