# The README's two commands are `make demo` and `make test`; both set up first.
VENV  ?= .venv
BIN   := $(VENV)/bin
STAMP := $(VENV)/.rlgrade-installed
ASSIGNMENTS := w01_autoencoder w02_rotation w04_simclr w05_clustering

.PHONY: setup demo test test-fast validate lint templates clean

$(STAMP): pyproject.toml requirements/constraints.txt scripts/setup.sh
	VENV=$(VENV) scripts/setup.sh
	touch $@

setup: $(STAMP)

demo: setup
	$(BIN)/rlgrade grade examples/w01_autoencoder/A01_autoencoder.ipynb \
	    --assignment w01_autoencoder --out rlgrade-out/demo

test: setup
	$(BIN)/python -m pytest

test-fast: setup
	$(BIN)/python -m pytest -m "not slow"

validate: setup
	$(BIN)/rlgrade validate $(ASSIGNMENTS)

templates: setup
	$(BIN)/rlgrade templates

clean:
	rm -rf rlgrade-out .rlgrade/cache
