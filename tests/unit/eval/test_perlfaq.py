"""eval.perlfaq: the Perl FAQ's pages become a BEIR folder the evaluation loads, questions apart from
answers."""

from __future__ import annotations

from pathlib import Path

from eval.beir import load_beir_dataset
from eval.perlfaq import PAGES, UNANSWERABLE, entries, main, plain
from eval.seed_set import load_eval_set

PAGE = """=head1 NAME

perlfaq4 - Data Manipulation

=head1 DESCRIPTION

This section of the FAQ answers questions related to manipulating numbers.

=head2 How do I sort a hash (optionally by value instead of key)?

(contributed by brian d foy)

To sort a hash, start with the keys. Use C<sort> with a block, see
L<perlfunc/"sort"> and L<the sort page|perlfunc/sort>, and B<never> C<< $a <=> $b >> blindly E<lt>here E<gt>.

=over 4

=item *

Keys first.

=back

    my @keys = sort { $hash{$a} <=> $hash{$b} } keys %hash;

=head2 Short?

Too short.

=head2 Why is int() broken?

Your C<int()> is most probably working just fine.

=head1 AUTHOR AND COPYRIGHT

Copyright (c) 1997-2010 Tom Christiansen.
"""


def test_plain_reduces_formatting_codes_and_commands_to_their_text() -> None:
    text = plain(PAGE.split("=head2", 2)[1])
    assert "C<" not in text and "L<" not in text and "=item" not in text and "=over" not in text
    sentence = 'see perlfunc "sort" and the sort page, and never $a <=> $b blindly <here >.'
    assert sentence in " ".join(text.split())
    assert "Keys first." in text
    assert "    my @keys = sort { $hash{$a} <=> $hash{$b} } keys %hash;" in text  # verbatim code kept


def test_every_question_of_every_page_becomes_a_query_judged_against_its_own_answer(tmp_path: Path) -> None:
    pods = tmp_path / "pod"
    pods.mkdir()
    for page in PAGES:
        (pods / f"{page}.pod").write_text(PAGE.replace("perlfaq4", page), encoding="utf-8")
    found = list(entries(pods))
    # Two questions a page: "Short?" has an answer under five words and is skipped.
    assert len(found) == 2 * len(PAGES)
    first = found[0]
    assert (first.doc_id, first.topic) == ("perlfaq1-001", "Data Manipulation")
    assert first.question == "How do I sort a hash (optionally by value instead of key)?"
    assert first.question not in first.answer  # the corpus never holds its questions
    assert "Copyright" not in found[-1].answer  # the page's trailing sections are no answer

    out = tmp_path / "perlfaq"
    assert main(["--pods", str(pods), "--out", str(out)]) == 0
    dataset = load_beir_dataset(out)
    assert len(dataset.corpus) == len(dataset.queries) == 2 * len(PAGES)
    assert dataset.qrels["perlfaq9-003-q"] == {"perlfaq9-003": 1}
    assert dataset.queries["perlfaq9-003-q"].text == "Why is int() broken?"
    by_id = {d.doc_id: d for d in dataset.corpus}
    assert by_id["perlfaq9-003"].title == "Data Manipulation"
    assert by_id["perlfaq9-003"].text == "Your int() is most probably working just fine."

    questions = load_eval_set(out / "questions.jsonl")
    answerable = [q for q in questions if q.answerable]
    assert [q.question for q in answerable] == [q.text for q in dataset.queries.values()]
    # The gold quote is the answer's first sentence, past the credit line, and a slice of its document.
    assert answerable[0].gold == ("To sort a hash, start with the keys.",)
    assert all(q.gold[0] in by_id[q.doc_id].text for q in answerable)
    unanswerable = [q for q in questions if not q.answerable]
    assert [q.question for q in unanswerable] == [q.question for q in load_eval_set(UNANSWERABLE)]
    assert {q.kind for q in unanswerable} == {"near_miss", "off_topic"}


def test_the_faq_as_pages_puts_each_question_before_its_answer(tmp_path: Path) -> None:
    pods = tmp_path / "pod"
    pods.mkdir()
    for page in PAGES:
        (pods / f"{page}.pod").write_text(PAGE.replace("perlfaq4", page), encoding="utf-8")
    assert main(["--pods", str(pods), "--out", str(tmp_path / "perlfaq")]) == 0
    pages = load_beir_dataset(tmp_path / "perlfaq-pages")
    assert [d.doc_id for d in pages.corpus] == list(PAGES)
    text = pages.corpus[-1].text
    assert text.startswith("How do I sort a hash (optionally by value instead of key)?\n\n(contributed by")
    assert "\n\nWhy is int() broken?\n\nYour int() is most probably working just fine." in text
    assert pages.qrels["perlfaq9-003-q"] == {"perlfaq9": 1}
    questions = [q for q in load_eval_set(tmp_path / "perlfaq-pages" / "questions.jsonl") if q.answerable]
    assert questions[0].doc_id == "perlfaq1"
    assert questions[0].gold == ("To sort a hash, start with the keys.",)
    assert all(q.gold[0] in {d.doc_id: d.text for d in pages.corpus}[q.doc_id] for q in questions)
