"""The question tower's fit (eval.query_tower_fit) on a small real problem: questions of one disease asking
for a cause or a symptom, answers that state them, the real model. Training moves the questions toward
their own answers and away from the same disease's other answer, changes only the layers it trains, is
deterministic, and its delta rebuilds the tuned weights. Rewrites of a tiny benchmark's questions
(--extra-queries) are scored by the towers of their sources' folds, against their sources' qrels."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from eval.adapter_fit import AdapterProblem, ContrastiveLoss
from eval.cv import make_folds
from eval.query_tower_fit import TowerSettings, encode_with, fit_tower, tower_delta
from indexer.embedding import SentenceTransformerEncoder

DISEASES = ("glaucoma", "asthma", "gout", "eczema", "psoriasis", "anemia")
ANSWERS = (
    "{d} is caused by several factors; the causes of {d} include genes and the environment.",
    "The symptoms of {d} are the signs people notice first: what {d} feels like.",
)
QUESTIONS = ("What causes {d} ?", "What are the symptoms of {d} ?")


@pytest.fixture(scope="module")
def problem(encoder: SentenceTransformerEncoder) -> tuple[list[str], AdapterProblem]:
    """Question 2i+k asks disease i for answer kind k; its answer is passage 2i+k (one passage a document),
    the same disease's other answer its hard negative."""
    texts = [q.format(d=d) for d in DISEASES for q in QUESTIONS]
    passages = encoder.encode([a.format(d=d) for d in DISEASES for a in ANSWERS])
    rows = np.arange(len(texts))
    return texts, AdapterProblem(
        encoder.encode(texts),
        passages,
        rows.copy(),
        [np.asarray([r]) for r in rows],
        [np.asarray([r ^ 1]) for r in rows],
    )


def loss(model: object, texts: list[str], problem: AdapterProblem) -> float:
    return float(ContrastiveLoss(problem, 0.05)(encode_with(model, texts, grad=False)))


def test_training_lowers_the_loss_and_changes_only_the_trained_layers(
    encoder: SentenceTransformerEncoder, problem: tuple[list[str], AdapterProblem]
) -> None:
    texts, data = problem
    base = encoder._model
    settings = TowerSettings(layers=2, epochs=6, learning_rate=1e-4, batch_size=4)
    tower = fit_tower(base, texts, data, settings)
    assert loss(tower, texts, data) < 0.8 * loss(base, texts, data)
    delta = tower_delta(base, tower, settings.layers)
    assert delta and all(name.split(".")[2] in ("4", "5") for name in delta)
    assert all(change.dtype == np.float16 for change in delta.values())
    assert any(np.abs(change).max() > 0 for change in delta.values())
    # The base model is untouched (the tower is a copy), and layer 0 of the tower is the base's.
    tuned, original = tower[0].auto_model.state_dict(), base[0].auto_model.state_dict()
    name = "encoder.layer.0.attention.self.query.weight"
    assert bool((tuned[name] == original[name]).all())
    rebuilt = original[next(iter(delta))].float().numpy() + delta[next(iter(delta))].astype(np.float32)
    np.testing.assert_allclose(rebuilt, tuned[next(iter(delta))].float().numpy(), atol=1e-4)
    # Deterministic: the same settings give the same tower.
    again = tower_delta(base, fit_tower(base, texts, data, settings), settings.layers)
    assert all(np.array_equal(again[n], delta[n]) for n in delta)


def test_no_layers_is_the_model(
    encoder: SentenceTransformerEncoder, problem: tuple[list[str], AdapterProblem]
) -> None:
    texts, data = problem
    tower = fit_tower(encoder._model, texts, data, TowerSettings(layers=0))
    np.testing.assert_allclose(
        encode_with(tower, texts[:2], grad=False).numpy(), encoder.encode(texts[:2]), atol=1e-5
    )


# Rewritten questions (--extra-queries) scored in the CV beside their sources.

CAUSES = {
    "asthma": "inflamed airways; allergens, smoke and cold air trigger attacks",
    "gout": "uric acid crystals in the joints, raised by red meat and alcohol",
    "anemia": "too little iron, blood loss or chronic disease",
    "eczema": "a weak skin barrier and an overactive immune response to irritants",
}
SIGNS = {
    "asthma": "wheezing, coughing at night and a tight chest",
    "gout": "a sudden hot, red and very painful big toe",
    "anemia": "tiredness, pale skin and shortness of breath on the stairs",
    "eczema": "dry, itchy, red patches in the skin folds",
}
REWRITES = [  # (source, text, style): the first a verbatim copy of its source
    ("asthma_Q1", "What causes asthma ?", "copy"),
    ("gout_Q2", "my dad's big toe is swollen and red, what are the signs of gout", "relative"),
    ("anemia_Q1", "why would i have low iron in my blood", "lay-term"),
    ("eczema_Q2", "eczema symptoms itchy skin", "keywords"),
]


