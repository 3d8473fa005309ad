"""eval.bench_summary: the parts' reports under one, headings shifted, plots relinked, missing parts named."""

from __future__ import annotations

from pathlib import Path

from eval.bench_summary import main, relink_images, shift_headings


def test_parts_are_assembled_in_order_and_missing_ones_named(tmp_path: Path) -> None:
    (tmp_path / "scale").mkdir()
    (tmp_path / "report.md").write_text("# Bench\n\n| a | b |\n", encoding="utf-8")
    (tmp_path / "scale" / "report.md").write_text("# Scale\n\n![p50](latency.png)\n", encoding="utf-8")
    assert main(["--root", str(tmp_path)]) == 0
    text = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert text.index("## Bench") < text.index("## Scale")  # the parts' top headings, one level down
    assert "![p50](scale/latency.png)" in text
    assert f"(not run: {tmp_path / 'load.md'} does not exist)" in text
    assert f"(not run: {tmp_path / 'query' / 'report.md'} does not exist)" in text


def test_heading_shift_and_relinking_leave_other_lines_alone() -> None:
    assert shift_headings("# A\ntext #1\n## B") == "## A\ntext #1\n### B"
    assert relink_images("![x](a.png) [y](https://e.org)", "q") == "![x](q/a.png) [y](https://e.org)"
    assert relink_images("![x](a.png)", "") == "![x](a.png)"
