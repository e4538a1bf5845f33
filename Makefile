# Two entry points for a fresh machine (README): `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORES ?= all

.PHONY: demo test lint dry-run clean gpu-wheels gpu-session-cpu

$(BIN)/snakemake: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/snakemake  ## the offline synthetic demo, end to end
	$(BIN)/snakemake --cores $(CORES)

test: $(BIN)/snakemake  ## unit tests, dry runs, a tiny end-to-end run, then lint
	$(BIN)/pytest
	$(MAKE) lint

lint: $(BIN)/snakemake
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check .
	$(BIN)/snakemake --lint

dry-run: $(BIN)/snakemake
	$(BIN)/snakemake -n --configfile config/config.yaml

# The prepared GPU call (docs/performance.md, "GPU session"): wheels for the GPU machine's Python,
# and its proof here at a CPU size in an environment holding only what the GPU machine holds.
GPU_PYTHON ?= 3.12
HERE_PYTHON := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
DEVICE_LIKE := .venv-devicelike

gpu-wheels:  ## what the GPU machine lacks, into .whl/cpXY (at most 60 MiB)
	$(PYTHON) benchmarks/gpu_wheels.py --python $(GPU_PYTHON)

$(DEVICE_LIKE)/installed: benchmarks/gpu_machine.txt
	rm -rf $(DEVICE_LIKE)
	$(PYTHON) -m venv $(DEVICE_LIKE)
	$(DEVICE_LIKE)/bin/pip install --quiet -r benchmarks/gpu_machine.txt
	touch $@

gpu-session-cpu: $(DEVICE_LIKE)/installed  ## the GPU call at a CPU size, as the GPU machine will run it
	$(PYTHON) benchmarks/gpu_wheels.py --python $(HERE_PYTHON)
	rm -rf /tmp/gpu_session_work /tmp/gpu_session_site_* gpu_session_out
	PYTHON=$(DEVICE_LIKE)/bin/python bash benchmarks/gpu_session.sh --cpu

clean:
	rm -rf results logs .snakemake
