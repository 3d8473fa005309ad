"""An index folder this process may not write (a read-only mount, another user's folder): writes over HTTP
are 507 saying so and what to do, the CLI's writes one line and exit 2, both before any embedding; the
folder is unchanged and reads go on (real model, real FAISS, real HTTP)."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import faiss
import pytest
from support import OVERVIEW_ID, folder_digest, unwritable, writable_client

from indexer.errors import unwritable as unwritable_reason
from service.cli.app import main

KEY = "test-write-key"
AUTH = {"Authorization": f"Bearer {KEY}"}
SEALS = {"title": "Harbor seals", "text": "Harbor seals can hold their breath for thirty minutes."}


@pytest.mark.parametrize("code", [errno.EROFS, errno.EACCES, errno.EPERM])
def test_an_os_error_of_an_unwritable_folder_is_recognised_with_its_file(code: int) -> None:
    error = OSError(code, os.strerror(code), "/srv/index.lock")
    assert unwritable_reason(error) == f"/srv/index.lock: {os.strerror(code)}"


@pytest.mark.parametrize(
    "error",
    [OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), RuntimeError("Error in faiss: bad dimension")],
)
def test_other_errors_are_not_taken_for_an_unwritable_folder(error: BaseException) -> None:
    assert unwritable_reason(error) is None


def test_a_faiss_write_into_an_unwritable_folder_is_recognised(tmp_path: Path) -> None:
    folder = tmp_path / "segment"
    folder.mkdir()
    with unwritable(folder), pytest.raises(RuntimeError) as caught:
        faiss.write_index(faiss.IndexFlatIP(4), str(folder / "dense.faiss"))
    said = unwritable_reason(caught.value)
    assert said is not None and said.startswith(f"{folder / 'dense.faiss'}: "), said


def test_writes_to_an_unwritable_index_folder_are_507_and_reads_go_on(index_copy: Path, encoder: Any) -> None:
    """A write to an index folder on a read-only file system was a 500 "internal error; see server log"
    (the service's log held `OSError: [Errno 30] Read-only file system: '.../index.lock'`), after the
    document had been embedded."""
    before = folder_digest(index_copy)
    with writable_client(index_copy, encoder, api_keys=[KEY]) as client:
        with unwritable(index_copy.parent, index_copy):
            answers = [
                client.put("/documents/harbor-seals", json=SEALS, headers=AUTH),
                client.delete(f"/documents/{OVERVIEW_ID}", headers=AUTH),
                client.post("/index/rebuild", headers=AUTH),
            ]
            for answer in answers:
                assert answer.status_code == 507, answer.text
                assert answer.json()["error"] == "insufficient_storage"
                message = answer.json()["message"]
                assert f"the index folder cannot be written ({index_copy.parent}: " in message, message
                assert "nothing of the write was stored: make the folder writable" in message
            assert client.get("/search", params={"q": "what are milia"}).status_code == 200
        assert folder_digest(index_copy) == before
        assert client.put("/documents/harbor-seals", json=SEALS, headers=AUTH).status_code == 200


def test_cli_writes_to_an_unwritable_index_folder_say_so_in_one_line(
    index_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`citeqa add` into a read-only index folder printed a page of traceback (`OSError: [Errno 30]
    Read-only file system`); `citeqa index --force` embedded the whole corpus first. Both end with one
    error line, exit 2, nothing written."""
    (tmp_path / "seals.txt").write_text(SEALS["text"], encoding="utf-8")
    before = folder_digest(index_copy)
    monkeypatch.setenv("COLUMNS", "400")
    for args in (["add", str(tmp_path / "seals.txt")], ["index", "--force"], ["remove", OVERVIEW_ID]):
        monkeypatch.setattr("sys.argv", ["citeqa", *args, "--index", str(index_copy)])
        with unwritable(index_copy.parent, index_copy), pytest.raises(SystemExit) as ended:
            main()
        assert ended.value.code == 2, args
        err = capsys.readouterr().err
        assert "Traceback" not in err and "embedding passages" not in err, err
        errors = [line for line in err.splitlines() if line.startswith("error:")]
        assert len(errors) == 1, err
        assert f"cannot write {index_copy.parent}: " in errors[0], err
        assert "nothing was written: make the index folder" in errors[0], err
    assert folder_digest(index_copy) == before


def test_a_new_index_under_an_unwritable_folder_is_refused_before_the_embedding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`citeqa index --index RO/new/index`, the folders between not made yet, embedded the whole corpus
    and only then failed to make RO/new: the check tried the index's folder and the one holding it, both
    missing, and nothing else. The nearest folder that exists is tried, before any embedding."""
    from corpus import DEFAULT_CORPUS_DIR

    locked = tmp_path / "locked"
    locked.mkdir()
    index = locked / "new" / "index"
    monkeypatch.setenv("COLUMNS", "400")
    monkeypatch.setattr(
        "sys.argv", ["citeqa", "index", "--corpus", str(DEFAULT_CORPUS_DIR), "--index", str(index)]
    )
    with unwritable(locked), pytest.raises(SystemExit) as ended:
        main()
    assert ended.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "embedding passages" not in err, err
    assert f"cannot write {locked}: " in err, err
    assert not (locked / "new").exists()