@pytest.fixture(scope="module")
def tiny_benchmark(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    """A BEIR folder of four diseases' cause and symptom pages (doc <d>_Sec1/2, question <d>_Q1/2), its
    benchmark_setup (an index built into a temporary folder), and a file of REWRITES."""
    from eval.adapter_fit import benchmark_setup
    from service.settings import Settings

    root = tmp_path_factory.mktemp("tiny-benchmark")
    corpus = [
        {"_id": f"{d}_Sec{k}", "title": d.capitalize(), "text": f"{d.capitalize()} {text}."}
        for d in CAUSES
        for k, text in ((1, f"is caused by {CAUSES[d]}"), (2, f"shows itself by {SIGNS[d]}"))
    ]
    queries = [
        {"_id": f"{d}_Q{k}", "text": text}
        for d in CAUSES
        for k, text in ((1, f"What causes {d} ?"), (2, f"What are the symptoms of {d} ?"))
    ]
    (root / "data" / "qrels").mkdir(parents=True)
    (root / "data" / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in corpus))
    (root / "data" / "queries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in queries))
    rows = "".join(f"{q['_id']}\t{q['_id'].replace('_Q', '_Sec')}\t1\n" for q in queries)
    (root / "data" / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + rows)
    rewrites = root / "rewrites.jsonl"
    lines = [
        {"_id": f"{source}_C", "text": text, "metadata": {"source_qid": source, "style": style}}
        for source, text, style in REWRITES
    ]
    rewrites.write_text("".join(json.dumps(r) + "\n" for r in lines))
    setup = benchmark_setup(Settings(), root / "data", root / "indexes", root / "cache")
    return setup, rewrites


@pytest.fixture
def tiny_rewrites(tiny_benchmark: tuple[Any, Path]) -> tuple[Any, Path, Any]:
    """The tiny benchmark's set-up, its file of REWRITES, and those rewrites loaded (fresh scores each
    test)."""
    from eval.query_tower_fit import load_rewrites

    setup, path = tiny_benchmark
    return setup, path, load_rewrites(path, setup.retrieval, setup.encoder)


def test_rewrites_are_scored_by_the_fold_of_their_source_against_its_qrels(
    tiny_rewrites: tuple[Any, Path, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import eval.query_tower_fit as fit

    setup, _, rewrites = tiny_rewrites
    retrieval = setup.retrieval
    assert rewrites.source_qids == [source for source, _, _ in REWRITES]
    assert rewrites.retrieval.qrels["gout_Q2_C"] == retrieval.qrels["gout_Q2"]
    # Every rewrite a tower encodes (outside its fit): none of the rewrites' sources trained it.
    towers: list[tuple[Any, set[str]]] = []
    encoded: list[tuple[Any, list[str]]] = []
    real_fit, real_encode = fit.fit_tower, fit.encode_with

    def fit_tower(base: Any, texts: Sequence[str], problem: AdapterProblem, settings: Any) -> Any:
        towers.append((real_fit(base, texts, problem, settings), set(texts)))
        return towers[-1][0]

    def encode_with(model: Any, texts: Sequence[str], grad: bool) -> Any:
        if not grad:  # not the fit's own training passes
            encoded.append((model, list(texts)))
        return real_encode(model, texts, grad)

    monkeypatch.setattr(fit, "fit_tower", fit_tower)
    monkeypatch.setattr(fit, "encode_with", encode_with)
    config = TowerSettings(layers=2, epochs=2, learning_rate=1e-4, batch_size=4)
    folds = make_folds(retrieval.qids, 2, 0)
    fit.cross_validate(
        setup.encoder._model, setup.problem, retrieval, folds, [config], lambda _m: None, (), rewrites
    )
    source_text = {text: retrieval.texts[retrieval.qids.index(s)] for s, text, _ in REWRITES}
    for tower, trained in towers:
        asked = [t for model, texts in encoded if model is tower for t in texts if t in source_text]
        assert asked and not {source_text[t] for t in asked} & trained
    assert sum(len(texts) for _, texts in encoded if set(texts) <= set(source_text)) == len(REWRITES)
    label = fit.config_label(config)
    assert list(rewrites.scores) == ["none", "adapter", label]
    everyone = set(rewrites.retrieval.qids) | set(rewrites.source_qids)
    for variant in rewrites.scores.values():
        for mode in ("hybrid", "dense"):
            assert all(set(variant[mode][metric]) == everyone for metric in fit.METRICS)
            # The verbatim copy is its source: same text, same fold's tower, same qrels.
            assert all(variant[mode][m]["asthma_Q1_C"] == variant[mode][m]["asthma_Q1"] for m in fit.METRICS)
    table = fit.rewrites_table(rewrites).splitlines()
    assert table[0].startswith("| variant | mode | metric | rewrites (n=4) |") and len(table) == 2 + 3 * 2 * 2
    assert table[2].startswith("| none | hybrid | ndcg@10 |") and "+0.0000 [+0.0000, +0.0000]" in table[2]
    styles = fit.styles_table(rewrites).splitlines()
    assert len(styles) == 2 + 2 * 2 * 4 and "| adapter | hybrid | copy | 1 |" in styles[2]


def test_rewrites_of_unknown_questions_are_refused(tiny_benchmark: tuple[Any, Path], tmp_path: Path) -> None:
    from eval.query_tower_fit import load_rewrites

    setup, _ = tiny_benchmark
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"_id": "x_C", "text": "x", "metadata": {"source_qid": "nope_Q1"}}) + "\n")
    with pytest.raises(ValueError, match="nope_Q1"):
        load_rewrites(bad, setup.retrieval, setup.encoder)


