"""The ONNX Runtime encoder: exported once from the local model into the cache folder, vectors close to
the torch encoder's (fp32: the same up to rounding; int8: close), and the backend and thread settings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from eval.encode_cost import IDLE_ROUNDS, idle_cpu_ms
from indexer.backends import default_threads, make_encoder
from indexer.embedding import SentenceTransformerEncoder
from indexer.onnx_encoder import (
    INT8_FILE,
    OLD_INT8_FILES,
    OnnxEncoder,
    onnx_export_pending,
    onnx_model_file,
)

TEXTS = [
    "what are milia",
    "Milia are small, white bumps that appear on the nose, chin or cheeks.",
    "how do i get rid of acne scars fast without seeing a dermatologist",
]


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx")


# int8: a scale per weight column gives these texts 0.994-0.995 (one scale per weight tensor, the recipe
# before, 0.967-0.970, which 0.98 refuses).
@pytest.mark.parametrize(("backend", "least_cosine"), [("onnx", 0.9999), ("onnx-int8", 0.98)])
def test_vectors_match_the_torch_encoder(
    encoder: SentenceTransformerEncoder, onnx_cache: Path, backend: str, least_cosine: float
) -> None:
    onnx = OnnxEncoder(encoder.name, backend, onnx_cache)  # type: ignore[arg-type]
    vectors = onnx.encode(TEXTS, batch_size=2)  # two batches of different padding
    assert vectors.shape == (len(TEXTS), encoder.dimension) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    cosines = np.sum(vectors * encoder.encode(TEXTS), axis=1)
    assert cosines.min() >= least_cosine, cosines
    # One text alone gets the vector it gets in a padded batch (int8: activations are quantized with the
    # ranges of the whole batch, so only nearly: 0.994).
    alone = onnx.encode(TEXTS[:1])[0]
    assert float(alone @ vectors[0]) >= (0.99999 if backend == "onnx" else 0.98)


def test_the_model_is_exported_once(encoder: SentenceTransformerEncoder, onnx_cache: Path) -> None:
    first = onnx_model_file(encoder.name, "onnx", onnx_cache)
    stamp = first.stat().st_mtime_ns
    again = onnx_model_file(encoder.name, "onnx", onnx_cache)
    assert again == first and again.stat().st_mtime_ns == stamp
    assert [p.name for p in first.parent.iterdir() if p.name.startswith(".")] == []  # no temporary left


def test_an_int8_file_of_the_old_recipe_is_quantized_again(
    encoder: SentenceTransformerEncoder, tmp_path: Path
) -> None:
    """The int8 file's name says its recipe: a cache holding the per-tensor file of before is not served
    it (nor told it has nothing to export), and loses it once the new file is written."""
    fp32 = onnx_model_file(encoder.name, "onnx", tmp_path)
    old = fp32.parent / OLD_INT8_FILES[0]
    old.write_bytes(b"the int8 model of an older recipe")
    assert onnx_export_pending(encoder.name, "onnx-int8", tmp_path) == fp32.parent
    int8 = onnx_model_file(encoder.name, "onnx-int8", tmp_path)
    assert int8.name == INT8_FILE and int8 != old and not old.exists()
    assert onnx_export_pending(encoder.name, "onnx-int8", tmp_path) is None


def test_threads_share_the_cores_among_workers() -> None:
    assert default_threads(workers=1, cores=2) == 2
    assert default_threads(workers=2, cores=2) == 1
    assert default_threads(workers=3, cores=2) == 1
    assert default_threads(workers=2, cores=8) == 4


def test_make_encoder_picks_the_backend(encoder: SentenceTransformerEncoder, onnx_cache: Path) -> None:
    made = make_encoder(encoder.name, "onnx", threads=1, onnx_cache=onnx_cache)
    assert isinstance(made, OnnxEncoder) and made.name == encoder.name


def test_pool_threads_can_stop_spinning_between_questions(
    encoder: SentenceTransformerEncoder, onnx_cache: Path
) -> None:
    """ONNX Runtime's default keeps its pool threads spinning after a run: a service answering a question
    every 10 ms burned a whole core between them (200 ms of CPU in 200 ms of waiting); stopped, about 1 ms."""
    onnx = OnnxEncoder(encoder.name, "onnx", onnx_cache, threads=2, spin_between_runs=False)
    onnx.encode(["warm up"])
    idle_cpu = idle_cpu_ms(onnx, [f"what are milia {number}" for number in range(IDLE_ROUNDS)]) / 1000
    assert idle_cpu < 0.04, f"{idle_cpu * 1000:.1f} ms of CPU while waiting 200 ms between questions"


@pytest.mark.parametrize(("spin", "stopped"), [(True, False), (False, True)])
def test_the_service_setting_reaches_the_session(spin: bool, stopped: bool) -> None:
    """CITEQA_ENCODER_SPIN is read once, at the edge, and becomes the ONNX session's option."""
    from service.settings import Settings
    from service.wiring import build_encoder

    encoder = build_encoder(Settings(encoder_spin=spin))
    while not isinstance(encoder, OnnxEncoder):  # under the question cache and the micro-batcher
        encoder = encoder.inner  # type: ignore[attr-defined]
    options = encoder._session.get_session_options()
    try:
        found = options.get_session_config_entry("session.force_spinning_stop") == "1"
    except RuntimeError:  # not set: ONNX Runtime's default (spinning)
        found = False
    assert found is stopped


@pytest.mark.parametrize(("threads", "twin_threads"), [(2, 1), (1, None)])
def test_batches_under_load_run_on_one_thread_with_the_same_vectors(
    threads: int, twin_threads: int | None
) -> None:
    """With more than one encoder thread, the question batcher makes a one-thread twin of the model for
    batches (under load); its vectors are those of the encoder of lone questions."""
    from indexer.batching_encoder import BatchingEncoder
    from service.settings import Settings
    from service.wiring import build_encoder

    batcher = build_encoder(Settings(threads=threads)).inner  # type: ignore[attr-defined]
    assert isinstance(batcher, BatchingEncoder)
    twin = batcher._encoder_for(len(TEXTS))
    if twin_threads is None:
        assert twin is batcher.inner
        return
    assert isinstance(twin, OnnxEncoder) and twin is not batcher.inner
    assert twin._session.get_session_options().intra_op_num_threads == twin_threads
    np.testing.assert_allclose(twin.encode(TEXTS), batcher.inner.encode(TEXTS), atol=1e-5)
