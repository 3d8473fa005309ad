"""Near-duplicate rules as pure functions over passages, on hand-made spans and on real chunk overlap."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from citeqa.dedup import (
    DEDUP_RULES,
    MAX_MERGED,
    Group,
    MergeGrouping,
    group_passages,
    is_near_duplicate,
    normalized_text,
    shared_chars,
)
from corpus.types import Document
from indexer.chunking import ChunkerSettings, chunk_document
from indexer.types import Passage, PassageLayout

TEXT = "".join(f"Sentence number {i} says something. " for i in range(40))


def passage(pid: int, start: int, end: int, doc_id: str = "a", text: str | None = None) -> Passage:
    return Passage(pid, doc_id, start, end, TEXT[start:end] if text is None else text)


def test_normalized_text_ignores_case_and_spacing() -> None:
    assert normalized_text("  Milia  are\n tiny ") == normalized_text("milia are tiny")


def test_shared_chars() -> None:
    assert shared_chars(passage(0, 0, 100), passage(1, 60, 200)) == 40
    assert shared_chars(passage(0, 0, 100), passage(1, 100, 200)) == 0
    assert shared_chars(passage(0, 0, 100), passage(1, 0, 100, doc_id="b")) == 0


def test_merge_joins_overlapping_passages_of_one_document_into_their_union() -> None:
    ranked = [passage(0, 100, 300), passage(1, 500, 700), passage(2, 250, 450), passage(3, 0, 50)]
    groups = group_passages(ranked, 5, "merge")
    assert groups == [Group("a", 100, 450, (0, 2)), Group("a", 500, 700, (1,)), Group("a", 0, 50, (3,))]


def test_merge_keeps_touching_spans_and_other_documents_apart() -> None:
    ranked = [passage(0, 0, 100), passage(1, 100, 200), passage(2, 50, 150, doc_id="b")]
    assert [g.members for g in group_passages(ranked, 5, "merge")] == [(0,), (1,), (2,)]


def test_merge_chain_bridging_passage_joins_both_groups_at_the_better_rank() -> None:
    ranked = [passage(0, 300, 500), passage(1, 0, 200), passage(2, 150, 350), passage(3, 900, 950)]
    groups = group_passages(ranked, 3, "merge_chain")
    assert groups == [Group("a", 0, 500, (0, 1, 2)), Group("a", 900, 950, (3,))]


def test_merge_trims_a_bridging_passage_to_the_gap_between_results() -> None:
    ranked = [passage(0, 300, 500), passage(1, 0, 200), passage(2, 150, 350), passage(3, 900, 950)]
    groups = group_passages(ranked, 4, "merge")
    assert groups == [
        Group("a", 300, 500, (0,)),
        Group("a", 0, 200, (1,)),
        Group("a", 200, 300, (2,)),
        Group("a", 900, 950, (3,)),
    ]
    assert TEXT[200:300] == TEXT[200:300].strip()


def test_merge_holds_at_most_two_passages_and_trims_a_third() -> None:
    ranked = [passage(0, 100, 300), passage(1, 250, 450), passage(2, 400, 700), passage(3, 0, 120)]
    groups = group_passages(ranked, 5, "merge")
    assert groups[0] == Group("a", 100, 450, (0, 1))
    # Passage 2 keeps only what no result shows; passage 3's uncovered part (0..100) is long enough too.
    start, end = groups[1].start, groups[1].end
    assert 450 <= start < end <= 700 and groups[1].members == (2,)
    assert TEXT[start:end] == TEXT[start:end].strip()
    assert [g.members for g in groups[2:]] == [(3,)] and groups[2].end <= 100


def test_merge_drops_a_passage_that_adds_too_little() -> None:
    ranked = [passage(0, 0, 200), passage(1, 150, 400), passage(2, 100, 420)]
    assert [g.members for g in group_passages(ranked, 5, "merge")] == [(0, 1)]


def test_merge_fills_the_limit_with_distinct_results() -> None:
    ranked = [passage(0, 0, 100), passage(1, 50, 150), passage(2, 300, 400), passage(3, 600, 700)]
    groups = group_passages(ranked, 2, "merge")
    assert [(g.start, g.end) for g in groups] == [(0, 150), (300, 400)]


def test_merge_drops_a_trimmed_part_whose_text_a_result_shows() -> None:
    """A repetitive document trims passages to the same text at other offsets: it is shown once."""
    text = "Penguins huddle to stay warm. " * 80
    spans = [(0, 300), (270, 570), (1215, 1515), (1470, 1770), (540, 840), (1740, 2040), (2100, 2370)]
    ranked = [Passage(i, "a", start, end, text[start:end]) for i, (start, end) in enumerate(spans)]
    groups = group_passages(ranked, 10, "merge")
    # Passages 4 and 5 each overlap a full result; their uncovered parts are the same nine sentences,
    # and so is the whole of passage 6.
    assert [(g.start, g.end, g.members) for g in groups] == [
        (0, 570, (0, 1)),
        (1215, 1770, (2, 3)),
        (570, 839, (4,)),
    ]
    assert text[570:839] == text[1770:2039] == text[2100:2370].strip()
    shown = [normalized_text(text[g.start : g.end]) for g in groups]
    assert len(shown) == len(set(shown))


def test_same_text_in_another_document_is_kept() -> None:
    """Another document holding the same text is another source: both are results (a BEIR corpus judges
    them apart), whatever the rule."""
    copy = passage(1, 0, 100, doc_id="b", text=TEXT[0:100].upper() + "  ")
    for rule in DEDUP_RULES:
        assert [g.members for g in group_passages([passage(0, 0, 100), copy], 5, rule)] == [(0,), (1,)]
    assert not is_near_duplicate(passage(0, 0, 100), copy, 0.5)


def test_same_text_twice_in_one_document_is_dropped() -> None:
    text = "Penguins huddle to stay warm. " * 20
    first, again = Passage(0, "a", 0, 90, text[0:90]), Passage(1, "a", 300, 390, text[300:390])
    for rule in ("merge", "contained", "any_overlap"):
        assert [g.members for g in group_passages([first, again], 5, rule)] == [(0,)]
    assert len(group_passages([first, again], 5, "none")) == 2


def test_contained_drops_only_passages_mostly_inside_a_better_one() -> None:
    best, mostly_inside, quarter = passage(0, 0, 200), passage(1, 50, 240), passage(2, 150, 350)
    assert is_near_duplicate(best, mostly_inside, 0.5)
    assert not is_near_duplicate(best, quarter, 0.5)
    assert [g.members for g in group_passages([best, mostly_inside, quarter], 5, "contained")] == [(0,), (2,)]
    assert [g.members for g in group_passages([best, mostly_inside, quarter], 5, "any_overlap")] == [(0,)]
    assert len(group_passages([best, mostly_inside, quarter], 5, "none")) == 3


def test_unknown_rule() -> None:
    with pytest.raises(ValueError, match="merge"):
        group_passages([passage(0, 0, 10)], 1, "fuzzy")  # type: ignore[arg-type]


@pytest.mark.parametrize("rule", DEDUP_RULES)
def test_rules_on_real_chunk_overlap(rule: str) -> None:
    """Default chunking (120 words, 30 overlap): neighbours share whole sentences. Every rule returns
    results in rank order, at most the limit, and each group's span is a slice of the document."""
    document = Document("d", "t", TEXT * 3)
    passages = chunk_document(document, ChunkerSettings(120, 30))
    assert any(shared_chars(a, b) > 0 for a, b in itertools.pairwise(passages))
    ranked = passages[::-1]
    groups = group_passages(ranked, 4, rule)  # type: ignore[arg-type]
    assert 0 < len(groups) <= 4
    heads = [g.members[0] for g in groups]
    assert heads == sorted(heads)
    text = document.text
    for group in groups:
        assert text[group.start : group.end] == text[group.start : group.end].strip()
        members = [ranked[m] for m in group.members]
        whole = all(group.start <= p.start and p.end <= group.end for p in members)
        # merge may trim a passage to the part no better result shows: the span stays within its members.
        within = min(p.start for p in members) <= group.start and group.end <= max(p.end for p in members)
        assert whole or (rule == "merge" and within and all(group.overlaps(p) for p in members))
        assert rule != "merge" or len(group.members) <= 2
    if rule in ("merge", "merge_chain", "any_overlap"):
        for i, a in enumerate(groups):
            for b in groups[i + 1 :]:
                assert a.doc_id != b.doc_id or min(a.end, b.end) <= max(a.start, b.start)


