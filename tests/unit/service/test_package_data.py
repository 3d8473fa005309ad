"""Every data file the packages read at run time (models, calibration, the default corpus, the page) is
listed in pyproject.toml's package-data, so a wheel install ships it (an editable install hides a gap)."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
DOCS = {".md", ".png"}  # notes beside the code, not read at run time


def test_package_data_lists_every_data_file() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = config["tool"]["setuptools"]["package-data"]
    missing = []
    for package in ("citeqa", "corpus", "indexer", "service", "eval"):
        for file in (ROOT / package).rglob("*"):
            if not file.is_file() or file.suffix in {".py", ".pyc", *DOCS} or "__pycache__" in file.parts:
                continue
            relative = file.relative_to(ROOT / package).as_posix()
            if not any(fnmatch.fnmatch(relative, pattern) for pattern in listed.get(package, [])):
                missing.append(f"{package}/{relative}")
    assert not missing, f"not in [tool.setuptools.package-data]: {missing}"
