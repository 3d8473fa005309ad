"""eval.query_profile on a few seed questions: the real answerer, a call tree that names the stages."""

from __future__ import annotations

import json
from pathlib import Path

from eval.query_profile import main, variants


def test_variants_word_each_repeat_apart() -> None:
    asked = variants(["what are milia", "can I squeeze milia"], 2)
    assert asked == [
        "what are milia again",
        "can I squeeze milia again",
        "what are milia again again",
        "can I squeeze milia again again",
    ]
    assert len(set(asked)) == len(asked)


def test_profile_writes_the_call_tree_and_the_timings(default_index_path: Path, tmp_path: Path) -> None:
    args = ["--questions", "3", "--repeats", "1", "--index", str(default_index_path), "--out", str(tmp_path)]
    assert main(args) == 0
    result = json.loads((tmp_path / "query_profile.json").read_text(encoding="utf-8"))
    assert result["queries"] == 3 and result["floor_ms"] > 0 and result["respond_ms"] > 0
    tree = (tmp_path / "profile.txt").read_text(encoding="utf-8")
    assert "Answerer.respond" in tree and "encode_question" in tree
