"""A sharded index (indexer/shards.py) served from one process answers as one index of the same documents:
the same passages in the same order with the same scores in every mode (BM25 under corpus-wide statistics,
bit for bit), the same answers, exact citations; writes go to the shard a doc_id hashes to."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from citeqa.answers import Answerer
from citeqa.search import Searcher
from citeqa.sentence_search import KnownSentences, SentenceHit
from citeqa.sharded.gather import ShardedAnswerer
from citeqa.types import Response, Result, SearchMode
from corpus.types import Document
from indexer.build import IndexSettings, build_index
from indexer.embedding import SentenceTransformerEncoder
from indexer.errors import IndexMismatchError
from indexer.index_folder import MANIFEST
from indexer.load import load_index
from indexer.shards import (
    SHARDS_MANIFEST,
    build_sharded_index,
    corpus_sharded_fingerprint,
    read_shards_manifest,
    shard_of,
    sharded_changed_by_writes,
    sharded_is_current,
)
from service.app import create_app
from service.settings import Settings
from service.wiring import build_sharded, sharded_answerer_factory

QUESTIONS = [
    "what are milia",
    "is it safe to pop the white bumps on my baby's nose?",
    "how are milia treated",
    "can adults get milia",
    "what causes milia in newborns",
    "does sunscreen help",
]
KEY = "shard-test-key"


def small_documents(documents: list[Document]) -> list[Document]:
    """The default articles cut into documents of three lines each, tagged by article (for filters)."""
    out = []
    for document in documents:
        lines = [line for line in document.text.split("\n") if line.strip()]
        for i in range(0, len(lines), 3):
            out.append(
                replace(
                    document,
                    doc_id=f"{document.doc_id}-{i:03d}",
                    text="\n".join(lines[i : i + 3]),
                    metadata={"article": document.doc_id},
                )
            )
    return out


def answerer_like(folder: Path, encoder: SentenceTransformerEncoder, base: Answerer) -> Answerer:
    """An Answerer over one index folder, set up as the sharded one's ``base`` (fusion, adapter, question
    tower, calibration, near-duplicate rule, answer model): what the shards must answer like."""
    return Answerer(
        Searcher(
            load_index(folder),
            encoder,
            base.searcher.fusion,
            query_adapter=base.searcher.query_adapter,
            question_encoder=base.searcher.question_encoder,
        ),
        base.calibration,
        base.dedup,
        answer_model=base.answer_model,
        sentence_candidates=base.sentence_candidates_setting,
    )


@pytest.fixture(scope="module")
def corpus(default_documents: list[Document]) -> list[Document]:
    return small_documents(default_documents)


@pytest.fixture(scope="module")
def folders(
    tmp_path_factory: pytest.TempPathFactory, corpus: list[Document], encoder: SentenceTransformerEncoder
) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("sharded")
    build_index(corpus, encoder, root / "one", IndexSettings())
    build_sharded_index(corpus, encoder, root / "three", 3, IndexSettings())
    return root / "one", root / "three"


@pytest.fixture(scope="module")
def answerers(folders: tuple[Path, Path], encoder: SentenceTransformerEncoder):  # type: ignore[no-untyped-def]
    one, three = folders
    live, base = build_sharded(Settings(index_path=three), encoder)
    sharded = sharded_answerer_factory(live, base)(live.current)
    single = answerer_like(one, encoder, base)
    # The packaged question tower encodes the questions on both sides.
    assert base.searcher.question_encoder is not base.searcher.encoder
    yield single, sharded
    live.close()


def test_every_document_is_in_the_shard_its_doc_id_hashes_to(
    folders: tuple[Path, Path], corpus: list[Document]
):
    _, three = folders
    manifest = read_shards_manifest(three)
    assert manifest.count == 3
    seen = []
    for bucket, folder in enumerate(manifest.shard_folders):
        doc_ids = list(load_index(folder).documents)
        assert all(shard_of(d, 3) == bucket for d in doc_ids)
        seen.extend(doc_ids)
    assert sorted(seen) == sorted(d.doc_id for d in corpus)
    assert shard_of("milia-overview-000", 3) == shard_of("milia-overview-000", 3)
    assert len({shard_of(d.doc_id, 3) for d in corpus}) == 3  # the corpus really is spread


def test_an_unsharded_folder_read_as_sharded_says_what_it_holds(folders: tuple[Path, Path], tmp_path: Path):
    """Found by a probe: `citeqa serve --engine ray` over an index built without --shards said only
    "shards.json missing"."""
    one, _ = folders
    with pytest.raises(IndexMismatchError) as one_index:
        read_shards_manifest(one)
    assert "it holds one unsharded index, served as it is without --engine ray" in str(one_index.value)
    assert "citeqa index --shards N" in str(one_index.value)
    with pytest.raises(IndexMismatchError) as empty:
        read_shards_manifest(tmp_path)
    assert "it holds one" not in str(empty.value) and "citeqa index --shards N" in str(empty.value)


def test_shards_hold_the_passages_of_one_index_with_exact_citations(folders: tuple[Path, Path]):
    one, three = folders
    single = load_index(one)
    expected = {(p.doc_id, p.start, p.end) for p in single.passages}
    found = set()
    for folder in read_shards_manifest(three).shard_folders:
        shard = load_index(folder)
        for passage in shard.passages:
            assert passage.text == shard.documents[passage.doc_id].text[passage.start : passage.end]
            found.add((passage.doc_id, passage.start, passage.end))
    assert found == expected


def assert_same_ranking(one: Sequence[Result], three: Sequence[Result], question: str) -> None:
    """The same scores in order, and the same results at each score (ties may come in another order; at
    the cut, different members of a tie may make it in)."""
    np.testing.assert_allclose([r.score for r in three], [r.score for r in one], rtol=1e-5, err_msg=question)
    groups: dict[float, tuple[set, set]] = {}
    for a, b in zip(one, three, strict=True):
        key = round(a.score, 5)
        groups.setdefault(key, (set(), set()))
        groups[key][0].add((a.citation.doc_id, a.citation.start, a.citation.end))
        groups[key][1].add((b.citation.doc_id, b.citation.start, b.citation.end))
    last = round(one[-1].score, 5) if one else None
    for key, (mine, theirs) in groups.items():
        if key != last:
            assert mine == theirs, (question, key)


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_three_shards_rank_and_answer_as_one_index(answerers, mode: str):  # type: ignore[no-untyped-def]
    single, sharded = answerers
    for question in QUESTIONS:
        one = single.respond(question, 10, mode)
        three = sharded.respond(question, 10, mode)
        assert_same_ranking(one.results, three.results, question)
        assert (three.answer is None) == (one.answer is None)
        if one.answer is not None:
            assert three.answer is not None and three.answer.text == one.answer.text
        assert three.answerable == one.answerable
        assert three.confidence == pytest.approx(one.confidence, abs=1e-6)


def test_bm25_scores_under_corpus_wide_statistics_equal_one_index_bit_for_bit(answerers):  # type: ignore[no-untyped-def]
    single, sharded = answerers
    for question in QUESTIONS:
        index = sharded.answerer_over(question, "bm25", None).searcher.index
        by_span = {
            (p.doc_id, p.start): s for p, s in zip(index.passages, index.bm25.scores(question), strict=True)
        }
        single_index = single.searcher.index
        scores = single_index.bm25.scores(question)
        for passage in single_index.passages:
            key = (passage.doc_id, passage.start)
            if key in by_span:
                assert by_span[key] == scores[passage.passage_id]


def test_filters_and_pages_hold_across_shards(answerers):  # type: ignore[no-untyped-def]
    single, sharded = answerers
    filters = {"article": ["milia-overview"]}
    one = single.respond("how are milia treated", 5, "hybrid", 5, filters)
    three = sharded.respond("how are milia treated", 5, "hybrid", 5, filters)
    assert [r.citation.doc_id for r in three.results] == [r.citation.doc_id for r in one.results]
    assert all(r.citation.doc_id.startswith("milia-overview") for r in three.results)
    assert three.has_more == one.has_more


def test_an_unknown_filter_key_is_refused_naming_the_keys(answerers):  # type: ignore[no-untyped-def]
    """Shards named the keys sorted ("author, doc_id, publisher, ...") where one index names the document's
    fields first ("doc_id, title, author, ..."): the same message now, shards or not."""
    from citeqa.errors import InvalidQueryError

    single, sharded = answerers
    with pytest.raises(InvalidQueryError) as one:
        single.respond("what are milia", 5, "hybrid", 0, {"colour": ["red"]})
    with pytest.raises(InvalidQueryError, match="article") as three:
        sharded.respond("what are milia", 5, "hybrid", 0, {"colour": ["red"]})
    assert str(three.value) == str(one.value)


def test_a_sharded_index_over_http_takes_writes_in_the_right_shard(
    folders: tuple[Path, Path], tmp_path: Path, encoder: SentenceTransformerEncoder, corpus: list[Document]
):
    import shutil

    folder = tmp_path / "three"
    shutil.copytree(folders[1], folder)
    settings = Settings(index_path=folder, api_keys=[KEY])
    assert sharded_is_current(
        folder, corpus_sharded_fingerprint(corpus, 3), settings.model, 3, IndexSettings()
    )
    with TestClient(create_app(settings)) as client:
        first = client.post("/query", json={"question": "how long to bake rye bread", "top_k": 3}).json()
        document = {
            "doc_id": "bread-rye",
            "title": "Rye bread",
            "text": "A dense rye loaf needs a long bake of at least 70 minutes. Rye is not gluten free.",
        }
        written = client.post(
            "/documents", json={"documents": [document]}, headers={"Authorization": f"Bearer {KEY}"}
        )
        assert written.status_code == 200, written.text
        version = written.json()["index_version"]
        assert version == first["index_version"] + 1
        answer = client.get(
            "/search", params={"q": "how long to bake rye bread", "k": 3, "min_version": version}
        )
        body = answer.json()
        assert body["index_version"] >= version
        assert body["results"][0]["citation"]["doc_id"] == "bread-rye"
        for result in body["results"]:
            shown = client.get(f"/documents/{result['citation']['doc_id']}").json()
            assert shown["text"][result["citation"]["start"] : result["citation"]["end"]] == result["text"]
        assert client.get("/search", params={"q": "rye", "min_version": version + 5}).status_code == 409
        deleted = client.delete("/documents/bread-rye", headers={"Authorization": f"Bearer {KEY}"})
        assert deleted.status_code == 200
        assert client.get("/documents/bread-rye").status_code == 404
        assert (
            client.delete("/documents/bread-rye", headers={"Authorization": f"Bearer {KEY}"}).status_code
            == 404
        )
        assert client.get("/health").status_code == 200
        assert client.get("/ready").status_code == 200
    bucket = shard_of("bread-rye", 3)
    for number, shard in enumerate(read_shards_manifest(folder).shard_folders):
        shard_version = json.loads((shard / MANIFEST).read_text())["version"]
        assert shard_version == (3 if number == bucket else 1)  # the add and the delete, in that shard only
    assert sharded_changed_by_writes(folder)
    assert (folder / SHARDS_MANIFEST).is_file()


def test_health_counts_what_the_shards_hold_after_writes(
    folders: tuple[Path, Path], tmp_path: Path, corpus: list[Document]
) -> None:
    """/health of a sharded index said the build's counts (shards.json) whatever writes did since: 2 documents
    after both were deleted. It counts what the shards' commits hold, as over one folder and as /metrics."""
    import shutil

    folder = tmp_path / "three"
    shutil.copytree(folders[1], folder)
    auth = {"Authorization": f"Bearer {KEY}"}
    with TestClient(create_app(Settings(index_path=folder, api_keys=[KEY]))) as client:
        before = client.get("/health").json()["index"]
        assert before["documents"] == len(corpus)
        document = {"doc_id": "bread-rye", "title": "Rye bread", "text": "A rye loaf bakes for 70 minutes."}
        assert client.post("/documents", json={"documents": [document]}, headers=auth).status_code == 200
        added = client.get("/health").json()["index"]
        assert (added["documents"], added["passages"]) == (len(corpus) + 1, before["passages"] + 1)
        gone = corpus[0].doc_id
        assert client.delete("/documents/bread-rye", headers=auth).status_code == 200
        assert client.delete(f"/documents/{gone}", headers=auth).status_code == 200
        after = client.get("/health").json()["index"]
        assert after["documents"] == len(corpus) - 1 == len(client.get("/documents").json()["documents"])
        assert after["passages"] < before["passages"]
        metrics = client.get("/metrics").text
        assert f"citeqa_index_documents {float(after['documents'])}" in metrics
        assert f"citeqa_index_passages {float(after['passages'])}" in metrics


