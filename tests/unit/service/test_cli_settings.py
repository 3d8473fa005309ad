"""A setting that breaks its rule, from the environment or from a command line option, fails a command with
a message naming the variable or the option and the value (found by a probe: every command printed
pydantic's ValidationError inside a rich traceback, e.g. for CITEQA_MAX_BODY_BYTES=abc or --port 0)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from service.cli.app import app

if TYPE_CHECKING:
    from citeqa.search import Searcher
    from service.settings import Settings


def said(output: str) -> str:
    return " ".join(output.split())


def test_a_bad_environment_variable_is_named_without_a_traceback(tmp_path: Path) -> None:
    done = CliRunner().invoke(
        app, ["ask", "what are milia", "--index", str(tmp_path)], env={"CITEQA_MAX_BODY_BYTES": "abc"}
    )
    assert done.exit_code == 2, done.output
    output = said(done.output)
    assert "error: CITEQA_MAX_BODY_BYTES: Input should be a valid integer" in output
    assert "(got 'abc')" in output
    assert "Traceback" not in output and "ValidationError" not in output


def test_a_bad_option_is_named_as_the_option(tmp_path: Path) -> None:
    done = CliRunner().invoke(app, ["serve", "--port", "0", "--index", str(tmp_path)])
    assert done.exit_code == 2, done.output
    output = said(done.output)
    assert "error: --port: Input should be greater than or equal to 1 (got 0)" in output
    assert "Traceback" not in output


def test_every_bad_setting_is_listed_and_no_key_is_echoed(tmp_path: Path) -> None:
    env = {"CITEQA_FUSION_METHOD": "fuzzy", "CITEQA_QUERY_CONCURRENCY": "0", "CITEQA_API_KEYS": "s3cret"}
    done = CliRunner().invoke(app, ["ask", "x", "--index", str(tmp_path)], env=env)
    assert done.exit_code == 2, done.output
    output = said(done.output)
    assert "CITEQA_FUSION_METHOD" in output and "CITEQA_QUERY_CONCURRENCY" in output
    assert "s3cret" not in output


def test_an_invalid_key_is_named_but_never_echoed() -> None:
    """Keys from the environment always parse, so the redaction is checked on an invalid one directly (the
    test above could not fail, found in review)."""
    from pydantic import ValidationError

    from service.cli.common import settings_problems
    from service.settings import Settings

    with pytest.raises(ValidationError) as invalid:
        Settings(api_keys=[{"value": "s3cret"}])
    problems = settings_problems(invalid.value, {"api_keys": [{"value": "s3cret"}]})
    assert "--api-keys" in problems and "s3cret" not in problems


def test_ask_refuses_a_bad_mode_before_opening_anything(tmp_path: Path) -> None:
    """Before, `citeqa ask milia --mode fuzzy` loaded the model and the index for seconds (or failed on the
    index folder) before saying the mode was unknown."""
    missing = tmp_path / "no-index-here"
    done = CliRunner().invoke(app, ["ask", "milia", "--mode", "fuzzy", "--index", str(missing)])
    assert done.exit_code == 2, done.output
    output = said(done.output)
    assert "unknown mode 'fuzzy'; use one of hybrid, dense, bm25" in output
    assert "no-index-here" not in output


def test_an_empty_host_is_refused_rather_than_every_interface(tmp_path: Path) -> None:
    """CITEQA_HOST= (empty) served on every interface ('Uvicorn running on http://:8000'): a variable left
    empty by mistake exposed the service (found by the operations probe)."""
    done = CliRunner().invoke(app, ["serve", "--index", str(tmp_path)], env={"CITEQA_HOST": ""})
    assert done.exit_code == 2, done.output
    output = said(done.output)
    assert "error: CITEQA_HOST: Value error, empty, which would listen on every interface" in output
    assert "0.0.0.0 (every interface)" in output and "Traceback" not in output


@pytest.mark.parametrize(
    "variable", ["CITEQA_MODEL", "CITEQA_INDEX_PATH", "CITEQA_CORPUS_PATH", "CITEQA_EMBEDDING_CACHE_PATH"]
)
def test_an_empty_model_or_folder_is_refused_by_name(tmp_path: Path, variable: str) -> None:
    """CITEQA_MODEL= (empty) made citeqa index load a blank model and end in a TypeError traceback; an
    empty folder setting was the working folder ('.'); found by the operations probe."""
    env = {"CITEQA_INDEX_PATH": str(tmp_path / "index"), variable: ""}
    done = CliRunner().invoke(app, ["index"], env=env)
    assert done.exit_code == 2, done.output
    output = said(done.output)
    assert f"error: {variable}: Value error, empty: give a value, or leave the variable unset" in output
    assert "Traceback" not in output


def test_an_infinite_rrf_k_is_refused(tmp_path: Path) -> None:
    """CITEQA_FUSION_RRF_K=inf passed the rule k > 0 and served: every rrf score was 1 / (inf + rank) = 0, so
    rrf fusion ranked nothing (found by the operations probe)."""
    env = {"CITEQA_INDEX_PATH": str(tmp_path), "CITEQA_FUSION_RRF_K": "inf"}
    done = CliRunner().invoke(app, ["serve", "--port", "18198"], env=env)
    assert done.exit_code == 2, done.output
    assert "error: CITEQA_FUSION_RRF_K: Input should be a finite number (got 'inf')" in said(done.output)


def test_a_huge_thread_count_is_refused_before_the_encoder_starts(tmp_path: Path) -> None:
    """CITEQA_THREADS=100000 passed its rule (at least 1) and ended the start in an ImportError traceback
    from onnxruntime, whose thread pool could not be mapped (found by the operations probe)."""
    env = {"CITEQA_INDEX_PATH": str(tmp_path), "CITEQA_THREADS": "100000"}
    done = CliRunner().invoke(app, ["serve", "--port", "18197"], env=env)
    assert done.exit_code == 2, done.output
    assert "error: CITEQA_THREADS: Input should be less than or equal to 256 (got '100000')" in said(
        done.output
    )


def test_serve_help_names_each_options_setting_and_its_default() -> None:
    """`citeqa serve --help` said only 'port' and 'interface to bind': neither the variable an operator
    sets instead nor the default (found by the operations probe). The defaults are read from Settings."""
    from service.settings import Settings

    done = CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "200"})
    assert done.exit_code == 0, done.output
    output = said(done.output)
    defaults = Settings.model_fields
    assert f"(default: CITEQA_HOST, {defaults['host'].default};" in output
    assert f"(default: CITEQA_PORT, {defaults['port'].default})" in output
    assert f"(default: CITEQA_INDEX_PATH, {defaults['index_path'].default})" in output
    assert "(default: CITEQA_WORKERS, 1)" in output and "(default: CITEQA_THREADS," in output


def test_a_dot_env_that_is_not_utf8_is_named_without_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A .env saved in Latin-1 (CITEQA_CORPUS_NAME=café) ended every command in a UnicodeDecodeError
    traceback that named neither the file nor the fix (found by the operations probe)."""
    (tmp_path / ".env").write_bytes("CITEQA_CORPUS_NAME=café\n".encode("latin-1"))
    monkeypatch.chdir(tmp_path)
    done = CliRunner().invoke(app, ["verify", "--index", str(tmp_path / "index")])
    assert done.exit_code == 2, done.output
    output = said(done.output)
    assert f"error: cannot read the settings file {tmp_path / '.env'}: 'utf-8' codec can't decode" in output
    assert "save it as UTF-8 (or remove it)" in output and "Traceback" not in output


