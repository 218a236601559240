# Two commands set everything up on a fresh machine:
#   make run    installs what is missing into .venv, then runs the whole pipeline (quick profile)
#   make test   installs what is missing into .venv, lints (ruff), checks exercises/ against
#               solutions/, then runs the tests, every notebook and every solution
# A second call installs nothing: the install step is redone only when a requirements file changes.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.textrec-installed
PROFILE ?= quick
PYTEST_ARGS ?=

.PHONY: run test install lab exercises check-exercises clean gpu-check

install: $(STAMP)

$(STAMP): pyproject.toml requirements/lock-py311.txt requirements/encoder.txt requirements/scale.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -c 'import sys; v = sys.version_info[:2]; v == (3, 11) or print(f"note: the pin set is tested on Python 3.11, this is {v[0]}.{v[1]}")'
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -r requirements/lock-py311.txt
	$(BIN)/python -m pip install --quiet --no-deps -r requirements/encoder.txt
	$(BIN)/python -m pip install --quiet --no-deps -r requirements/scale.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

run: $(STAMP)
	TEXTREC_PROFILE=$(PROFILE) $(BIN)/textrec pipeline

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/textrec exercises --check
	TEXTREC_PROFILE=quick HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 MPLBACKEND=Agg TEXTREC_CHECK_FIGURES=1 \
		$(BIN)/python -m pytest tests notebooks solutions --nbval-lax --nbval-cell-timeout=900 \
		--durations=15 $(PYTEST_ARGS)

exercises: $(STAMP)
	$(BIN)/textrec exercises

check-exercises: $(STAMP)
	$(BIN)/textrec exercises --check

# Every notebook and solution in the full profile on a GPU, timed, with peak GPU memory and each
# lesson's headline -> benchmarks/results/full_profile.{md,json}. Refuses without a GPU.
#   make gpu-check DATA=/path/to/reviews_Musical_Instruments_5.json.gz GPU_CHECK_ARGS="--ab"
#   make gpu-check GPU_CHECK_ARGS=--dry-run
DATA ?=
GPU_CHECK_ARGS ?=
gpu-check: $(STAMP)
	$(BIN)/python benchmarks/full_profile.py $(if $(DATA),--data $(DATA)) $(GPU_CHECK_ARGS)

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

clean:
	rm -rf reports data/prepared .cache .pytest_cache