def test_a_refused_batch_writes_nothing_to_any_shard(folders: tuple[Path, Path], tmp_path: Path) -> None:
    """Found in review: a sharded write checked each document in its own shard, so a batch refused with 422
    (one document too long, or one doc_id twice) still stored the documents routed to the other shards."""
    import shutil

    folder = tmp_path / "three"
    shutil.copytree(folders[1], folder)
    ok, long = "x3", "x0"
    assert shard_of(ok, 3) != shard_of(long, 3)
    auth = {"Authorization": f"Bearer {KEY}"}
    settings = Settings(index_path=folder, api_keys=[KEY], max_document_chars=100)
    with TestClient(create_app(settings)) as client:
        counts = client.get("/health").json()["index"]["documents"]
        short = {"doc_id": ok, "title": "Short", "text": "A rye loaf."}
        batches = (
            [short, {"doc_id": long, "title": "L", "text": "x " * 125}],
            [
                short,
                {"doc_id": "x1", "title": "A", "text": "One."},
                {"doc_id": "x1", "title": "B", "text": "Two."},
            ],
        )
        for batch in batches:
            refused = client.post("/documents", json={"documents": batch}, headers=auth)
            assert refused.status_code == 422, refused.text
            assert client.get(f"/documents/{ok}").status_code == 404
        assert client.get("/health").json()["index"]["documents"] == counts
    with TestClient(create_app(settings)) as reopened:  # nothing committed behind the answer either
        assert reopened.get(f"/documents/{ok}").status_code == 404


