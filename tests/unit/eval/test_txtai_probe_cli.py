"""eval/txtai_probe.py runs in txtai's own environment; its command line says what it takes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROBE = Path(__file__).resolve().parents[3] / "eval" / "txtai_probe.py"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(PROBE), *args], capture_output=True, text=True, timeout=60)


def test_help_says_what_the_probe_takes() -> None:
    """``--help`` (and no arguments at all) ended in an IndexError traceback."""
    helped = run("--help")
    assert helped.returncode == 0, helped.stderr
    assert "INPUT" in helped.stdout and "OUTPUT" in helped.stdout
    bare = run()
    assert bare.returncode == 2
    assert "Traceback" not in bare.stderr
    assert "the following arguments are required: INPUT, OUTPUT" in bare.stderr
