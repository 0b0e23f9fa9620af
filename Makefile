# Daddy: the two commands are `make demo` and `make test` (each sets up .venv first).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.daddy-installed
PYTEST_ARGS ?=

.PHONY: install demo test bench lint slurm-up slurm-down clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

# The whole pipeline on the practice cartridge, on this machine (no SLURM needed):
# bootstrap savestates -> training segments -> eval video -> stability report.
demo: install
	$(BIN)/snakemake --cores 2 demo

# Starts the local single-node SLURM when run as root (the pipeline tests need it), then pytest.
test: install
	@if [ "$$(id -u)" = 0 ]; then \
		slurm/local-cluster/up.sh || echo "make test: local SLURM did not start; SLURM tests will skip"; \
	else \
		echo "make test: not root, so no local SLURM; SLURM tests skip (run 'sudo slurm/local-cluster/up.sh')"; \
	fi
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: install
	$(BIN)/python bench/env_speed.py

lint: install
	$(BIN)/ruff check daddy analysis pipeline bench tests

slurm-up:
	slurm/local-cluster/up.sh

slurm-down:
	slurm/local-cluster/down.sh

clean:
	rm -rf build .pytest_cache .snakemake