def test_the_command_line_asks_and_writes_a_sharded_index(folders: tuple[Path, Path], tmp_path: Path) -> None:
    import shutil

    from typer.testing import CliRunner

    from service.cli.app import app
    from service.wiring import build_answerer

    folder = tmp_path / "three"
    shutil.copytree(folders[1], folder)
    answerer = build_answerer(Settings(index_path=folder))
    assert answerer.respond("what are milia", 3).results[0].citation.doc_id.startswith("milia")
    note = tmp_path / "rye.txt"
    note.write_text("A dense rye loaf needs a long bake of at least 70 minutes.\n", encoding="utf-8")
    added = CliRunner().invoke(app, ["add", str(note), "--index", str(folder)])
    assert added.exit_code == 0, added.output
    bucket = shard_of("rye", 3)
    shard = read_shards_manifest(folder).shard_folders[bucket]
    assert "rye" in load_index(shard).documents
    verified = CliRunner().invoke(app, ["verify", "--index", str(folder)], env={"COLUMNS": "400"})
    assert verified.exit_code == 0 and f"all 3 shards of {folder} pass" in verified.output, verified.output


def test_the_seed_set_scores_the_same_on_one_folder_one_shard_and_three_shards(
    tmp_path_factory: pytest.TempPathFactory,
    default_documents: list[Document],
    default_index_path: Path,
    encoder: SentenceTransformerEncoder,
) -> None:
    """The default corpus (two articles: with three shards, one shard is empty) answers the seed set's
    answerable questions with the same results as one index: the same hit@5 and MRR@10 on the gold quotes."""
    from eval.seed_set import gold_spans, load_eval_set

    root = tmp_path_factory.mktemp("seed-shards")
    documents = {d.doc_id: d for d in default_documents}
    questions = [q for q in load_eval_set() if q.answerable][:24]  # a part, for the suite's time

    def measure(answerer: Any) -> tuple[float, float, list[list[tuple[str, int, int]]]]:
        hits, reciprocal, kept = 0, 0.0, []
        for question in questions:
            gold = gold_spans(question, documents)
            results = answerer.respond(question.question, 10, "hybrid").results
            spans = [(r.citation.doc_id, r.citation.start, r.citation.end) for r in results]
            kept.append(spans)
            rank = next(
                (
                    n
                    for n, (d, s, e) in enumerate(spans, 1)
                    if any(d == g and s < ge and gs < e for g, gs, ge in gold)
                ),
                None,
            )
            hits += rank is not None and rank <= 5
            reciprocal += 1 / rank if rank else 0.0
        return hits / len(questions), reciprocal / len(questions), kept

    measured = []
    for count in (1, 3):
        build_sharded_index(default_documents, encoder, root / f"s{count}", count, IndexSettings())
        live, base = build_sharded(Settings(index_path=root / f"s{count}"), encoder)
        measured.append(measure(sharded_answerer_factory(live, base)(live.current)))
        live.close()
    single = answerer_like(default_index_path, encoder, base)
    measured.append(measure(single))
    assert measured[0][:2] == measured[1][:2] == measured[2][:2]
    assert measured[0][0] > 0.5  # the set is really answered, not trivially equal
    assert measured[0][2] == measured[1][2] == measured[2][2]


