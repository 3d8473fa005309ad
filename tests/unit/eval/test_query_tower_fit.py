"""The question tower's fit (eval.query_tower_fit) on a small real problem: questions of one disease asking
for a cause or a symptom, answers that state them, the real model. Training moves the questions toward
their own answers and away from the same disease's other answer, changes only the layers it trains, is
deterministic, and its delta rebuilds the tuned weights."""

from __future__ import annotations

import numpy as np
import pytest

from eval.adapter_fit import AdapterProblem, ContrastiveLoss
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
