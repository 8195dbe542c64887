# The two commands of the README are `make run` and `make test`; each sets up .venv itself.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-fast lint data train-all evaluate-all bench clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (Python 3.11)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

## run: start the bot (a terminal chat on the shipped models when no TELEGRAM_BOT_TOKEN is set)
run: $(STAMP)
	$(PY) -m bot

## test: the whole test suite (unit tests, real-training tests, CLI tests)
test: $(STAMP)
	$(PY) -m pytest -q

## test-fast: everything but the slow real-training tests
test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

## lint: ruff and mypy
lint: $(STAMP)
	$(PY) -m ruff check bot model tests bench
	$(PY) -m mypy

## data: download and build every corpus into data/corpora (cached; re-runs are quick)
data: $(STAMP)
	$(PY) -m model data build

## train-all: retrain every default model from scratch (see README for times on 2 cores)
train-all: $(STAMP) data
	$(PY) -m model train --task translate-en-zh --promote yes
	$(PY) -m model train --task translate-zh-en --promote yes
	$(PY) -m model train --task summarize --promote yes
	$(PY) -m model train --task chat --promote yes

## evaluate-all: held-out test figures of the current version of each task
evaluate-all: $(STAMP)
	$(PY) -m model evaluate --task translate-en-zh --data data/corpora/tasks/translate-en-zh/test-short.tsv --json
	$(PY) -m model evaluate --task summarize --data data/corpora/tasks/summarize/test.tsv --json
	$(PY) -m model evaluate --task chat --data data/corpora/tasks/chat/test.tsv --json

## bench: compiled batched decoding against eager step-by-step decoding
bench: $(STAMP)
	$(PY) -m bench.decode

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