SENTENCE_MODEL = Path(__file__).resolve().parents[3] / "citeqa" / "answer_model_sentences.json"
SENTENCE_QUESTIONS = [
    "is it safe to pop the white bumps on my baby's nose?",
    "what are milia",
    "how are milia treated",
    "should I squeeze milia",
    "what do milia look like",
    "how long to bake rye bread",
]


@contextmanager
def single_and_sharded(
    folders: tuple[Path, Path], encoder: SentenceTransformerEncoder, **settings: Any
) -> Iterator[tuple[Answerer, ShardedAnswerer]]:
    """One index and three shards of the same documents, both answering with ``settings``."""
    one, three = folders
    live, base = build_sharded(Settings(index_path=three, **settings), encoder)
    try:
        yield answerer_like(one, encoder, base), sharded_answerer_factory(live, base)(live.current)
    finally:
        live.close()


def assert_same_response(one: Response, three: Response, question: str) -> None:
    assert_same_ranking(one.results, three.results, question)
    assert (three.answer is None) == (one.answer is None), question
    if one.answer is not None:
        assert three.answer is not None
        assert (three.answer.text, three.answer.citation) == (one.answer.text, one.answer.citation), question
    assert three.answerable == one.answerable, question
    assert three.confidence == pytest.approx(one.confidence, abs=1e-6), question
    assert three.features == pytest.approx(dict(one.features), abs=1e-5), question


