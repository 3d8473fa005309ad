"""`citeqa serve` options that only one engine uses are refused with the other, not silently left unused."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from service.cli.app import app

WIDE = {"COLUMNS": "400"}


@pytest.mark.parametrize(
    ("options", "env", "told"),
    [
        (["--engine", "ray", "--workers", "2"], {}, "--workers 2 (or CITEQA_WORKERS) is for --engine local"),
        (
            ["--engine", "ray"],
            {"CITEQA_WORKERS": "3"},
            "--workers 3 (or CITEQA_WORKERS) is for --engine local",
        ),
        (["--replicas", "2"], {}, "--replicas 2 is for --engine ray; add --engine ray"),
        (["--address", "ray://10.0.0.1:10001"], {}, "--address ray://10.0.0.1:10001 is for --engine ray"),
    ],
)
def test_an_option_of_the_other_engine_is_refused_before_serving(
    options: list[str], env: dict[str, str], told: str, tmp_path
) -> None:
    """`citeqa serve --engine ray --workers 2` served one replica per shard, and `citeqa serve --replicas 2`
    one process, without a word that the option did nothing."""
    refused = CliRunner().invoke(
        app, ["serve", "--index", str(tmp_path / "none"), "--port", "18573", *options], env={**WIDE, **env}
    )
    assert refused.exit_code == 2, refused.output
    assert told in " ".join(refused.output.split())


def test_index_with_a_ray_address_but_no_ray_engine_is_refused(tmp_path) -> None:
    """`citeqa index --address ray://...` without --engine ray built in this process, the address unused."""
    command = ["index", "--index", str(tmp_path / "index"), "--address", "ray://10.0.0.1:10001"]
    refused = CliRunner().invoke(app, command, env=WIDE)
    assert refused.exit_code == 2, refused.output
    assert "--address ray://10.0.0.1:10001 is for --engine ray" in " ".join(refused.output.split())
    assert not (tmp_path / "index").exists()


@pytest.mark.parametrize(
    ("options", "told"),
    [
        (["--replicas", "2"], "--replicas 2 is for --engine ray"),
        (["--engine", "rey"], "unknown engine 'rey'; use local or ray"),
    ],
)
def test_a_refused_option_leaves_a_format1_folder_as_it_was(options: list[str], told: str, tmp_path) -> None:
    """`citeqa serve --replicas 2` (or a misspelt --engine) over a format-1 folder upgraded it to format 2,
    embedding its sentences and leaving it unreadable by the release that wrote it, then said the option
    was wrong: the options are checked first, and the folder is left as it was."""
    import shutil
    from pathlib import Path

    from support import folder_digest

    index = tmp_path / "index"
    shutil.copytree(Path(__file__).resolve().parents[2] / "data" / "format1" / "index", index)
    before = folder_digest(index)
    refused = CliRunner().invoke(app, ["serve", "--index", str(index), "--port", "18573", *options], env=WIDE)
    assert refused.exit_code == 2, refused.output
    output = " ".join(refused.output.split())
    assert told in output and "upgrad" not in output, output
    assert folder_digest(index) == before
