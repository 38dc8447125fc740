# Every target sets up .venv itself, so a fresh clone needs only Python 3.10-3.13 and make.
#   make lab        JupyterLab on my-notebooks/, your working copies (git ignores them; made on
#                   first run); stop it with Ctrl+C twice in its terminal
#   make reset-notebook NB=03   put one working copy back as shipped (yours moves to
#                   my-notebooks/.replaced/); make reset-notebooks puts back all of them
#   make test       unit tests, notebook hygiene, nbval on every notebook, ruff
#   make test-colab every notebook in a Colab-like kernel (Python 3.12, torch preinstalled,
#                   ipywidgets 7.7.1, each notebook's own install line), in .venv-colab/
#   make notebooks  re-execute every notebook in place (after changing tying_utils)
#   make bench      the benchmarks whose figures go into the README
#   make test-widgets7  the explorer's tests under ipywidgets 7.7.1 (what Colab ships)
#   make test-browser  the real-browser smoke test (needs Debian's chromium; .ci/run installs it)
#   make test-audit-wide  audit against every transformers architecture the harness can build
#                   (tests/audit_wide/; 2-12 minutes on 2 cores, by load); make test runs a subset
#   make site       the course as a static HTML book in build/site/ (from the committed notebooks)
#   make test-site  open every page of build/site/ in a real browser: images, links, search
#   make wheelhouse every locked wheel in wheelhouse/, for a classroom without internet: when that
#                   folder is there, every target installs from it alone (--no-index)

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
WHEELHOUSE := wheelhouse
SITE      := build/site
# With a wheelhouse (make wheelhouse, then copied with the checkout), pip reads nothing else.
PIP_FROM  := $(if $(wildcard $(WHEELHOUSE)/*.whl),--no-index --find-links $(WHEELHOUSE),)
# JupyterLab's defaults for this environment only (the user's own settings are left alone).
LAB_OVERRIDES := $(VENV)/share/jupyter/lab/settings/overrides.json

.PHONY: setup lab test unit nbval lint notebooks sync bench test-browser site test-site \
	wheelhouse clean test-widgets7 test-colab reset-notebook reset-notebooks test-audit-wide

setup: $(STAMP) $(LAB_OVERRIDES)

# Each supported Python installs its own tested set: requirements-lock.txt on 3.11,
# requirements-lock-py3.X.txt on 3.10, 3.12 and 3.13 (each a pip freeze of a .venv that passed
# make test on that Python). torch==2.13.0 is the CPU wheel that lies on this machine's disk for
# Python 3.11 only: on 3.10, 3.12 and 3.13 pip takes PyTorch's default wheel from the registry,
# the CUDA build (about 5.5 GB in .venv with its nvidia-* and triton packages, against 1.8 GB on
# 3.11); it runs on the CPU as well. A Python with no lock resolves pyproject's ranges.
$(STAMP): requirements-lock.txt $(wildcard requirements-lock-py*.txt) pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@if [ -n "$(PIP_FROM)" ]; then echo "installing from $(WHEELHOUSE)/ only (no network)"; fi
	@minor=$$($(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])'); \
	if [ "$$minor" = 3.11 ]; then lock=requirements-lock.txt; \
	else lock=requirements-lock-py$$minor.txt; fi; \
	if [ -f "$$lock" ]; then \
		echo "Python $$minor: installing $$lock"; \
		$(PY) -m pip install -q $(PIP_FROM) -r "$$lock"; \
	else \
		echo "Python $$minor has no lock: installing from pyproject ranges"; \
		$(PY) -m pip install -q $(PIP_FROM) torch==2.13.0 -e '.[test,lab,browser,hf,deploy,docs]'; \
	fi
	$(PY) -m pip install -q $(PIP_FROM) --no-deps -e .
	@touch $(STAMP)

# JupyterLab asks every new user, in a pop-up, whether to fetch Jupyter news from the internet.
# The course's lab never does: overrides.json in the environment's app settings folder
# (JupyterLab's documented place for an installation's defaults) turns the news and the update
# check off for this .venv only. tests/browser/run_browser_test.py checks that no pop-up appears.
$(LAB_OVERRIDES): Makefile | $(STAMP)
	@mkdir -p $(@D)
	@printf '%s\n' '{"@jupyterlab/apputils-extension:notification":' \
		'  {"fetchNews": "false", "checkForUpdates": false}}' > $@

# JupyterLab refuses to run as root unless told; containers (and this project's CI) often are root.
# Students work on copies: my-notebooks/ (git-ignored) gets every notebook it lacks, and the
# tracked notebooks/ stay as shipped (tools/student_copies.py).
lab: setup
	@$(PY) tools/student_copies.py copy
	@echo "JupyterLab opens my-notebooks/, your own copies. To stop it: Ctrl+C twice here."
	$(VENV)/bin/jupyter lab my-notebooks/ $$([ "$$(id -u)" = 0 ] && echo --allow-root)

reset-notebook: setup
	@test -n "$(NB)" || { echo "say which notebook: make reset-notebook NB=03"; exit 2; }
	$(PY) tools/student_copies.py reset $(NB)

reset-notebooks: setup
	$(PY) tools/student_copies.py reset all

test: lint unit nbval

lint: setup
	$(PY) -m ruff check tying_utils tests tools benchmarks notebooks docs/site

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

# On an otherwise idle machine: contention.py starts busy processes of its own and compares the
# package's thread policy with PyTorch's default (a few minutes); its table goes into the README.
bench: setup
	$(PY) benchmarks/paired_training.py
	$(PY) benchmarks/explorer.py
	$(PY) benchmarks/transformer.py
	$(PY) benchmarks/contention.py
	$(PY) benchmarks/cli_help.py
	$(PY) benchmarks/audit_memory.py

# The explorer under ipywidgets 7.7.1, what Colab ships (the lock installs 8): installed once
# into .venv/widgets7 (with what 7.7.1 imports and 8 no longer needs), which goes first on
# PYTHONPATH for this run only; the test checks that 7.7.1 is the version in use.
WIDGETS7 := $(VENV)/widgets7
$(WIDGETS7)/.installed: | $(STAMP)
	$(PY) -m pip install -q --target $(WIDGETS7) --no-deps ipywidgets==7.7.1 \
		widgetsnbextension==3.6.10 ipython_genutils==0.2.0
	@touch $@

test-widgets7: $(WIDGETS7)/.installed
	PYTHONPATH=$(WIDGETS7) TYING_WIDGETS_VERSION=7.7.1 $(WORKERS) $(PY) -m pytest \
		tests/test_explorer.py -q -W ignore::DeprecationWarning

# A Colab-like kernel (tools/colab_like.py): Python 3.12 with what Colab preinstalls (PyTorch,
# numpy, matplotlib, tqdm, ipywidgets 7.7.1) in .venv-colab/, then every notebook with its own
# first-cell install line pointed at this checkout. COLAB_PYTHON names a Python 3.12.
COLAB_PYTHON ?= python3.12
COLAB := .venv-colab
COLAB_PREINSTALLED := torch==2.13.0 numpy matplotlib tqdm ipywidgets==7.7.1 ipykernel nbclient \
	nbformat
$(COLAB)/.installed:
	@test -x $(COLAB)/bin/python || $(COLAB_PYTHON) -m venv $(COLAB)
	$(COLAB)/bin/python -m pip install -q $(PIP_FROM) $(COLAB_PREINSTALLED)
	@touch $@

test-colab: $(COLAB)/.installed
	$(COLAB)/bin/python tools/colab_like.py $(NOTEBOOKS)

# Every architecture of transformers' causal-LM, masked-LM, seq2seq and image-text auto mappings
# that builds from a tiny config, tied and untied, broken and saved the usual ways; each verdict
# against ground truth. Writes artifacts/audit-wide.json; fails below 99.5% or on any crash.
test-audit-wide: setup
	$(WORKERS) HF_HUB_OFFLINE=1 $(PY) tests/audit_wide/run_all.py artifacts/audit-wide.json

test-browser: setup
	$(PY) tests/browser/run_browser_test.py

# Sphinx + MyST-NB + sphinx-book-theme (docs/site/conf.py): the committed notebooks as they are,
# nothing re-executed; warnings (a broken link, a missing image) fail the build. About 15 s.
site: setup
	rm -rf $(SITE) build/site-doctrees
	$(PY) -m sphinx -b html -c docs/site -d build/site-doctrees -W --keep-going -q . $(SITE)
	@echo "the book is in $(SITE)/ (open $(SITE)/index.html)"

# Reads the book make site built (it builds nothing itself, so CI builds the book once).
test-site: setup
	$(PY) tests/browser/run_site_test.py

# Every wheel of the lock, the build tools an editable install needs, and tying_utils itself as a
# wheel, for Python 3.11 on this kind of machine (OS and CPU). Run it where there is a network,
# copy the checkout with wheelhouse/ to the classroom's machines, and make setup (or make lab)
# installs from it alone.
wheelhouse:
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip download -q --only-binary=:all: -d $(WHEELHOUSE) -r requirements-lock.txt \
		'setuptools>=64' wheel
	rm -rf build/lib build/bdist.*  # so that no module deleted since the last build is packed
	$(PY) -m pip wheel -q --no-deps -w $(WHEELHOUSE) .
	@du -sh $(WHEELHOUSE)

clean:
	rm -rf $(VENV) $(COLAB) artifacts $(SITE) build/site-doctrees build/jupyter_execute
