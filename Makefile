# citeqa: make run (set up, index the default corpus if needed, serve) and make test (set up, test).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install browser-deps run index test lint eval bench bench-scale clean

install: $(STAMP)

# torch==2.13.0 first: it takes the local CPU build; an unpinned torch would pull CUDA packages.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

index: install
	$(BIN)/citeqa index --if-stale

run: index
	$(BIN)/citeqa serve --host $(HOST) --port $(PORT)

# The browser tests drive Debian's chromium (Playwright's own download is not used). Installed here when
# missing and running as root (CI); otherwise say how, and the browser tests skip (or fail under CI=true).
browser-deps:
	@if command -v chromium >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else echo "chromium is missing: as root run apt-get update && apt-get install -y chromium" >&2; fi

test: install browser-deps
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

eval: index
	$(BIN)/citeqa eval

bench: index
	$(BIN)/python -m eval.bench

# FAISS index types at 10k/100k/1M passages: var/bench/scale/report.md, results.json, latency.png.
bench-scale: install
	$(BIN)/python -m eval.scale_bench

clean:
	rm -rf var .pytest_cache