def test_a_cors_origin_with_a_path_or_trailing_slash_is_refused(tmp_path: Path) -> None:
    """CITEQA_CORS_ORIGINS=http://127.0.0.1:8080/ (a trailing slash) was taken and never matched the Origin a
    browser sends (http://127.0.0.1:8080), so the page on it was refused without a word (found by the
    operations probe)."""
    env = {
        "CITEQA_INDEX_PATH": str(tmp_path),
        "CITEQA_CORS_ORIGINS": "https://a.example, http://127.0.0.1:8080/",
    }
    done = CliRunner().invoke(app, ["serve", "--port", "18196"], env=env)
    assert done.exit_code == 2, done.output
    output = said(done.output)
    assert "error: CITEQA_CORS_ORIGINS: Value error, 'http://127.0.0.1:8080/' is not an origin" in output
    assert "(the browser sends http://127.0.0.1:8080)" in output


def test_cors_origins_that_are_origins_are_taken() -> None:
    from service.settings import Settings

    taken = Settings(cors_origins="https://a.example, http://127.0.0.1:8080,*")  # type: ignore[arg-type]
    assert taken.cors_origins == ["https://a.example", "http://127.0.0.1:8080", "*"]


def test_an_onnx_cache_path_that_is_a_file_is_named_by_its_setting(tmp_path: Path, index_copy: Path) -> None:
    """CITEQA_ONNX_CACHE_PATH naming a file failed with 'cannot load embedding model ...: [Errno 20] Not a
    directory: FILE/sentence-transformers_...': it blamed the model, not the setting (found by the
    operations probe)."""
    a_file = tmp_path / "onnx-cache"
    a_file.write_text("not a folder")
    env = {"CITEQA_INDEX_PATH": str(index_copy), "CITEQA_ONNX_CACHE_PATH": str(a_file)}
    done = CliRunner().invoke(app, ["ask", "what are milia"], env=env)
    assert done.exit_code == 2, done.output
    output = said(done.output)
    assert f"error: cannot keep ONNX exports in {a_file} (CITEQA_ONNX_CACHE_PATH): File exists" in output
    assert (
        "set it to a folder this process can write" in output and "cannot load embedding model" not in output
    )


