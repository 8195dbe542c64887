# The two commands of the README are `make run` and `make test`; each sets up .venv itself.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-fast check-model-tests lint data train-all evaluate-all bench bench-inference bench-e2e \
	bench-training bench-scaling bench-chat bench-all clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (Python 3.11)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

## run: start the bot (a terminal chat on the shipped models when no TELEGRAM_BOT_TOKEN is set)
run: $(STAMP)
	$(PY) -m bot

## test: the whole test suite (unit tests, real-training tests, CLI tests, end-to-end tests), on
## two pytest-xdist workers that take whole files, longest first (tests/conftest.py)
test: $(STAMP)
	$(PY) -m pytest -q -n 2 --dist loadfile --durations=20

## test-fast: the inner loop (under 2 min): no TensorFlow, no bot or server processes
test-fast: $(STAMP)
	TESTS_WITHOUT_TF=1 $(PY) -m pytest -q -m "not e2e and not slow and not tf" --ignore=tests/e2e

## check-model-tests: the model tests 5 times with different data-order seeds, all green
check-model-tests: $(STAMP)
	PY=$(PY) tests/check_model_tests.sh 5

## lint: ruff and mypy; --strict on bot/, the emulator and the public model API (model.api and
## what it exposes)
STRICT := model/api.py model/predictor.py model/prediction.py model/settings.py \
	model/loading.py model/registry.py model/task_specs.py model/seq2seq_config.py
lint: $(STAMP)
	$(PY) -m ruff check bot model botapi_emulator tests bench
	$(PY) -m mypy
	$(PY) -m mypy --strict --follow-imports=silent bot botapi_emulator
	$(PY) -m mypy --strict --follow-imports=silent $(STRICT)

## data: download and build every corpus into data/corpora (cached; re-runs are quick)
data: $(STAMP)
	$(PY) -m model data build

## train-all: retrain every default model from scratch (see README for times on 2 cores)
train-all: $(STAMP) data
	$(PY) -m model train --task translate-en-zh --promote yes
	$(PY) -m model train --task translate-zh-en --promote yes
	$(PY) -m model train --task summarize --promote yes
	$(PY) -m model train --task chat --promote yes

## evaluate-all: held-out test figures of the current version of each task (needs `make data`)
T := data/corpora/tasks
evaluate-all: $(STAMP)
	awk -F'\t' '{print $$2 "\t" $$1}' $(T)/translate-en-zh/test-short.tsv > $(T)/translate-en-zh/test-short.zh-en.tsv
	awk -F'\t' '{print $$2 "\t" $$1}' $(T)/translate-en-zh/test.tsv > $(T)/translate-en-zh/test.zh-en.tsv
	$(PY) -m model evaluate --task translate-en-zh --data $(T)/translate-en-zh/test-short.tsv --json
	$(PY) -m model evaluate --task translate-en-zh --data $(T)/translate-en-zh/test.tsv --json
	$(PY) -m model evaluate --task translate-zh-en --data $(T)/translate-en-zh/test-short.zh-en.tsv --json
	$(PY) -m model evaluate --task translate-zh-en --data $(T)/translate-en-zh/test.zh-en.tsv --json
	$(PY) -m model evaluate --task summarize --data $(T)/summarize/test.tsv --json
	$(PY) -m model evaluate --task chat --data $(T)/chat/test.tsv --json
	$(PY) -m model evaluate --task qa --data tests/fixtures/qa/paraphrases-test.tsv --json
	$(PY) -m model evaluate --task intent --data tests/fixtures/intent/heldout.tsv --json

## bench: compiled batched decoding against eager step-by-step decoding
bench: $(STAMP)
	$(PY) -m bench.decode --xla

## bench-inference: naive per-message model calls vs the micro-batched service (about 3 min)
bench-inference: $(STAMP)
	$(PY) -m bench.inference

## bench-e2e: 50 users x 40 messages through the Bot API emulator, also beside a training (10 min)
bench-e2e: $(STAMP)
	$(PY) -m bench.e2e

## bench-training: training throughput of each default model (about 2 min)
bench-training: $(STAMP)
	$(PY) -m bench.training

## bench-scaling: latency and throughput against users (1-200) and input length (about 10 min)
bench-scaling: $(STAMP)
	$(PY) -m bench.scaling

## bench-chat: the chat model's tuned beam search against plain beam search (about 1 min)
bench-chat: $(STAMP)
	$(PY) -m bench.chat_decoding

## bench-all: every benchmark; results in bench/results (json, md, png)
bench-all: bench bench-inference bench-training bench-e2e bench-scaling bench-chat

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
