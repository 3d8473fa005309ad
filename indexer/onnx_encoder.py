"""The encoder on ONNX Runtime: the sentence-transformers model (transformer, mean pooling, L2 normalize)
exported ONCE to ONNX from the local model into a cache folder, and an int8 dynamically quantized variant.

sentence-transformers' own ``backend="onnx"`` needs optimum-onnx, whose only release (0.1.0) pins
transformers < 4.58 while sentence-transformers 6.2 needs transformers 5: so the export is done here with
``torch.onnx.export`` (the TorchScript exporter) and the quantization with
``onnxruntime.quantization.quantize_dynamic``, the same two steps optimum runs.

Layout: CACHE/<model-slug>-<hash>/model.onnx and INT8_FILE, where the hash covers the model name
and the size and modification time of its files, so a changed model is exported again and an unchanged
one never is. Files are written to a temporary name and moved into place (a crash leaves no half file).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np

from indexer.embedding import resolve_model_path
from indexer.errors import EncoderError, disk_refusal

Backend = Literal["torch", "onnx", "onnx-int8"]
BACKENDS: tuple[Backend, ...] = get_args(Backend)
DEFAULT_ONNX_CACHE = Path("var/cache/onnx")
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OPSET = 17


def model_fingerprint(name: str, path: Path) -> str:
    """A folder name for the exports of one model: readable, and changing whenever its files change."""
    digest = hashlib.sha256(name.encode())
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        stat = file.stat()
        digest.update(f"{file.relative_to(path)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_")[-60:]
    return f"{readable}-{digest.hexdigest()[:16]}"


def check_pipeline(path: Path) -> int:
    """The max sequence length, after checking the model is transformer + mean pooling (+ normalize)."""
    modules = json.loads((path / "modules.json").read_text(encoding="utf-8"))
    kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
    pooling = json.loads((path / modules[1]["path"] / "config.json").read_text(encoding="utf-8"))
    if kinds[:2] != ["Transformer", "Pooling"] or not pooling.get("pooling_mode_mean_tokens"):
        raise EncoderError(f"the ONNX backend supports transformer + mean pooling models; {path} has {kinds}")
    config = json.loads((path / "sentence_bert_config.json").read_text(encoding="utf-8"))
    return int(config.get("max_seq_length", 256))


def _replace_atomic(write: Any, target: Path) -> None:
    temporary = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        write(temporary)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def export_onnx(model_path: Path, target: Path) -> None:
    """Export transformer + mean pooling + normalize of a sentence-transformers folder to ``target``."""
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_path), device="cpu")

    class Pipeline(torch.nn.Module):
        def __init__(self, transformer: torch.nn.Module) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.transformer(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    sample = model.tokenizer(["an example", "a second, longer example"], padding=True, return_tensors="pt")
    axes = {name: {0: "batch", 1: "tokens"} for name in INPUTS} | {"sentence_embedding": {0: "batch"}}

    def write(path: Path) -> None:
        # The tracer warns about every shape test of the model's Python code (TracerWarning) and the
        # exporter about how it spells advanced indexing: said on every export, about nothing to act on.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            warnings.filterwarnings("ignore", message="Exporting aten::index operator", category=UserWarning)
            torch.onnx.export(
                Pipeline(model[0].auto_model).eval(),
                tuple(sample[name] for name in INPUTS),
                str(path),
                input_names=list(INPUTS),
                output_names=["sentence_embedding"],
                dynamic_axes=axes,
                opset_version=OPSET,
                dynamo=False,
            )

    _replace_atomic(write, target)


# The int8 file is named after its recipe, so that a cache made by an older recipe is quantized again
# instead of served; files of older recipes are removed when the new one is written.
INT8_FILE = "model.int8-per-channel-matmul.onnx"
OLD_INT8_FILES = ("model.int8.onnx",)  # the first recipe: one scale per weight tensor


def quantize_int8(source: Path, target: Path) -> None:
    """Dynamic int8 quantization of the MatMuls with constant weights: weights int8 with a scale per output
    column (per_channel), activations uint8 with one range per run (quantized at run time); the embedding
    tables (Gather) and the attention products (no constant weight) stay float32.

    One scale per weight tensor (the quantize_dynamic default) gave question vectors at a cosine of only
    0.96 to the float32 model's (0.93 at worst; the question tower on the seed questions and 300 medquad-dev
    queries) and lost retrieval quality; a scale per column gives 0.994 (0.989 at worst) at the same speed,
    and keeping the embedding tables float32 costs nothing. Of the other options measured, reduce_range and
    asymmetric weights scored lower, uint8 weights were slower, and float32 for some or all of the FFN
    output projections bought at most 0.003 of cosine for up to twice the time, with no measurable gain in
    retrieval (README, Performance)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    def write(path: Path) -> None:
        quantize_dynamic(
            str(source),
            str(path),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul"],
        )

    _replace_atomic(write, target)
    for old in OLD_INT8_FILES:
        (target.parent / old).unlink(missing_ok=True)


