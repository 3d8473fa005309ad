"""Builds embed on ONNX Runtime (float32) unless CITEQA_BACKEND=torch: `citeqa index` writes the ONNX
encoder's vectors, which agree with PyTorch's, so an index built either way serves either way."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from support import record_passage_encoders
from typer.testing import CliRunner

from corpus.sources import ingest_corpus
from indexer.build import IndexSettings, build_index
from indexer.embedding import SentenceTransformerEncoder
from indexer.load import load_index
from indexer.onnx_encoder import OnnxEncoder
from service.cli.app import app
from service.settings import Settings
from service.wiring import build_passage_encoder

DOCUMENTS = {
    "rye.md": "# Rye bread\n\nA dense rye loaf needs a long bake of at least 70 minutes. Rest it a day.\n",
    "starter.md": "# Starter\n\nFeed the starter twice a day with equal weights of flour and water.\n",
}


def vectors_of(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """(passage vectors, sentence vectors) of a one-segment index, in row order."""
    index = load_index(folder)
    (segment,) = index.segments
    dense = segment.reader.dense
    return dense.reconstruct_n(0, dense.ntotal), np.asarray(segment.reader.sentence_vectors)


@pytest.mark.parametrize("backend", ["onnx", "onnx-int8"])
def test_builds_embed_in_float32_on_onnx_whichever_onnx_backend_questions_use(backend: str) -> None:
    encoder = build_passage_encoder(Settings(backend=backend))  # type: ignore[arg-type]
    assert isinstance(encoder, OnnxEncoder) and encoder.backend == "onnx"


def test_builds_embed_on_pytorch_when_the_backend_is_torch() -> None:
    assert isinstance(build_passage_encoder(Settings(backend="torch")), SentenceTransformerEncoder)


def test_citeqa_index_writes_the_onnx_vectors_which_agree_with_pytorchs(
    tmp_path: Path, encoder: SentenceTransformerEncoder
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in DOCUMENTS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    built = tmp_path / "cli-index"
    done = CliRunner().invoke(app, ["index", "--corpus", str(corpus), "--index", str(built)])
    assert done.exit_code == 0, done.output

    documents = list(ingest_corpus(corpus).documents)
    by_torch, by_onnx = tmp_path / "torch-index", tmp_path / "onnx-index"
    build_index(documents, encoder, by_torch, IndexSettings(), str(corpus))
    build_index(documents, build_passage_encoder(Settings()), by_onnx, IndexSettings(), str(corpus))
    cli, torch, onnx = vectors_of(built), vectors_of(by_torch), vectors_of(by_onnx)
    for mine, theirs, same in zip(cli, torch, onnx, strict=True):
        assert mine.shape == theirs.shape == same.shape and len(mine) > 0
        assert np.sum(mine * theirs, axis=1).min() >= 0.9999  # the same vectors, up to rounding
        to_onnx, to_torch = np.abs(mine - same).max(), np.abs(mine - theirs).max()
        assert to_onnx <= 1e-6 and to_onnx < to_torch  # and they are ONNX Runtime's


def test_citeqa_add_embeds_what_it_adds_as_citeqa_index_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "rye.md").write_text(DOCUMENTS["rye.md"], encoding="utf-8")
    built = tmp_path / "index"
    runner = CliRunner()
    done = runner.invoke(app, ["index", "--corpus", str(corpus), "--index", str(built)])
    assert done.exit_code == 0, done.output
    made = record_passage_encoders(monkeypatch)  # the encoder the write makes
    added = tmp_path / "starter.md"
    added.write_text(DOCUMENTS["starter.md"], encoding="utf-8")
    done = runner.invoke(app, ["add", str(added), "--index", str(built)])
    assert done.exit_code == 0, done.output
    (encoder,) = made
    assert isinstance(encoder, OnnxEncoder) and encoder.backend == "onnx"
    assert len(load_index(built).documents) == 2
