"""A start of the service that exports the model to ONNX says so before the work (found by the operations
probe: the first start on a machine spent seconds to a minute exporting with only torch's TracerWarnings
on stderr, no line of citeqa's)."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.embedding import SentenceTransformerEncoder


def test_a_start_that_exports_the_model_says_so_first_without_the_tracers_warnings(
    encoder: SentenceTransformerEncoder, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """A start with the export cached says nothing of it."""
    from service.settings import Settings
    from service.wiring import model_encoder

    settings = Settings(onnx_cache_path=tmp_path / "onnx", threads=1)
    model_encoder(settings, encoder.name)
    said = capfd.readouterr().err
    assert f"citeqa: exporting {encoder.name} to ONNX (onnx) into {tmp_path / 'onnx'}" in said, said
    assert "once per machine and model" in said
    assert "TracerWarning" not in said and "Exporting aten::index" not in said, said
    model_encoder(settings, encoder.name)
    assert "exporting" not in capfd.readouterr().err
