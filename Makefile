# Two commands: `make demo` (set up on first use, run the whole pipeline on the demo
# cohort) and `make test` (set up, run the test suite). Everything lives in .venv.
PYTHON ?= python3
VENV   ?= .venv
CORES  ?= 2
BIN     = $(VENV)/bin
# An unpinned `pip install torch` pulls a several-GB CUDA build. We install the CPU
# build pinned here first, unless the venv (or the system, with VENV_FLAGS) already has torch.
TORCH_SPEC ?= torch==2.13.0

.PHONY: setup demo test report dag clean

$(BIN)/neurofusion: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV_FLAGS) $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

setup: $(BIN)/neurofusion

# profiles/default needs no --profile: Snakemake loads it as the workflow's own profile
demo: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/snakemake --cores $(CORES)

report: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/snakemake --cores $(CORES) --report report.html

test: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -q

dag: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/snakemake --rulegraph | dot -Tsvg > docs/rulegraph.svg

clean:
	rm -rf results .snakemake report.html
