# Two commands for a fresh clone (README.md, "Quickstart"):
#
#   make demo   set up .venv if need be, then run the main job: anynet train
#   make test   set up .venv with the test tools if need be, then run the whole test suite
#               as CI does (.ci/run): every test, then the conformance suite on
#               array-api-strict in its strictest mode
#
# Set-up happens once and again only when pyproject.toml changes. Options:
#   VENV=path     another virtual environment (CI uses a fresh .ci-venv)
#   PYTHON=exe    the interpreter that creates it (Python 3.10 or newer)
#   ARGS="..."    arguments for the first pytest run, e.g. ARGS="tests/test_cli.py -x"

PYTHON ?= python3
VENV ?= .venv
ARGS ?=
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip

.PHONY: demo test install install-dev clean-venv

demo: $(VENV)/.anynet-demo
	$(BIN)/anynet train

test: $(VENV)/.anynet-dev
	$(BIN)/python -c "import anynet; [print(s) for s in anynet.backends.available()]"
	@# pytest exits with 5 when it collected nothing: that is a failure here
	MPLBACKEND=Agg $(BIN)/pytest -p no:cacheprovider $(ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi; exit $$rc
	MPLBACKEND=Agg $(BIN)/pytest -p no:cacheprovider -q tests/conformance --backend array_api_strict --strictest

install: $(VENV)/.anynet-demo
install-dev: $(VENV)/.anynet-dev

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# What README.md's "Install" section says, line for line.
$(VENV)/.anynet-demo: pyproject.toml | $(BIN)/python
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e ".[plot]"
	touch $@

# torch first, pinned: an unpinned torch pulls a multi-GB CUDA build (see DEVELOPERS.md)
$(VENV)/.anynet-dev: pyproject.toml | $(BIN)/python
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[dev]"
	touch $@

clean-venv:
	rm -rf $(VENV)