def test_training_rewrites_join_only_their_sources_training_folds(
    encoder: SentenceTransformerEncoder, problem: tuple[list[str], AdapterProblem], tmp_path: Path
) -> None:
    """A rewrite trains toward its source's documents, and only in folds that train on its source."""
    from eval.query_tower_fit import load_training_rewrites, training_questions

    texts, data = problem
    qids = [f"q{i}" for i in range(len(texts))]
    lines = [
        {"_id": f"q{i}_R", "text": f"why did i get {d}", "metadata": {"source_qid": f"q{i}"}}
        for i, d in zip(range(0, len(texts), 2), DISEASES, strict=True)
    ]
    path = tmp_path / "rewrites.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    extra = load_training_rewrites([path], qids)
    assert extra.sources.tolist() == list(range(0, len(texts), 2))
    train = np.asarray([0, 1, 2, 3, 5, 7, 9, 11])  # holds out causes questions 4, 6, 8 and 10
    trained_texts, trained = training_questions(texts, data, train, extra)
    assert trained_texts[len(train) :] == [lines[0]["text"], lines[1]["text"]]  # rewrites of 0 and 2 only
    assert [p.tolist() for p in trained.positives[len(train) :]] == [[0], [2]]
    assert [n.tolist() for n in trained.hard_negatives[len(train) :]] == [[1], [3]]
    plain_texts, plain = training_questions(texts, data, train, None)
    assert plain_texts == [texts[i] for i in train] and len(plain.positives) == len(train)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"_id": "x", "text": "t", "metadata": {"source_qid": "nope"}}) + "\n")
    with pytest.raises(ValueError, match="nope"):
        load_training_rewrites([bad], qids)


def test_towers_trained_on_rewrites_never_see_those_of_their_held_out_questions(
    tiny_rewrites: tuple[Any, Path, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import eval.query_tower_fit as fit

    setup, path, rewrites = tiny_rewrites
    retrieval = setup.retrieval
    extra = fit.load_training_rewrites([path], retrieval.qids)
    trained_on: list[set[str]] = []
    real_fit = fit.fit_tower

    def fit_tower(base: Any, texts: Sequence[str], problem: AdapterProblem, settings: Any) -> Any:
        trained_on.append(set(texts))
        return real_fit(base, texts, problem, settings)

    monkeypatch.setattr(fit, "fit_tower", fit_tower)
    config = TowerSettings(layers=2, epochs=1, learning_rate=1e-4, batch_size=4)
    folds = make_folds(retrieval.qids, 2, 0)
    fit.cross_validate(
        setup.encoder._model, setup.problem, retrieval, folds, [config], lambda _m: None, (), rewrites, extra
    )
    assert len(trained_on) == 2 * len(folds)  # each fold: without, then with the rewrites
    for number, test in enumerate(folds):
        held_sources = {retrieval.qids[int(i)] for i in test}
        without, with_rewrites = trained_on[2 * number], trained_on[2 * number + 1]
        own = {text for source, text, _ in REWRITES if source not in held_sources}
        assert with_rewrites - without == own - without
        held_rewrites = {text for source, text, _ in REWRITES if source in held_sources}
        assert not held_rewrites & (with_rewrites - without)
    label = fit.config_label(config)
    assert list(rewrites.scores) == ["none", "adapter", label, f"{label} + rewrites"]
    gain = fit.rewrites_gain_table(rewrites).splitlines()
    assert len(gain) == 2 + 2 * 2 and gain[2].startswith(f"| {label} | hybrid | ndcg@10 |")
