"""The question tower (citeqa.question_tower): checked against its model and its checksum, made once into
a model folder whose weights are the model's plus the delta, on by default for the default model only,
and the vector that encodes the service's questions (retrieval and the answer layer), citations exact."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from citeqa.question_tower import (
    DEFAULT_QUESTION_TOWER_PATH,
    DELTA_FILE,
    SIDECAR_FILE,
    WEIGHTS_FILE,
    QuestionTowerError,
    load_question_tower,
    tower_model,
    tower_model_folder,
)
from citeqa.search import Searcher
from citeqa.types import SEARCH_MODES
from eval.query_tower_fit import write_tower
from indexer.embedding import DEFAULT_MODEL, SentenceTransformerEncoder, resolve_model_path
from indexer.load import LoadedIndex
from service.settings import Settings

LAYER = "encoder.layer.5.output.dense.weight"


def small_tower(folder: Path, model: str = DEFAULT_MODEL, scale: float = 0.01) -> Path:
    """A tower that changes one matrix of the top layer by seeded noise."""
    base = load_file(str(Path(resolve_model_path(DEFAULT_MODEL)) / WEIGHTS_FILE))
    noise = np.random.default_rng(0).normal(scale=scale, size=base[LAYER].shape).astype(np.float16)
    return write_tower(folder, {LAYER: noise}, {"model": model, "command": "test"})


def test_the_model_folder_holds_the_model_plus_the_delta_and_is_made_once(tmp_path: Path) -> None:
    tower = load_question_tower(small_tower(tmp_path / "tower"), DEFAULT_MODEL)
    folder = tower_model_folder(tower, tmp_path / "cache")
    base = load_file(str(Path(resolve_model_path(DEFAULT_MODEL)) / WEIGHTS_FILE))
    delta = load_file(str(tmp_path / "tower" / DELTA_FILE))
    tuned = load_file(str(folder / WEIGHTS_FILE))
    assert set(tuned) == set(base)
    np.testing.assert_array_equal(tuned[LAYER], base[LAYER] + delta[LAYER].astype(np.float32))
    untouched = "encoder.layer.0.output.dense.weight"
    np.testing.assert_array_equal(tuned[untouched], base[untouched])
    assert (folder / "tokenizer.json").exists() and (folder / "modules.json").exists()
    assert (folder / SIDECAR_FILE).exists()
    written = (folder / WEIGHTS_FILE).stat().st_mtime_ns
    assert tower_model_folder(tower, tmp_path / "cache") == folder
    assert (folder / WEIGHTS_FILE).stat().st_mtime_ns == written  # reused, not written again
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [folder.name]  # no staging folder left


def test_the_tuned_folder_encodes_differently_from_the_model(tmp_path: Path) -> None:
    tower = load_question_tower(small_tower(tmp_path / "tower", scale=0.05), DEFAULT_MODEL)
    tuned = SentenceTransformerEncoder(str(tower_model_folder(tower, tmp_path / "cache")))
    plain = SentenceTransformerEncoder(DEFAULT_MODEL)
    question = ["can milia turn up on a babys skin"]
    a, b = tuned.encode(question)[0], plain.encode(question)[0]
    assert np.isclose(np.linalg.norm(a), 1.0, atol=1e-5)
    assert 0.5 < float(a @ b) < 0.9999


def test_refused_for_another_model_a_changed_delta_or_missing_files(tmp_path: Path) -> None:
    other = small_tower(tmp_path / "other", model="sentence-transformers/all-mpnet-base-v2")
    with pytest.raises(QuestionTowerError, match=r"all-mpnet-base-v2.*not the configured.*all-MiniLM-L6-v2"):
        load_question_tower(other, DEFAULT_MODEL)
    folder = small_tower(tmp_path / "tower")
    save_file({LAYER: np.zeros((384, 1536), np.float16)}, str(folder / DELTA_FILE))
    with pytest.raises(QuestionTowerError, match="does not match its sidecar"):
        load_question_tower(folder, DEFAULT_MODEL)
    with pytest.raises(QuestionTowerError, match="cannot read question tower"):
        load_question_tower(tmp_path / "missing", DEFAULT_MODEL)


def test_refused_when_tuned_from_other_weights_of_the_model(tmp_path: Path) -> None:
    folder = small_tower(tmp_path / "tower")
    meta = json.loads((folder / SIDECAR_FILE).read_text())
    (folder / SIDECAR_FILE).write_text(json.dumps({**meta, "base_sha256": "0" * 64}))
    with pytest.raises(QuestionTowerError, match="tuned from other weights"):
        tower_model_folder(load_question_tower(folder, DEFAULT_MODEL), tmp_path / "cache")


def test_packaged_tower_is_the_default_for_its_model_only(
    tmp_path: Path,
    app_settings: Settings,
    encoder: SentenceTransformerEncoder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from service.wiring import build_question_encoder, build_searcher

    assert Settings.model_fields["question_tower_path"].default == DEFAULT_QUESTION_TOWER_PATH
    assert tower_model(DEFAULT_QUESTION_TOWER_PATH) == DEFAULT_MODEL
    monkeypatch.setenv("CITEQA_QUESTION_TOWER_PATH", "")
    assert Settings().question_tower_path is None
    off = build_searcher(app_settings.model_copy(update={"question_tower_path": None}), encoder)
    assert off.question_encoder is off.encoder
    other = app_settings.model_copy(update={"model": "some/other-model"})
    assert build_question_encoder(other, encoder) is encoder
    refused = small_tower(tmp_path / "tower", model="some/other-model")
    with pytest.raises(QuestionTowerError, match="tuned from model 'some/other-model'"):
        build_searcher(app_settings.model_copy(update={"question_tower_path": refused}), encoder)


def test_the_service_encodes_questions_by_the_tower_and_passages_by_the_model(
    searcher: Searcher, encoder: SentenceTransformerEncoder
) -> None:
    """The default searcher: the question's vector is the tower's (not the model's), dense retrieval
    scores passages by it, and the encoder of passages is the model's."""
    assert searcher.question_encoder is not searcher.encoder
    question = "how do you get rid of milia"
    vector = searcher.encode_question(question)
    plain = encoder.encode([question])[0]
    assert float(vector @ plain) < 0.995  # another vector than the model's
    assert np.isclose(np.linalg.norm(vector), 1.0, atol=1e-4)
    hits = searcher.search(question, top_k=5, mode="dense")
    stored = searcher.index.dense.vectors(np.asarray([h.passage.passage_id for h in hits], dtype=np.int64))
    np.testing.assert_allclose([h.score for h in hits], stored @ vector, rtol=1e-4, atol=1e-5)
    # Passages and sentences (and writes) are encoded by the model itself.
    np.testing.assert_allclose(searcher.encoder.encode([question])[0], plain, atol=2e-3)


@pytest.mark.parametrize("mode", SEARCH_MODES)
def test_tower_search_returns_exact_citations(
    searcher: Searcher, loaded_index: LoadedIndex, mode: str
) -> None:
    hits = searcher.search("can milia turn up on a babys skin", top_k=5, mode=mode)  # type: ignore[arg-type]
    assert hits and [h.rank for h in hits] == list(range(1, len(hits) + 1))
    for hit in hits:
        document = loaded_index.documents[hit.citation.doc_id]
        assert document.text[hit.citation.start : hit.citation.end] == hit.passage.text


def test_a_copied_tower_folder_works_from_anywhere(tmp_path: Path) -> None:
    """The packaged tower is two files; a copy elsewhere is the same tower (same checksum, same folder)."""
    copy = tmp_path / "copy"
    shutil.copytree(DEFAULT_QUESTION_TOWER_PATH, copy)
    packaged = load_question_tower(DEFAULT_QUESTION_TOWER_PATH, DEFAULT_MODEL)
    copied = load_question_tower(copy, DEFAULT_MODEL)
    assert copied.checksum == packaged.checksum
    assert (
        tower_model_folder(copied, tmp_path / "cache").name
        == tower_model_folder(packaged, tmp_path / "cache").name
    )


def test_a_calibration_fitted_with_other_question_vectors_is_warned_of(
    tmp_path: Path, app_settings: Settings, searcher: Searcher, capsys: pytest.CaptureFixture[str]
) -> None:
    """A threshold set on one encoder's scores does not hold for another's: the packaged calibration was
    fitted with the tower's questions (no warning); one fitted with the model's, or written before the
    tower (no record), is used with a warning that says how to refit."""
    from citeqa.answerability import DEFAULT_CALIBRATION_PATH
    from service.wiring import build_calibration, question_side_of

    side = question_side_of(searcher)
    packaged = load_question_tower(DEFAULT_QUESTION_TOWER_PATH, DEFAULT_MODEL)
    assert side == f"question tower {packaged.checksum[:16]}"
    model = searcher.index.model_name
    build_calibration(app_settings, searcher.index.path, model, side)
    assert "warning" not in capsys.readouterr().err
    record = json.loads(Path(DEFAULT_CALIBRATION_PATH).read_text())
    assert record["fitted_on"]["question_encoder"] == side
    for recorded in ("the model", None):
        fitted_on = {k: v for k, v in record["fitted_on"].items() if k != "question_encoder"}
        if recorded is not None:
            fitted_on["question_encoder"] = recorded
        path = tmp_path / "calibration.json"
        path.write_text(json.dumps({**record, "fitted_on": fitted_on}))
        settings = app_settings.model_copy(update={"calibration_path": path})
        build_calibration(settings, searcher.index.path, model, side)
        said = capsys.readouterr().err
        assert f"fitted with questions encoded by the model, and this service encodes them by {side}" in said
        assert "citeqa eval --calibrate" in said
    build_calibration(settings, searcher.index.path, model, "the model")  # the tower off: it matches
    assert "warning" not in capsys.readouterr().err


def test_an_answer_model_fitted_with_other_question_vectors_is_warned_of(
    tmp_path: Path, app_settings: Settings, searcher: Searcher, capsys: pytest.CaptureFixture[str]
) -> None:
    """The answer choice's weights were set on one encoder's cosines: the packaged model records the tower
    (no warning); one fitted with the model's, or without the record, is used with a warning."""
    from citeqa.answer_model import DEFAULT_ANSWER_MODEL_PATH
    from service.wiring import build_answer_model, question_side_of

    side = question_side_of(searcher)
    record = json.loads(Path(DEFAULT_ANSWER_MODEL_PATH).read_text())
    assert record["report"]["question_encoder"] == side
    packaged = app_settings.model_copy(update={"answer_model_path": DEFAULT_ANSWER_MODEL_PATH})
    assert build_answer_model(packaged, side) is not None
    assert "warning" not in capsys.readouterr().err
    for recorded in ("the model", None):
        report = {k: v for k, v in record["report"].items() if k != "question_encoder"}
        if recorded is not None:
            report["question_encoder"] = recorded
        path = tmp_path / "answer_model.json"
        path.write_text(json.dumps({**record, "report": report}))
        build_answer_model(app_settings.model_copy(update={"answer_model_path": path}), side)
        said = capsys.readouterr().err
        assert f"fitted with questions encoded by the model, and this service encodes them by {side}" in said
        assert "python -m eval.answer_fit" in said
    assert build_answer_model(app_settings.model_copy(update={"answer_model_path": None}), side) is None


def test_a_damaged_folder_and_old_staging_are_made_good(tmp_path: Path) -> None:
    """A model folder without weights (partly deleted) is made again, not a start-up crash; a staging
    folder a dead process left an hour ago is removed; a fresh one (another process at work) is kept."""
    import os
    import time

    tower = load_question_tower(small_tower(tmp_path / "tower"), DEFAULT_MODEL)
    cache = tmp_path / "cache"
    folder = tower_model_folder(tower, cache)
    (folder / WEIGHTS_FILE).unlink()
    old = cache / f".{folder.name}.tmp-dead"
    fresh = cache / f".{folder.name}.tmp-busy"
    old.mkdir()
    fresh.mkdir()
    hours_ago = time.time() - 7200
    os.utime(old, (hours_ago, hours_ago))
    assert tower_model_folder(tower, cache) == folder and (folder / WEIGHTS_FILE).exists()
    assert not old.exists() and fresh.exists()


def test_an_unwritable_cache_is_a_clear_error(tmp_path: Path) -> None:
    tower = load_question_tower(small_tower(tmp_path / "tower"), DEFAULT_MODEL)
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    with pytest.raises(
        QuestionTowerError, match=r"cannot make the question tower's model folder.*CITEQA_ONNX"
    ):
        tower_model_folder(tower, blocked)


def test_an_unreadable_packaged_tower_is_an_error_not_silently_off(
    tmp_path: Path,
    app_settings: Settings,
    encoder: SentenceTransformerEncoder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import service.wiring as wiring

    packaged = tmp_path / "question_tower"
    shutil.copytree(DEFAULT_QUESTION_TOWER_PATH, packaged)
    (packaged / SIDECAR_FILE).unlink()
    monkeypatch.setattr(wiring, "DEFAULT_QUESTION_TOWER_PATH", packaged.resolve())
    with pytest.raises(QuestionTowerError, match="cannot read question tower"):
        wiring.build_question_encoder(
            app_settings.model_copy(update={"question_tower_path": packaged}), encoder
        )


def test_the_answer_identity_names_the_tower_alike_on_every_machine(
    answerer: object,
    capsys: pytest.CaptureFixture[str],
    app_settings: Settings,
    encoder: SentenceTransformerEncoder,
) -> None:
    """What ETags key on names the tower by its checksum, not by the cache folder it was made into; an
    adapter over the tower is allowed, with a warning."""
    from citeqa.query_adapter import DEFAULT_QUERY_ADAPTER_PATH
    from service.wiring import build_searcher

    packaged = load_question_tower(DEFAULT_QUESTION_TOWER_PATH, DEFAULT_MODEL)
    assert answerer.settings_view()["question_encoder"] == f"question tower {packaged.checksum[:16]}"  # type: ignore[attr-defined]
    capsys.readouterr()
    build_searcher(
        app_settings.model_copy(update={"query_adapter_path": DEFAULT_QUERY_ADAPTER_PATH}), encoder
    )
    assert "warning: the query adapter" in capsys.readouterr().err
    build_searcher(app_settings, encoder)
    assert "warning: the query adapter" not in capsys.readouterr().err
