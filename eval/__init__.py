"""Offline evaluation of citeqa retrieval: BEIR datasets and retrieval metrics."""

from pathlib import Path

# The answerability calibration the service loads by default (written by `citeqa eval --calibrate`).
DEFAULT_CALIBRATION_PATH = Path(__file__).resolve().parent / "calibration.json"
