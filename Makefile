# Every target sets up .venv itself, so a fresh clone needs only Python 3.10+ and make.
#   make lab        JupyterLab on notebooks/
#   make test       unit tests, notebook hygiene, nbval on every notebook, ruff
#   make notebooks  re-execute every notebook in place (after changing tying_utils)
#   make bench      the benchmarks whose figures go into the README
#   make test-browser  the real-browser smoke test (needs Debian's chromium; .ci/run installs it)

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))

.PHONY: setup lab test unit nbval lint notebooks sync bench test-browser clean

setup: $(STAMP)

# On Python 3.11 (what CI runs) install the exact locked set; on another Python the lock's wheels
# may not exist, so resolve the package's own ranges with torch pinned (2.13.0, the CPU wheel here).
$(STAMP): requirements-lock.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@if $(PY) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then \
		$(PY) -m pip install -q -r requirements-lock.txt; \
	else \
		echo "Python is not 3.11: installing from pyproject ranges, not the lock"; \
		$(PY) -m pip install -q torch==2.13.0 -e '.[test,lab,browser,hf,docs]'; \
	fi
	$(PY) -m pip install -q --no-deps -e .
	@touch $(STAMP)

# JupyterLab refuses to run as root unless told; containers (and this project's CI) often are root.
lab: setup
	$(VENV)/bin/jupyter lab notebooks/ $$([ "$$(id -u)" = 0 ] && echo --allow-root)

test: lint unit nbval

lint: setup
	$(PY) -m ruff check tying_utils tests tools benchmarks notebooks

# Tests run on two workers; each gets one thread, because two workers with two threads each on a
# 2-core machine make PyTorch's thread pools fight and run many times slower.
WORKERS := OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

unit: setup
	$(WORKERS) $(PY) -m pytest tests -n 2 --dist loadscope -q

# --nbval-lax checks that every cell runs, and compares outputs only in cells marked
# tagged nbval-check-output; the sanitize file masks figure sizes, addresses and timings.
nbval: setup
	$(WORKERS) MPLBACKEND=Agg $(PY) -m pytest -n 2 --dist loadscope -q --nbval-lax \
		--nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=120 $(NOTEBOOKS)

sync: setup
	$(PY) tools/sync_notebooks.py

notebooks: sync
	$(PY) tools/execute_notebooks.py $(NOTEBOOKS)

bench: setup
	$(PY) benchmarks/paired_training.py
	$(PY) benchmarks/explorer.py

test-browser: setup
	$(PY) tests/browser/run_browser_test.py

clean:
	rm -rf $(VENV) artifacts
