"""`citeqa serve` without --workers takes the worker count from CITEQA_WORKERS, as its other options fall
back to their settings (--host to CITEQA_HOST, ...): the option defaulted to 1, so CITEQA_WORKERS=2 served
from one process and even split the cores as for one (found by an audit of the README's Configuration)."""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

from eval import load_bench


def test_citeqa_workers_sets_the_worker_processes(index_copy: Path) -> None:
    port = load_bench.free_port()
    command = load_bench.serve_command(index_copy, port, workers=1)
    command = command[: command.index("--workers")]  # no --workers: the setting decides
    with tempfile.TemporaryDirectory(prefix="citeqa-workers-") as work:
        log_path = Path(work) / "server.log"
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                command,
                env=load_bench.server_env({"CITEQA_WORKERS": "2"}),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            server = load_bench.Server(
                f"http://{load_bench.HOST}:{port}", process, log_path, time.perf_counter()
            )
            try:
                load_bench.wait_until_ready(server, workers=1)
                assert "Started parent process" in server.log_text(), server.log_text()[-2000:]
                load_bench.wait_until_ready(server, workers=2)
            finally:
                load_bench.stop(process)
