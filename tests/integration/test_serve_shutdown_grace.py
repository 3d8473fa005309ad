"""`citeqa serve` stops on SIGTERM within CITEQA_SHUTDOWN_GRACE_SECONDS even while a client holds a request
open (found by the operations probe: a client that sent the headers of a POST and part of its body kept the
server 'Waiting for connections to close' for as long as it liked, so a deployment's stop waited for its
SIGKILL)."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

from eval import load_bench


def test_sigterm_stops_the_server_within_the_grace_while_a_client_holds_a_request_open(
    index_copy: Path,
) -> None:
    with load_bench.running_server(index_copy, extra_env={"CITEQA_SHUTDOWN_GRACE_SECONDS": "2"}) as server:
        load_bench.wait_until_ready(server, workers=1)
        port = int(server.url.rsplit(":", 1)[1])
        with socket.create_connection((load_bench.HOST, port)) as stalled:
            stalled.sendall(
                b"POST /query HTTP/1.1\r\nHost: citeqa\r\nContent-Type: application/json\r\n"
                b'Content-Length: 1000\r\n\r\n{"question": '
            )
            time.sleep(0.5)  # the request is in progress: its body is being read
            started = time.monotonic()
            os.killpg(server.process.pid, signal.SIGTERM)
            server.process.wait(timeout=60)
            stopped_after = time.monotonic() - started
        log = server.log_text()
        assert stopped_after < 15, log[-2000:]
        assert server.process.returncode in (0, -signal.SIGTERM), log[-2000:]  # uvicorn re-raises it
        assert "timeout graceful shutdown exceeded" in log, log[-2000:]
