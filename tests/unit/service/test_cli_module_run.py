"""`python -m service.cli.app COMMAND` runs the command, as the console script `citeqa` does (found by the
operations probe: the module defined the app and exited 0 without running anything, so
`python -m service.cli.app index --if-stale` in a deployment script said nothing and built nothing)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_python_dash_m_runs_the_command(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    missing = tmp_path / "no-index"
    done = subprocess.run(
        [sys.executable, "-m", "service.cli.app", "verify", "--index", str(missing)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert f"no index at {missing}" in " ".join(done.stderr.split())