def retrieved_sentences(
    answerer: Answerer, question: str, mode: SearchMode
) -> tuple[set[tuple[str, int, int]], dict[tuple[str, int, int], int]]:
    """The citations of the results below the answer depth that sentence retrieval adds, and the ranks of
    the sentences it found (by doc_id and offsets)."""
    query = answerer.searcher.encode_question(question)
    ranking = answerer.results(question, mode, query)
    extra, ranks = answerer.sentence_retrieval(question, ranking, query, answerer.answer_depth)
    cited = {(ranking[p].citation.doc_id, ranking[p].citation.start, ranking[p].citation.end) for p in extra}
    return cited, ranks


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_sentence_retrieval_over_shards_answers_as_one_index(
    folders: tuple[Path, Path], encoder: SentenceTransformerEncoder, mode: SearchMode
) -> None:
    """With the sentence answer model (its 10 closest sentences join the answer's candidates), three shards
    find the same sentences, add the same results below the answer depth and answer as one index."""
    with single_and_sharded(folders, encoder, answer_model_path=SENTENCE_MODEL) as (single, sharded):
        assert single.sentence_candidates == sharded.base.sentence_candidates == 10
        added = 0
        for question in SENTENCE_QUESTIONS:
            assert_same_response(
                single.respond(question, 10, mode), sharded.respond(question, 10, mode), question
            )
            assert_same_response(
                single.respond(question, 5, mode, 5), sharded.respond(question, 5, mode, 5), question
            )
            over = sharded.answerer_over(question, mode, None)
            cited, ranks = retrieved_sentences(single, question, mode)
            assert len(ranks) == 10
            assert retrieved_sentences(over, question, mode) == (cited, ranks), question
            added += len(cited)
        assert added  # sentence hits really bring in results below the answer depth