def onnx_export_pending(name: str, backend: Backend, cache: Path = DEFAULT_ONNX_CACHE) -> Path | None:
    """The folder that onnx_model_file will export (or quantize) model ``name`` into for ``backend``, or
    None when that is cached already (or the model cannot be found: loading it says why)."""
    path = Path(resolve_model_path(name))
    if not path.is_dir():
        return None
    try:
        folder = Path(cache) / model_fingerprint(name, path)
    except OSError:
        return None
    wanted = folder / ("model.onnx" if backend == "onnx" else INT8_FILE)
    return None if wanted.exists() else folder


def onnx_model_file(name: str, backend: Backend, cache: Path = DEFAULT_ONNX_CACHE) -> Path:
    """The ONNX file of model ``name`` for ``backend``, exported (and quantized) only if not cached yet."""
    path = Path(resolve_model_path(name))
    check_pipeline(path)
    folder = Path(cache) / model_fingerprint(name, path)
    folder.mkdir(parents=True, exist_ok=True)
    fp32 = folder / "model.onnx"
    if not fp32.exists():
        export_onnx(path, fp32)
    if backend == "onnx":
        return fp32
    int8 = folder / INT8_FILE
    if not int8.exists():
        quantize_int8(fp32, int8)
    return int8


# ONNX Runtime's pool threads keep spinning for a while after every run. On a dedicated machine that is
# worth it: the next question's run starts at once (about 10% more throughput under load, measured with
# eval.load_bench). On a shared one it burns a core between questions (about 3-4 ms of CPU per question,
# eval.encode_cost), so it can be stopped when a run returns.
STOP_SPIN_AFTER_RUN = {"session.force_spinning_stop": "1"}


def session_options(threads: int, spin_between_runs: bool = True) -> Any:
    """onnxruntime SessionOptions: ``threads`` intra-op threads; unless ``spin_between_runs``, they stop
    spinning when a run returns (see STOP_SPIN_AFTER_RUN)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, threads)
    options.inter_op_num_threads = 1
    for key, value in ({} if spin_between_runs else STOP_SPIN_AFTER_RUN).items():
        options.add_session_config_entry(key, value)
    return options


class OnnxEncoder:
    """The sentence-transformers model on ONNX Runtime (CPU), ``threads`` intra-op threads (spinning
    between runs unless ``spin_between_runs`` is false, see session_options)."""

    def __init__(
        self,
        name: str,
        backend: Backend = "onnx",
        cache: Path = DEFAULT_ONNX_CACHE,
        threads: int = 1,
        spin_between_runs: bool = True,
    ) -> None:
        if backend not in ("onnx", "onnx-int8"):
            raise EncoderError(f"unknown ONNX backend {backend!r}; use onnx or onnx-int8")
        import onnxruntime as ort
        from transformers import AutoTokenizer

        path = Path(resolve_model_path(name))
        try:
            self.max_length = check_pipeline(path)
            self.file = onnx_model_file(name, backend, cache)
            self._tokenizer = AutoTokenizer.from_pretrained(str(path))
        except (OSError, ValueError, KeyError) as err:
            if (reason := disk_refusal(err)) is not None:  # the export, on a full disk: nothing half-written
                raise EncoderError(
                    f"cannot export {name} to ONNX ({backend}) into {cache}: the disk refused a write "
                    f"({reason}); free space on its disk and run the command again"
                ) from None
            raise EncoderError(f"cannot load embedding model {name!r} for {backend}: {err}") from None
        options = session_options(threads, spin_between_runs)
        self._session = ort.InferenceSession(str(self.file), options, providers=["CPUExecutionProvider"])
        self.name, self.backend = name, backend
        self.dimension = int(self._session.get_outputs()[0].shape[1] or self.encode(["x"]).shape[1])

    @property
    def tokenizer(self) -> Any:
        return self._tokenizer

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        batches = [
            self._run(list(texts[begin : begin + batch_size])) for begin in range(0, len(texts), batch_size)
        ]
        if not batches:
            return np.empty((0, getattr(self, "dimension", 0)), dtype=np.float32)
        return np.ascontiguousarray(np.concatenate(batches), dtype=np.float32)

    def _run(self, texts: list[str]) -> np.ndarray:
        tokens = self._tokenizer(
            texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="np"
        )
        feed = {name: np.asarray(tokens[name], dtype=np.int64) for name in INPUTS}
        return self._session.run(None, feed)[0]
