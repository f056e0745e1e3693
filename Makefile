# Two commands: `make demo` (set up on first use, run the whole pipeline on the demo
# cohort) and `make test` (set up, run the test suite). Everything lives in .venv.
PYTHON ?= python3
VENV   ?= .venv
CORES  ?= 2
BIN     = $(VENV)/bin
# An unpinned `pip install torch` pulls a several-GB CUDA build. We install the CPU
# build pinned here first, unless the venv (or the system, with VENV_FLAGS) already has torch.
TORCH_SPEC ?= torch==2.13.0

# The demo's published results (the README's table): `make demo` compares its own with these,
# byte for byte, because the same inputs must give the same outputs on any machine.
REFERENCE ?= docs/demo
RESULTS   ?= results
CHECKED    = metrics comparison ceiling

.PHONY: setup demo compare-demo test report dag clean

# Every other library at the version in constraints.txt: the published demo tables need them.
$(BIN)/neurofusion: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV_FLAGS) $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test]"
	touch $@

setup: $(BIN)/neurofusion

# profiles/default needs no --profile: Snakemake loads it as the workflow's own profile
demo: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/snakemake --cores $(CORES)
	@$(MAKE) --no-print-directory compare-demo $(if $(filter 1,$(DEMO_STRICT)),,|| echo "demo: (expected after editing config/ or upgrading a library past constraints.txt; DEMO_STRICT=1 makes it an error)")

# Exit status 1 when any checked table differs from its published copy (CI: DEMO_STRICT=1 make demo)
compare-demo:
	@$(BIN)/python -c "from neurofusion.kernels import choose_cpu_kernels; choose_cpu_kernels(); from neurofusion.runtime import cpu_description; print('demo: on', cpu_description())"
	@$(BIN)/python -c "from importlib.metadata import version as v; print('demo: with', ', '.join(f'{p} {v(p)}' for p in ('torch', 'numpy', 'scipy', 'scikit-learn', 'SimpleITK', 'deepbet', 'nibabel', 'pandas')))"
	@status=0; for f in $(CHECKED); do \
	  if cmp -s "$(RESULTS)/eval/$$f.tsv" "$(REFERENCE)/$$f.tsv"; then \
	    echo "demo: $(RESULTS)/eval/$$f.tsv is byte-identical to the published $(REFERENCE)/$$f.tsv"; \
	  else \
	    echo "demo: $(RESULTS)/eval/$$f.tsv DIFFERS from the published $(REFERENCE)/$$f.tsv (published < > this run):"; \
	    diff "$(REFERENCE)/$$f.tsv" "$(RESULTS)/eval/$$f.tsv" | head -n 24; status=1; \
	  fi; \
	done; exit $$status

report: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/snakemake --cores $(CORES) --report report.html

# Two pytest-xdist workers, whole test files each (tests/conftest.py orders the files), whatever
# the machine's core count: TEST_WORKERS=0 runs the suite in one process.
TEST_WORKERS ?= 2
test: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -q --durations=15 $(if $(filter-out 0,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder)

dag: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/snakemake --rulegraph | dot -Tsvg > docs/rulegraph.svg

clean:
	rm -rf results .snakemake report.html