def test_the_baby_nose_advice_is_found_below_the_answer_depth_over_shards(
    folders: tuple[Path, Path], encoder: SentenceTransformerEncoder
) -> None:
    question = SENTENCE_QUESTIONS[0]
    with single_and_sharded(folders, encoder, answer_model_path=SENTENCE_MODEL) as (single, sharded):
        over = sharded.answerer_over(question, "hybrid", None)
        cited, ranks = retrieved_sentences(over, question, "hybrid")
        documents = over.searcher.index.documents
        advice = [key for key in ranks if "scarring or infection" in documents[key[0]].text[key[1] : key[2]]]
        assert advice and any(d == advice[0][0] and s <= advice[0][1] < e for d, s, e in cited)
        assert retrieved_sentences(single, question, "hybrid") == (cited, ranks)
        # The shards sent the passages holding their hits, with exact scores (the ranking is unchanged).
        index = over.searcher.index
        hits = index.known_sentences.top(over.searcher.encode_question(question), 10)
        for hit in hits:
            passage = index.passages[hit.passage_id]
            assert passage.doc_id == hit.doc_id and passage.start <= hit.start < hit.end <= passage.end
        plain = sharded.answerer_over(question, "hybrid", None, answers=False).searcher.index
        assert len(index.passages) >= len(plain.passages)
        assert ranked(sharded.respond(question, 10).results) == plain_results(folders, encoder, question)


def ranked(results: Sequence[Result]) -> list[tuple[int, Any, float]]:
    return [(r.rank, r.citation, r.score) for r in results]


def plain_results(
    folders: tuple[Path, Path], encoder: SentenceTransformerEncoder, question: str
) -> list[tuple[int, Any, float]]:
    """The sharded ranking of the default settings (no sentence retrieval)."""
    with single_and_sharded(folders, encoder) as (_, sharded):
        return ranked(sharded.respond(question, 10).results)


