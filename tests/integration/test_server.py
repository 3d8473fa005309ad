"""The service for real: uvicorn on a free local port queried over HTTP; nothing loaded at import time;
settings read from CITEQA_* environment variables."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn
from pydantic import ValidationError
from support import ALLOWED_ORIGIN, cli_env

from citeqa.search import Searcher
from corpus import DEFAULT_CORPUS_DIR
from indexer.embedding import DEFAULT_MODEL
from service.app import create_app
from service.settings import Settings


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_real_server_answers_over_http(app_settings: Settings, searcher: Searcher) -> None:
    """uvicorn serving the real app in a thread on a free port, queried with httpx, then stopped."""
    port = free_port()
    config = uvicorn.Config(
        create_app(app_settings, searcher), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            assert thread.is_alive(), "uvicorn stopped before it started"
            assert time.monotonic() < deadline, "uvicorn did not start within 30 s"
            time.sleep(0.05)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30, trust_env=False) as http:
            health = http.get("/health")
            assert health.status_code == 200
            assert health.json()["status"] == "ok"

            response = http.post("/query", json={"question": "what are milia", "top_k": 3, "mode": "hybrid"})
            assert response.status_code == 200
            body = response.json()
            assert len(body["results"]) == 3
            first = body["results"][0]
            document = http.get(f"/documents/{first['citation']['doc_id']}").json()
            assert document["text"][first["citation"]["start"] : first["citation"]["end"]] == first["text"]

            search = http.get("/search", params={"q": "milia", "k": 2})
            assert search.status_code == 200 and "max-age" in search.headers["cache-control"]

            bad = http.post("/query", json={"question": " "})
            assert bad.status_code == 422 and set(bad.json()) >= {"error", "message"}

            cors = http.options(
                "/query", headers={"Origin": ALLOWED_ORIGIN, "Access-Control-Request-Method": "POST"}
            )
            assert cors.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    finally:
        server.should_exit = True
        thread.join(timeout=15)
    assert not thread.is_alive(), "uvicorn did not stop"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/health", timeout=2, trust_env=False)


# --- nothing is loaded at import time -------------------------------------------------------------


def test_importing_and_creating_the_app_loads_no_model(tmp_path: Path) -> None:
    """In a fresh interpreter: import the service and create an app (without starting it)."""
    code = textwrap.dedent(
        """
        import json, sys
        import service.app
        from service.app import create_app
        from service.settings import Settings
        app = create_app(Settings(index_path="does-not-exist"))
        heavy = ("sentence_transformers", "transformers")
        print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in heavy)))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=cli_env(), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded == [], f"importing service.app loaded {loaded}"


# --- settings from the environment ----------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No CITEQA_* variables, and a working folder without a .env file."""
    for name in list(os.environ):
        if name.startswith("CITEQA_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def test_settings_defaults(clean_env: pytest.MonkeyPatch) -> None:
    settings = Settings()
    assert settings.index_path == Path("var/index")
    assert settings.corpus_path == DEFAULT_CORPUS_DIR
    assert settings.model == DEFAULT_MODEL
    assert settings.host == "127.0.0.1"
    assert settings.port == 8000
    assert settings.cors_origins == []


def test_settings_from_environment(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv("CITEQA_INDEX_PATH", str(tmp_path / "elsewhere"))
    clean_env.setenv("CITEQA_MODEL", "/models/other")
    clean_env.setenv("CITEQA_PORT", "8123")
    clean_env.setenv("CITEQA_HOST", "0.0.0.0")
    clean_env.setenv("CITEQA_CORS_ORIGINS", "http://a.test, https://b.test:8443 ,,")
    settings = Settings()
    assert settings.index_path == tmp_path / "elsewhere"
    assert settings.model == "/models/other"
    assert settings.port == 8123
    assert settings.host == "0.0.0.0"
    assert settings.cors_origins == ["http://a.test", "https://b.test:8443"]


def test_single_cors_origin_and_wildcard(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("CITEQA_CORS_ORIGINS", "http://only.test")
    assert Settings().cors_origins == ["http://only.test"]
    clean_env.setenv("CITEQA_CORS_ORIGINS", "*")
    assert Settings().cors_origins == ["*"]
    clean_env.setenv("CITEQA_CORS_ORIGINS", "")
    assert Settings().cors_origins == []


def test_explicit_arguments_override_the_environment(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("CITEQA_PORT", "8123")
    assert Settings(port=9000).port == 9000


def test_dotenv_file_is_read(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("CITEQA_PORT=9001\nCITEQA_CORS_ORIGINS=http://x.test,http://y.test\n")
    settings = Settings()
    assert settings.port == 9001
    assert settings.cors_origins == ["http://x.test", "http://y.test"]


@pytest.mark.parametrize("port", ["0", "65536", "eighty"])
def test_invalid_port_is_refused(clean_env: pytest.MonkeyPatch, port: str) -> None:
    clean_env.setenv("CITEQA_PORT", port)
    with pytest.raises(ValidationError, match="port"):
        Settings()


def test_app_uses_cors_origins_from_environment(clean_env: pytest.MonkeyPatch, searcher: Searcher) -> None:
    from fastapi.testclient import TestClient

    clean_env.setenv("CITEQA_CORS_ORIGINS", "http://env.test")
    clean_env.setenv("CITEQA_INDEX_PATH", str(searcher.index.path))
    with TestClient(create_app(Settings(), searcher)) as env_client:
        allowed = env_client.options(
            "/query", headers={"Origin": "http://env.test", "Access-Control-Request-Method": "POST"}
        )
        assert allowed.headers.get("access-control-allow-origin") == "http://env.test"
        refused = env_client.options(
            "/query", headers={"Origin": ALLOWED_ORIGIN, "Access-Control-Request-Method": "POST"}
        )
        assert "access-control-allow-origin" not in refused.headers
