# Two entry points for a fresh machine (README): `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORES ?= all

.PHONY: demo test lint dry-run clean

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
	$(BIN)/snakefmt --check .
	$(BIN)/snakemake --lint

dry-run: $(BIN)/snakemake
	$(BIN)/snakemake -n --configfile config/config.yaml

clean:
	rm -rf results logs .snakemake