def test_shards_send_the_passages_holding_their_hits_and_the_ranking_stays(
    folders: tuple[Path, Path], encoder: SentenceTransformerEncoder
) -> None:
    """With lists shallower than the corpus (8 deep), some hits lie in passages past both of a shard's
    lists: the shard sends those passages too, with exact scores, and the ranking (one index's) stays."""
    added = 0
    with single_and_sharded(folders, encoder, answer_model_path=SENTENCE_MODEL) as (single, sharded):
        adapter, questions = single.searcher.query_adapter, single.searcher.question_encoder
        fusion = replace(single.searcher.fusion, candidates=8)
        one = single.over(Searcher(single.searcher.index, encoder, fusion, None, adapter, questions))
        base = sharded.base.over(
            Searcher(sharded.base.searcher.index, encoder, fusion, None, adapter, questions)
        )
        shallow = ShardedAnswerer(sharded.clients, sharded.snapshot, base, depth=8)
        assert shallow.retrieval_depth() == 8
        bm25 = one.searcher.index.bm25
        for question in SENTENCE_QUESTIONS:
            for mode in ("hybrid", "dense", "bm25"):
                over = shallow.answerer_over(question, mode, None)
                plain = shallow.answerer_over(question, mode, None, answers=False)
                index = over.searcher.index
                added += len(index.passages) - len(plain.searcher.index.passages)
                hits = index.known_sentences.hits
                assert len(hits) == 10
                for hit in hits:
                    passage = index.passages[hit.passage_id]
                    assert (
                        passage.doc_id == hit.doc_id and passage.start <= hit.start < hit.end <= passage.end
                    )
                # Exact scores for every candidate, the sent holders included.
                scores = bm25.scores(question)
                by_span = {(p.doc_id, p.start): p.passage_id for p in one.searcher.index.passages}
                ids = [by_span[(p.doc_id, p.start)] for p in index.passages]
                assert np.array_equal(index.bm25.scores(question), scores[ids])
                query = over.searcher.encode_question(question)
                ranked = [
                    over.searcher.rank(question, 8, mode, None, query),
                    plain.searcher.rank(question, 8, mode, None, query),
                ]
                spans = [
                    [(index.passages[int(i)].doc_id, index.passages[int(i)].start) for i in ranked[0].ids]
                ]
                other = plain.searcher.index.passages
                spans.append([(other[int(i)].doc_id, other[int(i)].start) for i in ranked[1].ids])
                assert spans[0] == spans[1] and np.array_equal(ranked[0].scores, ranked[1].scores), question
                expected = one.searcher.rank(question, 8, mode, None, query)
                np.testing.assert_allclose(ranked[0].scores, expected.scores, rtol=1e-5, err_msg=question)
    assert added  # some holders were past both lists


def test_sentence_retrieval_over_shards_with_filters_keeps_the_ranks_of_filtered_hits(
    folders: tuple[Path, Path], encoder: SentenceTransformerEncoder
) -> None:
    """A filter does not narrow sentence retrieval (as over one index: a hit no result holds is dropped
    but keeps its rank); the shards send such hits without their passages."""
    filters = {"article": ["milia-overview"]}
    left_out = 0
    with single_and_sharded(folders, encoder, answer_model_path=SENTENCE_MODEL) as (single, sharded):
        for question in SENTENCE_QUESTIONS[:4]:
            one = single.respond(question, 10, "hybrid", 0, filters)
            three = sharded.respond(question, 10, "hybrid", 0, filters)
            assert_same_response(one, three, question)
            assert all(r.citation.doc_id.startswith("milia-overview") for r in three.results)
            index = sharded.answerer_over(question, "hybrid", filters).searcher.index
            hits = index.known_sentences.hits
            assert len(hits) == 10
            assert all((h.passage_id == -1) == (not h.doc_id.startswith("milia-overview")) for h in hits)
            left_out += sum(h.passage_id == -1 for h in hits)
    assert left_out  # some hits are in documents the filter leaves out


def test_sentence_level_fusion_over_shards_ranks_as_one_index(
    folders: tuple[Path, Path], encoder: SentenceTransformerEncoder
) -> None:
    """With sentence-level fusion on, every candidate's best sentence score comes from its shard and the
    fused ranking is one index's (it differs from the ranking without it)."""
    moved = 0
    with single_and_sharded(folders, encoder, fusion_sentence_weight=0.5) as (single, sharded):
        assert sharded.base.searcher.fusion.sentence_weight == 0.5
        for question in [*QUESTIONS, *SENTENCE_QUESTIONS]:
            one = single.respond(question, 10, "hybrid")
            assert_same_response(one, sharded.respond(question, 10, "hybrid"), question)
            plain = single.over(
                Searcher(
                    single.searcher.index,
                    encoder,
                    replace(single.searcher.fusion, sentence_weight=0.0),
                    query_adapter=single.searcher.query_adapter,
                    question_encoder=single.searcher.question_encoder,
                )
            )
            moved += [r.score for r in plain.respond(question, 10).results] != [r.score for r in one.results]
    assert moved


