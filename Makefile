# make test : create .venv (if needed), install the package with its test extras, run the test suite
# make lint : flake8 with the settings in setup.cfg
# make bench: network forward-time, data-pipeline, training and photo-restoration benchmarks (scripts/benchmark.py)
# make demo : build a small face set from package photos, train a tiny GFPGAN on the CPU, restore held-out faces
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: test lint bench demo clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e '.[test]'
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(PY) -m flake8 gfpgan scripts tests train.py

bench: $(STAMP)
	$(PY) scripts/benchmark.py

demo: $(STAMP)
	$(PY) scripts/demo.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
