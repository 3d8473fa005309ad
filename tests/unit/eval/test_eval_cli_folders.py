"""`citeqa eval` on the folders it is given: a sharded index, and --index beside --dataset."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from corpus.types import Document
from indexer.build import IndexSettings
from indexer.embedding import SentenceTransformerEncoder
from indexer.shards import build_sharded_index
from service.cli.app import app


def test_eval_of_a_sharded_index_says_what_to_score_instead_of_a_traceback(
    tmp_path: Path, default_documents: list[Document], encoder: SentenceTransformerEncoder
) -> None:
    """`citeqa eval --index SHARDED` failed with a traceback ending in "TypeError: the passages of a sharded
    index are read through a search" (the seed set's qrels are one index's passage ids). It now fails with
    exit status 2 and says what to evaluate instead."""
    folder = tmp_path / "three"
    build_sharded_index(default_documents, encoder, folder, 3, IndexSettings())
    result = CliRunner().invoke(app, ["eval", "--index", str(folder), "--out", str(tmp_path / "report")])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output and "TypeError" not in result.output
    text = " ".join(result.output.split())
    assert "is sharded (shards.json)" in text
    assert "built without --shards" in text and "shard-000" in text
    assert not (tmp_path / "report").exists()


def test_eval_of_a_dataset_refuses_an_index_it_would_not_read(tmp_path: Path) -> None:
    """`citeqa eval --dataset DIR --index FOLDER` scored an index of its own, built under --index-root, and
    said nothing of the FOLDER given: a report that looked like FOLDER's. The --index is now refused."""
    dataset = tmp_path / "beir"
    (dataset / "qrels").mkdir(parents=True)
    (dataset / "corpus.jsonl").write_text('{"_id": "d1", "title": "T", "text": "Milia are cysts."}\n')
    (dataset / "queries.jsonl").write_text('{"_id": "q1", "text": "what are milia"}\n')
    (dataset / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\n")
    root = tmp_path / "indexes"
    result = CliRunner().invoke(
        app,
        ["eval", "--dataset", str(dataset), "--index", str(tmp_path / "mine"), "--index-root", str(root)],
    )
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "is not read with --dataset" in text and "leave out --index" in text
    assert not root.exists()  # refused before anything was built


def test_eval_of_a_dataset_given_as_its_corpus_file_names_the_folder_to_pass(tmp_path: Path) -> None:
    """`citeqa eval --dataset beir/corpus.jsonl` said "dataset folder not found" of a file that exists."""
    dataset = tmp_path / "beir"
    dataset.mkdir()
    corpus = dataset / "corpus.jsonl"
    corpus.write_text('{"_id": "d1", "title": "T", "text": "Milia are cysts."}\n', encoding="utf-8")
    root = tmp_path / "indexes"
    result = CliRunner().invoke(app, ["eval", "--dataset", str(corpus), "--index-root", str(root)])
    assert result.exit_code == 2, result.output
    squeezed = "".join(result.output.split())  # the terminal may wrap a long path anywhere
    expected = f"{corpus}: is a file, not a dataset folder; pass its folder, {dataset}, holding corpus.jsonl"
    assert "".join(expected.split()) in squeezed
    assert "notfound" not in squeezed
    assert not root.exists()