def test_both_sentence_settings_over_shards_answer_as_one_index(
    folders: tuple[Path, Path], encoder: SentenceTransformerEncoder
) -> None:
    with single_and_sharded(
        folders, encoder, answer_model_path=SENTENCE_MODEL, fusion_sentence_weight=0.3
    ) as (single, sharded):
        for question in SENTENCE_QUESTIONS:
            assert_same_response(single.respond(question, 10), sharded.respond(question, 10), question)
            assert retrieved_sentences(single, question, "hybrid") == retrieved_sentences(
                sharded.answerer_over(question, "hybrid", None), question, "hybrid"
            )


def test_known_sentences_answer_only_their_query_and_count() -> None:
    hits = tuple(SentenceHit(i, f"d{i}", 0, 5, 1.0 - i / 10) for i in range(3))
    known = KnownSentences(np.ones(4, np.float32), 3, hits)
    assert known.top(np.ones(4), 2) == list(hits[:2])
    with pytest.raises(ValueError):
        known.top(np.zeros(4), 2)
    with pytest.raises(ValueError):
        known.top(np.ones(4), 4)


def test_a_calibration_at_the_sharded_index_top_level_is_used(
    folders: tuple[Path, Path], encoder: SentenceTransformerEncoder, tmp_path: Path
) -> None:
    import dataclasses
    import shutil

    from citeqa.answerability import (
        DEFAULT_CALIBRATION_PATH,
        index_calibration_path,
        load_calibration,
        save_calibration,
    )

    three = tmp_path / "three"
    shutil.copytree(folders[1], three)
    strict = load_calibration(DEFAULT_CALIBRATION_PATH)
    save_calibration(
        dataclasses.replace(strict, threshold=strict.threshold + 100.0), index_calibration_path(three)
    )
    live, base = build_sharded(Settings(index_path=three), encoder)
    try:
        assert base.calibration is not None
        assert base.calibration.source == str(index_calibration_path(three))
        response = sharded_answerer_factory(live, base)(live.current).respond("what are milia", 3)
        assert response.results and not response.answerable
    finally:
        live.close()


def test_sentence_bm25_fusion_is_not_applied_over_shards_which_find_sentences_by_vectors(
    folders: tuple[Path, Path], encoder: SentenceTransformerEncoder
) -> None:
    """Documented (README, CITEQA_ANSWER_SENTENCE_BM25_WEIGHT): over shards the answer's sentences are found
    by their vectors alone, so the setting answers as dense sentence retrieval does, and does not fail."""
    with single_and_sharded(
        folders, encoder, answer_model_path=SENTENCE_MODEL, answer_sentence_bm25_weight=0.4
    ) as (single, sharded):
        assert sharded.base.sentence_bm25_weight == 0.4 and single.sentence_bm25_weight == 0.0
        for question in SENTENCE_QUESTIONS:
            assert_same_response(single.respond(question, 10), sharded.respond(question, 10), question)


def test_a_question_the_model_cannot_read_ranks_by_bm25_over_shards_as_over_one_index(
    tmp_path: Path, encoder: SentenceTransformerEncoder
) -> None:
    """citeqa.readable over shards (found in review: the sharded searcher's encoder showed no tokenizer, so
    hybrid kept the dense weight there and ranked "what do pandas eat" by [UNK] vectors)."""
    documents = [
        Document(doc_id="pandas", title="大熊猫", text="大熊猫主要以竹子为食。大熊猫生活在中国的山区。"),
        Document(doc_id="tea", title="绿茶", text="绿茶在中国已有数千年的历史。龙井是最有名的绿茶之一。"),
        Document(doc_id="notes", title="Notes", text="Tea notes in English."),
    ]
    build_index(documents, encoder, tmp_path / "one", IndexSettings())
    build_sharded_index(documents, encoder, tmp_path / "three", 3, IndexSettings())
    with single_and_sharded((tmp_path / "one", tmp_path / "three"), encoder) as (single, sharded):
        for question, first in [("熊猫吃什么", "pandas"), ("绿茶的历史", "tea")]:
            one, three = single.respond(question, 3, "hybrid"), sharded.respond(question, 3, "hybrid")
            assert [r.citation.doc_id for r in three.results] == [r.citation.doc_id for r in one.results]
            assert three.results[0].citation.doc_id == first, question
