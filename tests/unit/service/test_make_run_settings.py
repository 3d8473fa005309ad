"""`make run` leaves the address to the settings unless HOST or PORT is given to make (found by the
operations probe: it always passed --host 127.0.0.1 --port 8000, so `CITEQA_PORT=9000 make run` served on
8000, as did CITEQA_PORT in .env)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def serve_line(*args: str, env: dict[str, str] | None = None) -> str:
    """The `citeqa serve` command `make run` would run (make -n: nothing is run)."""
    done = subprocess.run(
        ["make", "-n", "run", *args],
        cwd=ROOT,
        env={**{k: v for k, v in os.environ.items() if k not in ("HOST", "PORT")}, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return next(line for line in done.stdout.splitlines() if "citeqa serve" in line)


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_run_leaves_host_and_port_to_the_settings_unless_given() -> None:
    line = serve_line(env={"CITEQA_PORT": "9000", "CITEQA_HOST": "127.0.0.2"})
    assert "--port" not in line and "--host" not in line, line
    assert serve_line("PORT=9001", "HOST=0.0.0.0").split()[-4:] == ["--host", "0.0.0.0", "--port", "9001"]