@pytest.mark.parametrize("rule", ["merge", "merge_chain"])
def test_grouping_only_as_deep_as_asked_gives_the_groups_of_the_whole_ranking(rule: str) -> None:
    """MergeGrouping reads a ranking only as deep as the first n results need; on shuffled rankings of
    overlapping chunks of three documents (with a duplicate text), its first n results are those of
    grouping everything, for every n, asked in any order."""
    documents = [Document(d, "t", TEXT[i * 7 :] * 2) for i, d in enumerate("abc")]
    passages = [p for document in documents for p in chunk_document(document, ChunkerSettings(25, 10))]
    passages.append(Passage(len(passages), "z", 0, passages[0].end, passages[0].text))  # same text
    rng = np.random.default_rng(0)
    for _ in range(20):
        ranked = [passages[i] for i in rng.permutation(len(passages))]
        whole = group_passages(ranked, len(ranked), rule)  # type: ignore[arg-type]
        max_merged = MAX_MERGED if rule == "merge" else None
        grouping = MergeGrouping(ranked, max_merged, PassageLayout.of(ranked))
        for n in rng.permutation(len(whole) + 2) + 1:
            assert MergeGrouping(ranked, max_merged, PassageLayout.of(ranked)).groups(n) == whole[:n]
            assert grouping.groups(n) == whole[:n]
        assert grouping.count() == len(whole)
