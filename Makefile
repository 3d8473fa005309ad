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

.PHONY: install run index test lint eval bench clean

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

test: install
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

eval: index
	$(BIN)/citeqa eval

bench: index
	$(BIN)/python -m eval.bench

clean:
	rm -rf var .pytest_cache
