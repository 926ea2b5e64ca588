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
# Hard limit of one quick-mode cell (they take seconds; a busy machine, a minute or two). tools/nbval_rerun.py also
# fails a cell within 60 s when its kernel goes quiet.
NBVAL_TIMEOUT ?= 300
# Jupyter refuses to run as root unless told to (containers, CI machines).
LAB_ARGS ?= $(if $(filter 0,$(shell id -u)),--allow-root,)

SITE   ?= build/site

# Test speed (issue 16): tests on PYTEST_WORKERS processes (pytest-xdist; a notebook's cells stay on one worker,
# --dist loadfile, so two lessons run side by side in two kernels); XLA programs compiled once per
# machine and reused by every test process and notebook kernel (JAX's persistent compilation cache); a few
# derandomised hypothesis examples per property (profile "ci"; `make test-thorough` draws many).
PYTEST_WORKERS ?= 2
# Each worker on its own CPUs (tools/cpu_share.py).
XDIST = -p tools.cpu_share -n $(PYTEST_WORKERS)
JAX_CACHE := $(CURDIR)/build/jax-cache
TEST_ENV = JAX_COMPILATION_CACHE_DIR=$(JAX_CACHE) JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0 \
	JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES=0
# Unit tests use small arrays, so compiling dominates their time: XLA compiles them without LLVM's backend
# optimisation (measured, empty caches, 2 cores: 970 unit tests 307 s -> 189 s). Same arithmetic, so every
# tolerance holds. The notebooks are compute-bound (nbval + re-run 461 s with default flags, 489 s with this
# flag and one XLA thread per kernel), so they keep the flags students run with.
UNIT_ENV = $(TEST_ENV) XLA_FLAGS="$(XLA_FLAGS) --xla_backend_optimization_level=0"

.PHONY: setup setup-newest-jax setup-newest-jax-dependencies lab notebooks test test-unit test-notebooks test-thorough test-seeds test-newest-jax test-notebooks-newest-jax lint site site-test readme-figures lock clean

setup: $(STAMP)

## The second environment: the newest jax, without neural-tangents (.venv-newest-jax).
setup-newest-jax: $(STAMP_NEWEST)

setup-newest-jax-dependencies: $(DEPS_NEWEST)

$(STAMP): pyproject.toml requirements/lock.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip==26.3"
	$(BIN)/python -m pip install -q -c requirements/lock.txt -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

# Two steps, so that CI can install the dependencies while the pinned environment installs (the editable
# install of this repository writes ntk_lessons.egg-info here, so the two `pip install -e .` never overlap).
DEPS_NEWEST := $(VENV_NEWEST)/.dependencies
$(DEPS_NEWEST): requirements/newest-jax.txt
	test -x $(VENV_NEWEST)/bin/python || $(PYTHON) -m venv $(VENV_NEWEST)
	$(VENV_NEWEST)/bin/python -m pip install -q --upgrade "pip==26.3"
	$(VENV_NEWEST)/bin/python -m pip install -q -r requirements/newest-jax.txt
	touch $(DEPS_NEWEST)

$(STAMP_NEWEST): $(DEPS_NEWEST) pyproject.toml
	$(VENV_NEWEST)/bin/python -m pip install -q --no-deps -e .
	touch $(STAMP_NEWEST)

## Launch JupyterLab on the lessons.
lab: $(STAMP)
	cd notebooks && ../$(BIN)/jupyter lab $(LAB_ARGS)

