# Two commands do everything on a fresh machine:
#   make lab   — JupyterLab on the demo notebook, tracking into the embedded default store (~/.mltrack)
#   make test  — install everything and run every test (core, client, magics, server, browser)
# and, not part of those: make mutate — mutation testing of the rule modules (docs/mutation.md; from 5 min to about 2 hours a module on 2 cores)

SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed-stamp
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
PORT ?= 8888

.PHONY: install lab test test-fast check-install chromium bench reliability mutate clean

$(PY):
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip

LAB_OVERRIDES := $(VENV)/share/jupyter/lab/settings/overrides.json

$(STAMP): $(PY) pyproject.toml package.json yarn.lock binder/overrides.json
	$(PIP) install -e ".[test,demo]"
	install -D -m 644 binder/overrides.json $(LAB_OVERRIDES)  # JupyterLab's defaults here: no news prompt
	touch $(STAMP)

install: $(STAMP)

check-install: install
	@$(VENV)/bin/jupyter labextension list 2>&1 | grep -E "jupyter-mltrack .*enabled.*OK" \
		|| { echo "the JupyterLab extension is not installed and enabled"; $(VENV)/bin/jupyter labextension list; exit 1; }
	@$(VENV)/bin/jupyter server extension list 2>&1 | grep -E "jupyter_mltrack.*enabled" \
		|| { echo "the server extension is not enabled"; exit 1; }
	@$(VENV)/bin/jupyter server extension list 2>&1 | grep -E "jupyter_mltrack .*OK" \
		|| { echo "the server extension does not load"; $(VENV)/bin/jupyter server extension list; exit 1; }

chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

lab: install
	cd examples && ../$(VENV)/bin/jupyter lab diabetes_regression.ipynb $(ROOT_FLAG) --port $(PORT) --LabApp.news_url=None

# in parallel, one worker per core (tests of one file stay on one worker: their module fixtures start once)
test: check-install chromium
	$(PY) -m pytest -n auto --dist loadfile

test-fast: install
	$(PY) -m pytest -m "not ui"

bench: install chromium
	$(PY) bench/run.py
	$(PY) bench/team.py
	$(PY) bench/explorer.py
	$(PY) bench/sidebar.py
	$(PY) bench/jobs.py
	$(PY) bench/ab.py
	$(PY) bench/figures.py
	$(PY) bench/serving.py

.PHONY: bench-team bench-explorer bench-sidebar bench-jobs bench-ab bench-figures bench-serving
# the explorer in chromium: table first paint, scrolling, a 1,000-run grouped chart (bench/explorer.py)
bench-explorer: install chromium
	$(PY) bench/explorer.py

# the sidebar in chromium: its first rows with 100,000 runs in the project (bench/sidebar.py)
bench-sidebar: install chromium
	$(PY) bench/sidebar.py

# figures and images: what log_figure / log_image / log_confusion_matrix cost the cell and the writer (bench/figures.py)
bench-figures: install
	$(PY) bench/figures.py

# jobs: trigger → run in the store, the scheduler's tick with 1,000 jobs (bench/jobs.py)
bench-jobs: install
	$(PY) bench/jobs.py

# A/B tests: the weighted split of 10,000 requests, the routing overhead against the same model alone (bench/ab.py)
bench-ab: install
	$(PY) bench/ab.py

# serving: predict p50/p99 and requests/s of mltrack serve beside mlflow models serve of the same model
bench-serving: install
	$(PY) bench/serving.py

# the team path: PostgreSQL, a team-mode server, 1 and 16 client processes with API keys (bench/team.py)
bench-team: install
	$(PY) bench/team.py

reliability: install
	$(PY) bench/reliability.py

MUTATE_STAMP := $(VENV)/.mutate-stamp

$(MUTATE_STAMP): $(STAMP)
	$(PIP) install -e ".[test,demo,mutate]"
	touch $(MUTATE_STAMP)

# every rule module by default; `make mutate MODULES="series blobs"` for some (tests/mutate.py lists them)
mutate: $(MUTATE_STAMP)
	$(PY) tests/mutate.py $(MODULES)

clean:
	rm -rf $(VENV) node_modules lib jupyter_mltrack/labextension *.egg-info .pytest_cache
