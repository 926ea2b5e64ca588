# ntk-lessons: every target creates .venv (pinned: jax 0.5.3 + neural-tangents 0.6.5) when missing.
PYTHON ?= python3
VENV   ?= .venv
VENV_NEWEST ?= .venv-newest-jax
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
STAMP_NEWEST := $(VENV_NEWEST)/.installed
export JAX_PLATFORMS ?= cpu
# Tests run the notebooks in quick mode (smaller widths, fewer seeds); `make notebooks` runs them in full.
TEST_QUICK ?= 1
NBVAL_TIMEOUT ?= 900
# Jupyter refuses to run as root unless told to (containers, CI machines).
LAB_ARGS ?= $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: setup lab notebooks test test-unit test-notebooks test-newest-jax lock clean

setup: $(STAMP)

$(STAMP): pyproject.toml requirements/lock.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip==26.3"
	$(BIN)/python -m pip install -q -c requirements/lock.txt -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

$(STAMP_NEWEST): requirements/newest-jax.txt pyproject.toml
	test -x $(VENV_NEWEST)/bin/python || $(PYTHON) -m venv $(VENV_NEWEST)
	$(VENV_NEWEST)/bin/python -m pip install -q --upgrade "pip==26.3"
	$(VENV_NEWEST)/bin/python -m pip install -q -r requirements/newest-jax.txt
	$(VENV_NEWEST)/bin/python -m pip install -q --no-deps -e .
	touch $(STAMP_NEWEST)

## Launch JupyterLab on the lessons.
lab: $(STAMP)
	cd notebooks && ../$(BIN)/jupyter lab $(LAB_ARGS)

## Execute every notebook headless (full mode) into build/notebooks/, with outputs.
notebooks: $(STAMP)
	mkdir -p build/notebooks
	$(BIN)/jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=3600 \
		--output-dir build/notebooks notebooks/*.ipynb
	@echo "executed notebooks are in build/notebooks/"

## The whole test suite: unit tests + every notebook under nbval (quick mode).
test: test-unit test-notebooks

test-unit: $(STAMP)
	$(BIN)/python -m pytest tests

test-notebooks: $(STAMP)
	NTK_LESSONS_QUICK=$(TEST_QUICK) $(BIN)/python -m pytest --nbval-lax --nbval-cell-timeout=$(NBVAL_TIMEOUT) notebooks

## The package core's unit tests on the newest jax, without neural-tangents.
test-newest-jax: $(STAMP_NEWEST)
	$(VENV_NEWEST)/bin/python -m pytest -m "not neural_tangents" tests

## Re-resolve the pinned environment and rewrite requirements/lock.txt.
lock:
	rm -rf /tmp/ntk-lessons-lock && $(PYTHON) -m venv /tmp/ntk-lessons-lock
	/tmp/ntk-lessons-lock/bin/python -m pip install -q "pip==26.3" && /tmp/ntk-lessons-lock/bin/python -m pip install -q -e ".[dev]"
	{ head -2 requirements/lock.txt; /tmp/ntk-lessons-lock/bin/python -m pip freeze --exclude-editable | grep -v ntk; } > requirements/lock.tmp
	mv requirements/lock.tmp requirements/lock.txt

clean:
	rm -rf $(VENV) $(VENV_NEWEST) build .pytest_cache .hypothesis