## Execute every notebook headless (full mode) into build/notebooks/, with outputs. tools/notebook_runner.py, not
## `jupyter nbconvert --execute`: plain nbclient can wait out its cell timeout on a widget cell (see the runner).
notebooks: $(STAMP)
	$(BIN)/python tools/notebook_runner.py --timeout 3600 --out build/notebooks notebooks/*.ipynb
	@echo "executed notebooks are in build/notebooks/"

## The whole test suite: unit tests + every notebook (quick mode) under nbval, then re-run in the same kernel.
test: test-unit test-notebooks

test-unit: $(STAMP)
	$(UNIT_ENV) $(BIN)/python -m pytest $(XDIST) -m "not notebooks and not site" tests

## The unit tests with many random examples per property test (hypothesis profile "thorough"): before a release.
test-thorough: $(STAMP)
	HYPOTHESIS_PROFILE=thorough $(UNIT_ENV) $(BIN)/python -m pytest $(XDIST) -m "not notebooks and not site" tests

## Each notebook in a fresh kernel ("Restart & run all", nbval), then every cell again in that same kernel, with its
## figures audited and its re-run checks compared (tools/nbval_rerun.py); then the tests of the notebook tools.
test-notebooks: $(STAMP)
	NTK_LESSONS_QUICK=$(TEST_QUICK) $(TEST_ENV) $(BIN)/python -m pytest $(XDIST) --dist loadfile \
		-p tools.nbval_rerun --nbval-lax --nbval-cell-timeout=$(NBVAL_TIMEOUT) notebooks
	$(TEST_ENV) $(BIN)/python -m pytest $(XDIST) -m notebooks tests

## Every notebook under nbval (quick mode) for three seed offsets: every check cell must hold for any seed.
SEED_OFFSETS ?= 1 2 3
test-seeds: $(STAMP)
	set -e; for offset in $(SEED_OFFSETS); do echo "== NTK_LESSONS_SEED_OFFSET=$$offset"; \
		NTK_LESSONS_SEED_OFFSET=$$offset NTK_LESSONS_QUICK=1 NTK_LESSONS_CACHE_DIR=$(CURDIR)/build/cache-seeds $(TEST_ENV) \
		$(BIN)/python -m pytest $(XDIST) --dist loadfile --nbval-lax --nbval-cell-timeout=$(NBVAL_TIMEOUT) \
		notebooks; done

## The package core's unit tests on the newest jax, without neural-tangents.
test-newest-jax: $(STAMP_NEWEST)
	$(UNIT_ENV) $(VENV_NEWEST)/bin/python -m pytest $(XDIST) -m "not neural_tangents and not notebooks and not site" tests

## Every notebook under nbval on the newest jax, without neural-tangents (its cross-check cells print one skip line).
## Its own sweep cache: these sweeps must run on the newest jax, not be read from the pinned run's cache.
test-notebooks-newest-jax: $(STAMP_NEWEST)
	NTK_LESSONS_QUICK=$(TEST_QUICK) NTK_LESSONS_CACHE_DIR=$(CURDIR)/build/cache-newest-jax $(TEST_ENV) \
		$(VENV_NEWEST)/bin/python -m pytest $(XDIST) --dist loadfile --nbval-lax --nbval-current-env \
		--nbval-cell-timeout=$(NBVAL_TIMEOUT) notebooks

## The course as static HTML in build/site/ (index with the lesson map + one page per lesson), from `make notebooks`.
site: notebooks
	$(BIN)/python tools/build_site.py build/notebooks --out $(SITE)

## Open the built site in headless Chromium with the network off: no console errors, every figure, math typeset.
## Installs Chromium + chromedriver (Debian packages) where missing and run as root; screenshots in $(SITE)/screenshots/.
site-test: $(STAMP)
	test -f $(SITE)/index.html || $(MAKE) site
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
		{ [ "$$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; } || \
		echo "site-test: no Chromium/chromedriver (apt-get install chromium chromium-driver): the browser test will be skipped"
	NTK_LESSONS_SITE=$(SITE) $(BIN)/python -m pytest -m site tests/test_site.py

## The README's lesson-map figures, docs/figures/LL.png, from the executed notebooks (commit them).
readme-figures: notebooks
	$(BIN)/python tools/lesson_map.py build/notebooks --figures docs/figures

## Lint the package and the tests (ruff; rules in pyproject.toml).
lint: $(STAMP)
	$(BIN)/ruff check ntk_lessons tests

## Re-resolve the pinned environment and rewrite requirements/lock.txt.
lock:
	rm -rf /tmp/ntk-lessons-lock && $(PYTHON) -m venv /tmp/ntk-lessons-lock
	/tmp/ntk-lessons-lock/bin/python -m pip install -q "pip==26.3" && /tmp/ntk-lessons-lock/bin/python -m pip install -q -e ".[dev]"
	{ head -2 requirements/lock.txt; /tmp/ntk-lessons-lock/bin/python -m pip freeze --exclude-editable | grep -v ntk; } > requirements/lock.tmp
	mv requirements/lock.tmp requirements/lock.txt

clean:
	rm -rf $(VENV) $(VENV_NEWEST) build .pytest_cache .hypothesis
