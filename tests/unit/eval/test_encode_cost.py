"""The encoder cost benchmark at smoke size: the real ONNX encoder and CPU clock, a row per batch size."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval import encode_cost


def test_encode_cost_reports_every_batch_size_and_the_idle_cost(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cost"
    args = ["--backends", "onnx", "--batches", "1,8", "--repeats", "1", "--out", str(out)]
    assert encode_cost.main(args) == 0
    payload = json.loads((out / "encode_cost.json").read_text(encoding="utf-8"))
    assert [(c["backend"], c["batch"]) for c in payload["costs"]] == [("onnx", 1), ("onnx", 8)]
    for cost in payload["costs"]:
        assert cost["cpu_ms_per_question"] > 0 and cost["wall_ms_per_question"] > 0
        assert cost["wall_ms_per_batch"] >= cost["wall_ms_per_question"]
    waited = encode_cost.IDLE_ROUNDS * encode_cost.IDLE_WAIT * 1000
    stopped = payload["idle_cpu_ms"]["onnx, CITEQA_ENCODER_SPIN=false"]
    assert 0 <= stopped < waited / 4  # the pool threads stopped spinning when each run returned
    assert payload["idle_cpu_ms"]["onnx, spinning between runs (default)"] >= 0
    printed = capsys.readouterr().out
    assert "| onnx | 1 |" in printed and "| onnx | 8 |" in printed
    assert (out / "report.md").read_text(encoding="utf-8") == printed.removesuffix("\n")
