"""The question tower: a copy of the embedding model, fine-tuned to encode questions only.

Passages and sentences stay embedded by the model itself (no index is rebuilt); a question is encoded by
the tower, whose transformer layers were trained (eval/query_tower_fit.py) so that a question's vector
lands near the passages of the documents that answer it, and away from the other answers of the same page
("what causes X" against "what are the symptoms of X", which the plain model blurs). The tower is stored
as the difference of its layers from the model's (float16, safetensors, ``delta.safetensors``) with a
sidecar (``tower.json``: the model it was tuned from, the sha256 of that model's weights and of the delta,
the command, data and cross-validated numbers). At start the tower is made once into a cache folder as a
complete sentence-transformers folder (the model's files, weights plus delta), which any backend loads as
a model path; later starts reuse it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from citeqa.errors import CiteqaError
from indexer.embedding import resolve_model_path

# Tuned from the default model on medquad-dev (its tower.json says how, and its cross-validated numbers).
DEFAULT_QUESTION_TOWER_PATH = Path(__file__).resolve().parent / "question_tower"
DELTA_FILE = "delta.safetensors"
SIDECAR_FILE = "tower.json"
WEIGHTS_FILE = "model.safetensors"
# Files of a model folder that the tower's folder does not need (weights are written anew).
NOT_COPIED = {WEIGHTS_FILE, "pytorch_model.bin", "README.md", ".gitattributes"}


class QuestionTowerError(CiteqaError):
    """The configured question tower cannot be used (missing, corrupt, or tuned from another model)."""


@dataclass(frozen=True)
class QuestionTower:
    """A tower folder (delta and sidecar) that was checked against the model it is meant for."""

    folder: Path
    model: str
    meta: dict[str, object]

    @property
    def checksum(self) -> str:
        """sha256 of the delta file (its sidecar's, checked when loaded): what a cache validator keys on."""
        return str(self.meta["sha256"])


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tower_model(folder: Path) -> str | None:
    """The model named by the tower's sidecar, or None when it cannot be read."""
    try:
        return str(json.loads((Path(folder) / SIDECAR_FILE).read_text(encoding="utf-8"))["model"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def load_question_tower(folder: Path, model: str) -> QuestionTower:
    """The tower at ``folder`` for ``model``; QuestionTowerError with what to do when its files are missing
    or corrupt, or it was tuned from another model."""
    folder = Path(folder)
    fix = "set CITEQA_QUESTION_TOWER_PATH to a tower tuned from this model, or empty to turn it off"
    try:
        meta = json.loads((folder / SIDECAR_FILE).read_text(encoding="utf-8"))
        digest = file_sha256(folder / DELTA_FILE)
    except (OSError, ValueError) as err:
        raise QuestionTowerError(f"cannot read question tower {folder}: {err}; {fix}") from None
    if not isinstance(meta, dict) or meta.get("model") != model:
        tuned = meta.get("model") if isinstance(meta, dict) else None
        raise QuestionTowerError(
            f"question tower {folder} was tuned from model {tuned!r}, not the configured {model!r}; {fix}"
        )
    if meta.get("sha256") != digest:
        raise QuestionTowerError(f"question tower {folder}: {DELTA_FILE} does not match its sidecar; {fix}")
    return QuestionTower(folder, model, meta)


def tower_model_folder(tower: QuestionTower, cache: Path) -> Path:
    """A sentence-transformers folder of the tower under ``cache`` (made once, atomically: written beside,
    then renamed into place), named by the delta's checksum and the model's weights file (size, mtime)."""
    base = Path(resolve_model_path(tower.model))
    weights = base / WEIGHTS_FILE
    try:
        stat = weights.stat()
    except OSError as err:
        raise QuestionTowerError(
            f"question tower {tower.folder}: the model {tower.model!r} has no {WEIGHTS_FILE} ({err}); "
            "set CITEQA_QUESTION_TOWER_PATH empty to turn the tower off"
        ) from None
    key = hashlib.sha256(f"{tower.checksum}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", tower.model).strip("_")[-40:]
    target = Path(cache) / f"question-tower-{readable}-{key}"
    if (target / WEIGHTS_FILE).exists():
        return target
    expected = tower.meta.get("base_sha256")
    if expected is not None and file_sha256(weights) != expected:
        raise QuestionTowerError(
            f"question tower {tower.folder} was tuned from other weights of {tower.model!r} than those at "
            f"{weights}; refit it (python -m eval.query_tower_fit) or set CITEQA_QUESTION_TOWER_PATH empty"
        )
    try:
        make_folder(tower, base, weights, target)
    except OSError as err:
        raise QuestionTowerError(
            f"cannot make the question tower's model folder {target}: {err}; make CITEQA_ONNX_CACHE_PATH "
            "a writable folder with about 200 MB free, or set CITEQA_QUESTION_TOWER_PATH empty"
        ) from None
    return target


STALE_STAGING_SECONDS = 3600  # a staging folder this old was left by a process that died while making it


def make_folder(tower: QuestionTower, base: Path, weights: Path, target: Path) -> None:
    """Write the tower's model folder beside ``target`` (a staging folder of this call's own), then rename
    it into place. A ``target`` without weights (damaged) is replaced; staging folders left by a process
    that died an hour ago or more are removed first."""
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".{target.name}.tmp-*"):
        try:
            if time.time() - stale.stat().st_mtime > STALE_STAGING_SECONDS:
                shutil.rmtree(stale, ignore_errors=True)
        except OSError:  # another process removed it meanwhile
            continue
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        shutil.copytree(
            base,
            staging,
            ignore=lambda _dir, names: [n for n in names if n in NOT_COPIED],
            dirs_exist_ok=True,
        )
        write_tuned_weights(weights, tower.folder / DELTA_FILE, staging / WEIGHTS_FILE)
        shutil.copyfile(tower.folder / SIDECAR_FILE, staging / SIDECAR_FILE)
        if target.exists() and not (target / WEIGHTS_FILE).exists():
            shutil.rmtree(target, ignore_errors=True)  # damaged: made by no rename of ours
        try:
            os.replace(staging, target)
        except OSError:
            if not (target / WEIGHTS_FILE).exists():  # else another process made it meanwhile
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_tuned_weights(weights: Path, delta: Path, target: Path) -> None:
    """The model's weights plus the tower's delta (float32), as safetensors at ``target``."""
    from safetensors.numpy import load_file, save_file

    tensors = load_file(str(weights))
    for name, change in load_file(str(delta)).items():
        if name not in tensors or tensors[name].shape != change.shape:
            raise QuestionTowerError(
                f"question tower delta {delta}: {name!r} does not fit the model's weights"
            )
        tensors[name] = (tensors[name].astype(np.float32) + change.astype(np.float32)).astype(np.float32)
    save_file(tensors, str(target), metadata={"format": "pt"})


def question_side(question_encoder: object, encoder: object) -> str:
    """Which encoder a searcher's questions go through, in words that name it on any machine: "the model",
    or "question tower <first 16 hex digits of its delta's sha256>" (read from the tower.json its model
    folder holds), or the encoder's name for anything else."""
    if question_encoder is encoder:
        return "the model"
    return encoder_identity(str(getattr(question_encoder, "name", "")))


# Read once per folder: /health and every start-up ask, and a made tower folder never changes (its name
# holds the delta's checksum).
@lru_cache(maxsize=64)
def encoder_identity(name: str) -> str:
    """The words that name the encoder at ``name``: "question tower <sha256 prefix>" when it is a folder
    holding a tower.json, else ``name`` itself."""
    try:
        meta = json.loads((Path(name) / SIDECAR_FILE).read_text(encoding="utf-8"))
        return f"question tower {str(meta['sha256'])[:16]}"
    except (OSError, ValueError, KeyError, TypeError):
        return name
