"""`citeqa serve` on an address it cannot listen on fails at once with one line naming the address, what is
wrong and what to change, exit code 2 (found by the operations probe: a port in use, a host that does not
resolve or that no interface has ended, after the model and the index were loaded, with exit code 3 among
uvicorn's JSON log lines; '[Errno -2] Name or service not known' did not name the host)."""

from __future__ import annotations

import socket
from pathlib import Path

from typer.testing import CliRunner

from service.cli.app import app


def said(output: str) -> str:
    return " ".join(output.split())


def test_serve_on_a_port_in_use_says_so_in_one_line(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # An index folder that does not exist: the address is judged before anything is opened.
        done = CliRunner().invoke(app, ["serve", "--port", str(port), "--index", str(tmp_path / "none")])
    assert done.exit_code == 2, done.output
    output = said(done.output)
    assert f"error: cannot listen on 127.0.0.1:{port}: the address is in use" in output, output
    assert "--port or CITEQA_PORT" in output
    assert "no index" not in output and "Traceback" not in output
    assert done.output.count("\n") == 1, done.output


def test_serve_on_a_host_that_does_not_resolve_names_it(tmp_path: Path) -> None:
    done = CliRunner().invoke(app, ["serve", "--host", "no such host", "--index", str(tmp_path / "none")])
    assert done.exit_code == 2, done.output
    output = said(done.output)
    assert "error: cannot listen on no such host:8000: 'no such host' is neither an IP address" in output
    assert "fix --host or CITEQA_HOST" in output and "Traceback" not in output


def test_serve_on_an_address_of_no_interface_names_it(tmp_path: Path) -> None:
    done = CliRunner().invoke(
        app,
        ["serve", "--port", "18199"],
        env={"CITEQA_HOST": "192.0.2.1", "CITEQA_INDEX_PATH": str(tmp_path)},
    )
    assert done.exit_code == 2, done.output
    output = said(done.output)
    assert "error: cannot listen on 192.0.2.1:18199: no interface of this machine has the address" in output
    assert "with --host or CITEQA_HOST" in output
