# mewb: every target sets itself up on first use (.venv, pinned install, Jupyter kernel "mewb").
# `make demo` runs the main job, `make test` the tests; both are safe to run again.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# The stamp depends on the dependency files: editing them reinstalls, nothing else does.
STAMP := $(VENV)/.mewb-installed
PYTEST_ARGS ?=

.PHONY: install demo test test-slow test-all bench bench-quick lab doctor clean-venv

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	# torch pinned on the command line too: pip then takes the local CPU wheel, never CUDA builds.
	$(BIN)/python -m pip install --quiet -c constraints.txt "torch==2.13.0" -e ".[dev]"
	$(BIN)/python -m ipykernel install --user --name mewb --display-name "Python (mewb)" >/dev/null
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/mewb demo

# The everyday suite (minutes on 2 cores); checks marked `slow` (UMAP, full notebooks, browser
# end to end, real LOSO) run with `make test-slow`, and CI runs both.
test: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow $(PYTEST_ARGS)

test-all: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/mewb bench

bench-quick: $(STAMP)
	$(BIN)/mewb bench --quick

lab: $(STAMP)
	$(BIN)/jupyter lab --ip 127.0.0.1 --no-browser --notebook-dir notebooks

doctor: $(STAMP)
	$(BIN)/mewb doctor

clean-venv:
	rm -rf $(VENV)
