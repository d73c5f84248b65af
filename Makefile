# radxai: two commands for a newcomer, `make reproduce` and `make test`. Each builds .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.radxai-installed
BENCH_VENV := bench/.venv
BENCH_BIN := $(BENCH_VENV)/bin
BENCH_STAMP := $(BENCH_VENV)/.radxai-installed
PROFILE ?= default

.PHONY: setup reproduce test test-browser test-faults lint unit notebooks lab bench clean-venv

setup: $(STAMP)

# Rebuilt only when the pinned requirements or the package metadata change.
$(STAMP): requirements.txt constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -r requirements.txt -c constraints.txt
	$(BIN)/python -m pip install --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name radxai --display-name "Python (radxai)"
	touch $(STAMP)

reproduce: $(STAMP)
	$(BIN)/radxai reproduce --profile $(PROFILE)

# Lint (ruff; the settings live in pyproject.toml), then the unit tests on both cores, then the
# notebooks in order, one at a time (later notebooks reuse the models earlier ones trained,
# through the shared run directory).
test: $(STAMP) lint
	$(BIN)/python -m pytest tests -n 2 -p no:cacheprovider
	$(BIN)/python -m pytest notebooks --nbval --nbval-current-env \
		--nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider

# The notebook viewers in a real browser (not part of `make test`): JupyterLab on 127.0.0.1 and
# Playwright driving Debian's Chromium (apt-get install chromium). Screenshots in browser/output/.
test-browser: $(STAMP)
	$(BIN)/python -m pip install -q -r browser/requirements.txt
	$(BIN)/python -m pytest browser -p no:cacheprovider

# Fault check (not part of `make test`: 10-15 minutes): a smoke run killed with SIGKILL at 10
# random points, resumed each time, must end with the outputs of an uninterrupted run.
# Figures in faults/output/kill_and_resume.json.
test-faults: $(STAMP)
	$(BIN)/python -m pytest faults -p no:cacheprovider

# Unit tests only (no notebooks): the quick loop while developing.
unit: $(STAMP)
	$(BIN)/python -m pytest tests -q

# Re-execute the committed notebooks in place with their smoke defaults (what nbval checks).
notebooks: $(STAMP)
	$(BIN)/radxai notebooks refresh

# JupyterLab for exploring: listens on 127.0.0.1 only, opens in the notebooks folder, new notebooks
# use the radxai kernel. The URL with its login token is printed; stop it with Ctrl-C.
lab: $(STAMP)
	$(BIN)/jupyter lab --ip=127.0.0.1 --no-browser --ServerApp.root_dir=notebooks \
		--MappingKernelManager.default_kernel_name=radxai $(if $(filter 0,$(shell id -u)),--allow-root)

lint: $(STAMP)
	$(BIN)/ruff check lib tests bench browser faults
	$(BIN)/ruff format --check lib tests bench browser faults

# radxai's own benchmarks in .venv; the comparisons with the peers in bench/.venv, which has
# PyPI's torch 2.14.1 and torchvision for pytorch-grad-cam (see bench/requirements.txt).
bench: $(STAMP) $(BENCH_STAMP)
	$(BIN)/python -m bench cam perturbation cohort
	$(BENCH_BIN)/python -m bench peers faithfulness

$(BENCH_STAMP): bench/requirements.txt constraints.txt pyproject.toml
	test -x $(BENCH_BIN)/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_BIN)/python -m pip install --upgrade pip
	grep -v -E '^(torch|torchvision)==' constraints.txt > $(BENCH_VENV)/constraints.txt
	$(BENCH_BIN)/python -m pip install -r bench/requirements.txt -c $(BENCH_VENV)/constraints.txt
	$(BENCH_BIN)/python -m pip install --no-deps -e .
	touch $@

clean-venv:
	rm -rf $(VENV) $(BENCH_VENV)
