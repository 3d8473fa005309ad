# ruff: noqa: RUF001, RUF002, RUF003  (Chinese and Japanese punctuation is what these tests are about)
"""Chinese and Japanese text, which has no spaces between words (found by stop 25's probe: an
8,000-character Chinese document was one passage, beyond the model's 256 tokens, and BM25 held each run of
characters between punctuation as one term). Each character is a word for the chunker, 。！？ end
sentences, and BM25 indexes character bigrams (indexer.cjk), for documents and questions alike."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import Stemmer

from corpus.types import Document
from indexer.bm25_index import STOPWORDS, stopword_set, text_tokens
from indexer.build import IndexSettings, build_index
from indexer.chunking import ChunkerSettings, chunk_document, sentence_spans
from indexer.cjk import cjk_bigrams
from indexer.embedding import SentenceTransformerEncoder
from indexer.lexical import LexicalIndex, LexicalSegment, tokenize
from indexer.recover import rebuild_from_stored
from indexer.staleness import index_is_current, index_predates_text_rules
from indexer.text_rules import TEXT_RULES

PANDAS = "大熊猫主要以竹子为食，每天要吃十几公斤。"
TEA = "绿茶在中国已有数千年的历史。"
# Sentences with no space between them: 。 ends each one.
FILLER = [f"第{n}段记录了城市公园里的天气变化和游客数量。" for n in range(1, 400)]
LONG_CHINESE = "".join(FILLER[:200]) + PANDAS + "".join(FILLER[200:]) + TEA
JAPANESE = "東京タワーは高さ333メートルの電波塔です。富士山は日本で一番高い山です！本当ですか？"


def test_the_sentences_of_chinese_and_japanese_end_at_their_stops() -> None:
    spans = [JAPANESE[s.start : s.end] for s in sentence_spans(JAPANESE)]
    assert spans == [
        "東京タワーは高さ333メートルの電波塔です。",
        "富士山は日本で一番高い山です！",
        "本当ですか？",
    ]
    # Each character is a word; "333" is one, and so is the stop (as "bumps." is one in English).
    assert sentence_spans(JAPANESE)[0].words == len("東京タワーは高さ") + 1 + len("メートルの電波塔です。")
    quoted = "他说：「明天见。」然后走了。"
    assert [quoted[s.start : s.end] for s in sentence_spans(quoted)] == ["他说：「明天见。」", "然后走了。"]
    # Found in review: "！！" made a one-character sentence, and an ASCII stop before Chinese ended nothing.
    for text, expected in [
        ("見て見て見て！！本当？！", ["見て見て見て！！", "本当？！"]),
        ("Hello world.这是中文。", ["Hello world.", "这是中文。"]),
        ("他很高兴!然后走了?", ["他很高兴!", "然后走了?"]),
        ("Take vitamin A.Then rest. Dr.王 is here.", ["Take vitamin A.Then rest.", "Dr.王 is here."]),
    ]:
        assert [text[s.start : s.end] for s in sentence_spans(text)] == expected


def test_a_long_chinese_document_is_cut_into_passages_that_quote_it_exactly() -> None:
    assert len(LONG_CHINESE) > 8_000
    settings = ChunkerSettings()
    passages = chunk_document(Document(doc_id="zh", title="公园", text=LONG_CHINESE), settings)
    assert len(passages) > 60  # about 8,900 characters in passages of at most 120
    for passage in passages:
        assert passage.text == LONG_CHINESE[passage.start : passage.end]
        assert len(passage.text) <= settings.max_words
        assert passage.text.endswith("。")  # whole sentences
    assert any(PANDAS in p.text for p in passages)


def test_english_text_is_counted_and_split_as_before() -> None:
    text = "Milia are tiny white bumps. They often go away! Do they? Yes:\nno spaces here.Really"
    spans = sentence_spans(text)
    assert [text[s.start : s.end] for s in spans] == [
        "Milia are tiny white bumps.",
        "They often go away!",
        "Do they?",
        "Yes:",
        "no spaces here.Really",
    ]
    assert [s.words for s in spans] == [5, 4, 2, 1, 3]
    assert cjk_bigrams("Milia are tiny, café.") == "Milia are tiny, café."


def test_bm25_indexes_character_bigrams_of_documents_and_questions_alike() -> None:
    tokens = text_tokens("大熊猫吃什么?", stopword_set(STOPWORDS), Stemmer.Stemmer("english"))
    assert tokens == ["大熊", "熊猫", "猫吃", "吃什", "什么"]
    assert tokenize(["Python编程"]) == [["python", "编程"]]
    # A lone character is a term (as Lucene's CJKBigramFilter keeps it), and 々 belongs to its word.
    assert tokenize(["茶 5月3日 佐々木"]) == [["茶", "月", "日", "佐々", "々木"]]
    texts = [PANDAS, TEA, FILLER[0], JAPANESE]
    index = LexicalIndex([LexicalSegment.from_texts(texts)])
    for question, row in [
        ("熊猫吃竹子吗", 0),
        ("绿茶的历史", 1),
        ("城市公园的天气", 2),
        ("富士山の高さ", 3),
    ]:
        scores = index.scores(question)
        assert int(np.argmax(scores)) == row and scores[row] > 0, (question, scores)


def test_an_index_cut_by_the_old_rules_is_stale_only_over_chinese_or_japanese(
    tmp_path: Path, encoder: SentenceTransformerEncoder
) -> None:
    """Found in review: `citeqa index --if-stale` (make run) kept an index of a Chinese corpus built before
    these rules, whose BM25 terms then never matched a question's bigrams. The manifest records the rules
    (``text_rules``); an index without it is rebuilt when its corpus holds Chinese or Japanese, and only
    then (an English index of any size is not rebuilt for rules that read it the same)."""
    chinese = Document(doc_id="zh", title="公园", text=PANDAS + TEA)
    english = Document(doc_id="en", title="Milia", text="Milia are tiny white bumps. They go away.")
    for corpus, stale_when_old in [([chinese, english], True), ([english], False)]:
        folder = tmp_path / corpus[0].doc_id
        build_index(corpus, encoder, folder, IndexSettings(), "text rules test")
        manifest_path = folder / "manifest.json"
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        assert manifest["text_rules"] == TEXT_RULES
        assert index_is_current(folder, corpus, encoder.name, IndexSettings())
        del manifest["text_rules"]  # as the previous release wrote it
        manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
        assert bool(index_predates_text_rules(folder, corpus)) is stale_when_old
        assert index_is_current(folder, corpus, encoder.name, IndexSettings()) is not stale_when_old
        rebuild_from_stored(folder, encoder)  # `citeqa rebuild`: cut and tokenized anew, and recorded
        assert not index_predates_text_rules(folder, corpus)


def test_make_run_over_an_index_written_in_chinese_before_the_rules_says_how_to_split_it_again(
    tmp_path: Path, encoder: SentenceTransformerEncoder
) -> None:
    """An index of an English corpus into which Chinese was written (citeqa add, POST /documents) by the
    release before these rules is kept by `make run`, as every index changed by writes is: it said only
    "kept as it is", and its Chinese stayed cut by the old rules with no word of it. It now says so, and
    names the command that splits it again with the writes kept."""
    from typer.testing import CliRunner

    from service.cli.app import app

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "milia.txt").write_text("Milia are tiny white bumps. They go away.\n", encoding="utf-8")
    (tmp_path / "pandas.txt").write_text(PANDAS + TEA + "\n", encoding="utf-8")
    index = tmp_path / "index"
    runner = CliRunner()
    for command in (
        ["index", "--corpus", str(corpus), "--index", str(index)],
        ["add", str(tmp_path / "pandas.txt"), "--index", str(index)],
    ):
        assert runner.invoke(app, command).exit_code == 0
    manifest_path = index / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    del manifest["text_rules"]  # as the previous release wrote it
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    command = ["index", "--corpus", str(corpus), "--index", str(index), "--if-stale"]
    said = " ".join(runner.invoke(app, command, env={"COLUMNS": "400"}).output.split())
    assert "kept as it is" in said
    assert (
        f"index at {index} was built before Chinese and Japanese text was split into words and sentences, "
        f"and holds such text: `citeqa rebuild --index {index}` splits it again, the writes kept"
    ) in said
    rebuild_from_stored(index, encoder)
    said = " ".join(runner.invoke(app, command, env={"COLUMNS": "400"}).output.split())
    assert "kept as it is" in said and "was built before Chinese" not in said


def test_a_rebuild_through_the_service_records_the_text_rules_it_cut_by(
    tmp_path: Path, encoder: SentenceTransformerEncoder
) -> None:
    """POST /index/rebuild (LiveIndex.rebuild) cut every document anew by these rules but left the
    manifest saying the old ones: `make run` then still said the index was built before them and asked
    for another rebuild, and a Chinese corpus was rebuilt again from scratch."""
    from indexer.live import LiveIndex
    from indexer.merging import TieredMergePolicy

    corpus = [Document(doc_id="zh", title="公园", text=PANDAS + TEA)]
    folder = tmp_path / "zh"
    build_index(corpus, encoder, folder, IndexSettings(), "text rules test")
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    del manifest["text_rules"]  # as the previous release wrote it
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    assert index_predates_text_rules(folder, corpus)
    live = LiveIndex.open(folder, encoder, policy=TieredMergePolicy(segments_per_tier=1000))
    try:
        live.rebuild()
    finally:
        live.close()
    assert json.loads(manifest_path.read_text(encoding="utf-8"))["text_rules"] == TEXT_RULES
    assert not index_predates_text_rules(folder, corpus)