def test_a_misspelt_variable_is_said_with_the_setting_it_resembles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """CITEQA_PROT=9000 (for CITEQA_PORT) was ignored without a word and the default port served (found by
    the operations probe); one in .env likewise. The client's CITEQA_API_KEY is no setting but no typo."""
    (tmp_path / ".env").write_text("CITEQA_INDEX_PAHT=/srv/index\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    env = {"CITEQA_PROT": "9000", "CITEQA_API_KEY": "s3cret"}
    done = CliRunner().invoke(app, ["verify", "--index", str(tmp_path / "index")], env=env)
    assert done.exit_code == 2, done.output
    output = said(done.output)
    assert "warning: CITEQA_PROT is not a citeqa setting and is ignored; did you mean CITEQA_PORT?" in output
    assert (
        "warning: CITEQA_INDEX_PAHT is not a citeqa setting and is ignored; did you mean CITEQA_INDEX_PATH?"
        in (output)
    )
    assert "CITEQA_API_KEY" not in output and "s3cret" not in output


def test_serving_reads_behind_keys_without_a_key_is_refused(tmp_path: Path) -> None:
    """CITEQA_REQUIRE_KEY_FOR_READS=true without CITEQA_API_KEYS served: /ready said ready and every search
    answered 403 (found by the operations probe)."""
    env = {"CITEQA_INDEX_PATH": str(tmp_path), "CITEQA_REQUIRE_KEY_FOR_READS": "true"}
    done = CliRunner().invoke(app, ["serve", "--port", "18195"], env=env)
    assert done.exit_code == 2, done.output
    output = said(done.output)
    assert "error: CITEQA_REQUIRE_KEY_FOR_READS is on but CITEQA_API_KEYS holds no key" in output
    assert "no index" not in output


def test_a_huge_worker_count_is_refused(tmp_path: Path) -> None:
    """CITEQA_WORKERS (or --workers) had no upper bound: each worker loads the model and the index, so 100,000
    would fork until the machine gave out (found by the operations probe)."""
    env = {"CITEQA_INDEX_PATH": str(tmp_path), "CITEQA_WORKERS": "100000"}
    done = CliRunner().invoke(app, ["serve", "--port", "18194"], env=env)
    assert done.exit_code == 2, done.output
    assert "error: CITEQA_WORKERS: Input should be less than or equal to 256 (got '100000')" in said(
        done.output
    )


@pytest.mark.parametrize("command", ["serve", "verify"])
def test_an_index_path_that_is_a_file_says_so(tmp_path: Path, command: str) -> None:
    """CITEQA_INDEX_PATH (or --index) naming a file said 'no index at FILE (manifest.json missing); rebuild
    it from the corpus with `citeqa index --index FILE`', a command that refuses a path holding a file
    (found by the operations probe)."""
    a_file = tmp_path / "index.tar"
    a_file.write_text("not a folder")
    done = CliRunner().invoke(app, [command, "--index", str(a_file)])
    assert done.exit_code == 2, done.output
    output = said(done.output)
    assert f"error: {a_file} is a file, not an index folder: point --index (or CITEQA_INDEX_PATH)" in output
    assert "citeqa index --index" not in output


def test_a_key_a_client_cannot_send_is_refused_without_echoing_it(
    tmp_path: Path, app_settings: Settings, searcher: Searcher
) -> None:
    """CITEQA_API_KEYS=clé was served, and the key never matched: curl sends 'é' as UTF-8, which the
    server reads back as Latin-1 (browsers and httpx refuse to send it at all), so every write with the
    right key got 403 'the API key is not valid'. The key's place is named, never the key."""
    from fastapi.testclient import TestClient
    from pydantic import SecretStr

    from service.app import create_app

    for keys in ("demo-key,clé", "demo-key,tab\tkey"):
        done = CliRunner().invoke(app, ["ask", "x", "--index", str(tmp_path)], env={"CITEQA_API_KEYS": keys})
        assert done.exit_code == 2, done.output
        output = said(done.output)
        assert (
            "CITEQA_API_KEYS: Value error, key 2 of 2 holds a character other than printable ASCII" in output
        )
        assert keys.split(",")[1] not in output and "demo-key" not in output
    keyed = app_settings.model_copy(update={"api_keys": [SecretStr("demo key"), SecretStr("secret-key")]})
    with TestClient(create_app(keyed, searcher)) as client:
        for key in ("demo key", "secret-key"):  # printable ASCII, a space inside included, is sent as it is
            response = client.delete("/documents/nope", headers={"Authorization": f"Bearer {key}"})
            assert response.status_code == 404, response.text


def test_a_document_limit_past_what_any_document_may_hold_is_refused(tmp_path: Path) -> None:
    """CITEQA_MAX_DOCUMENT_CHARS=2000000 was taken, and JSON writes then took 1.5M-character documents while
    an uploaded file of the same text was refused at 1,000,000 (the corpus limit, checked as it is read):
    the setting can only lower the limit, and a higher value is refused at start naming it."""
    env = {"CITEQA_MAX_DOCUMENT_CHARS": "2000000"}
    done = CliRunner().invoke(app, ["ask", "x", "--index", str(tmp_path)], env=env)
    assert done.exit_code == 2, done.output
    output = said(done.output)
    assert "CITEQA_MAX_DOCUMENT_CHARS" in output and "1000000" in output
    assert "Traceback" not in output
