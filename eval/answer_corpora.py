"""The corpora the answer choice is fitted and measured on (``AnswerCorpus``), each with its answerer: the
default index (the milia articles), a BEIR dataset's index (medquad-dev, the Perl FAQ; built by
eval.beir_eval, reused when current) and the self-written check corpora of eval/sets (bread, plants;
indexed under var/transfer, as eval.answerability_transfer indexes them)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from citeqa.answers import Answerer
from citeqa.search import Searcher
from eval.beir import load_beir_dataset
from eval.beir_eval import DEFAULT_INDEX_ROOT, prepare_index
from indexer.build import IndexSettings
from indexer.embedding import SentenceTransformerEncoder
from indexer.embedding_cache import DEFAULT_CACHE_DIR, EmbeddingCache
from service.settings import Settings
from service.wiring import (
    build_encoder,
    build_query_adapter,
    build_question_encoder,
    build_searcher,
    fusion_settings,
)

MEDQUAD_DEV = Path(__file__).resolve().parent.parent.parent / "shared" / "benchmarks" / "medquad-dev"
SETS_DIR = Path(__file__).resolve().parent / "sets"
TRANSFER_DIR = Path(__file__).resolve().parent.parent / "var" / "transfer"


def default_answerer(settings: Settings | None = None) -> Answerer:
    """The answerer of the configured (default) index, without an answer model: the candidates and their
    features do not depend on one."""
    return Answerer(build_searcher(settings or Settings()))


def dataset_answerer(folder: Path = MEDQUAD_DEV, settings: Settings | None = None) -> Answerer:
    """The answerer of a BEIR dataset's index (default index settings, built on first use)."""
    settings = settings or Settings()
    # Passages on PyTorch, as `citeqa eval --dataset` builds them (the same index folder); questions on
    # the configured backend, as the service runs them.
    passages = SentenceTransformerEncoder(settings.model)
    dataset = load_beir_dataset(folder)
    prepared = prepare_index(
        dataset, passages, IndexSettings(), DEFAULT_INDEX_ROOT, EmbeddingCache(DEFAULT_CACHE_DIR)
    )
    encoder = build_encoder(settings)
    # As the service encodes and maps its questions (the question tower, the adapter when configured).
    adapter = build_query_adapter(settings, encoder.dimension)
    questions = build_question_encoder(settings, encoder)
    searcher = Searcher(prepared.index, encoder, fusion_settings(settings), None, adapter, questions)
    return Answerer(searcher)


def folder_answerer(name: str, settings: Settings | None = None) -> Answerer:
    """The answerer of eval/sets/<name>/ (a folder of articles), indexed into var/transfer/<name>/index
    unless an index of exactly these documents is there."""
    from corpus.loader import load_documents
    from eval.answerability_transfer import ensure_index

    settings = settings or Settings()
    folder = TRANSFER_DIR / name / "index"
    ensure_index(load_documents(SETS_DIR / name), folder, SentenceTransformerEncoder(settings.model), name)
    return Answerer(build_searcher(settings.model_copy(update={"index_path": folder})))


@dataclass(frozen=True)
class AnswerCorpus:
    """The corpus a labelled set's questions are asked of: the configured index (``kind`` "default"), a
    BEIR folder ("dataset", ``where`` its path) or a folder of articles under eval/sets ("folder",
    ``where`` its name)."""

    kind: Literal["default", "dataset", "folder"]
    where: Path | str = ""

    def answerer(self) -> Answerer:
        if self.kind == "default":
            return default_answerer()
        if self.kind == "dataset":
            return dataset_answerer(Path(self.where))
        return folder_answerer(str(self.where))


DEFAULT_CORPUS = AnswerCorpus("default")
MEDQUAD_CORPUS = AnswerCorpus("dataset", MEDQUAD_DEV)


def answerers(corpora: Iterable[AnswerCorpus]) -> dict[AnswerCorpus, Answerer]:
    """One answerer per distinct corpus, built in the order first named."""
    return {corpus: corpus.answerer() for corpus in dict.fromkeys(corpora)}
