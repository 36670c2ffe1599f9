# Fashion-MNIST neural-network assignment: student check, grading, and our own tests.
# `make help` lists the targets. PY=python uses an existing environment (conda) instead of .venv.

SHELL := /bin/bash
VENV ?= .venv
PYTHON3 ?= python3
PY ?= $(VENV)/bin/python
SUBMISSION ?= solutions
RESULTS ?=
ONLY ?=
SUBMISSIONS ?=
GRADES ?= grades
FORCE ?=
SIMILARITY ?=

ifeq ($(PY),$(VENV)/bin/python)
SETUP := $(VENV)/.installed
else
SETUP :=
endif

# The paths a user passes reach the grader through the environment, never pasted into a recipe's
# text: a recipe names them as "$$GIVEN_...", which the shell expands as one word whatever the value
# holds (spaces, parentheses, quotes, $, a backtick), and they follow `--` or an `--option=`, so a
# leading - is no option. $(value ...) takes each as written: make expands nothing in it
# (`make grade SUBMISSION='a$b'` grades a$b). The variables themselves are not exported: make would
# expand them for the environment, and run a $(shell ...) written in a folder's name.
export GIVEN_SUBMISSION = $(value SUBMISSION)
export GIVEN_RESULTS = $(value RESULTS)
export GIVEN_ONLY = $(value ONLY)
export GIVEN_SUBMISSIONS = $(value SUBMISSIONS)
export GIVEN_GRADES = $(value GRADES)
unexport SUBMISSION RESULTS ONLY SUBMISSIONS GRADES FORCE SIMILARITY
# An empty value leaves its argument out (the grader's default): ${X:+"..."} is nothing when X is.
RESULTS_ARG = $${GIVEN_RESULTS:+"--results=$$GIVEN_RESULTS"}
ONLY_ARG = $${GIVEN_ONLY:+"--only=$$GIVEN_ONLY"}

.PHONY: help venv data check grade test test-fast gradescope submission seeds bench lint clean handout grade-all docs
.PHONY: run

help:
	@echo "make check                 grade student/ with the visible tests (students)"
	@echo "make run FILE=student/numpy_ann.py"
	@echo "                           run one file in .venv's Python: trains it, prints its accuracy"
	@echo "make grade [SUBMISSION=dir] [RESULTS=file]"
	@echo "                           grade a submission with every test; writes results.json"
	@echo "make test [TEST_JOBS=2]    the project's own test suite, TEST_JOBS processes at once"
	@echo "make test-fast             its quick tier: unit tests and small inputs, no grading or training (< 60 s)"
	@echo "make data                  put Fashion-MNIST into data/FashionMNIST/raw/"
	@echo "make gradescope            build dist/autograder.zip for Gradescope (instructors)"
	@echo "make submission            zip student/ into submission.zip for Gradescope (students)"
	@echo "make handout               build dist/handout.zip, what students receive (instructors)"
	@echo "make grade-all SUBMISSIONS=dir [GRADES=grades] [FORCE=1] [SIMILARITY=0]"
	@echo "                           grade a class in parallel (one folder per student, or Gradescope's"
	@echo "                           export); writes GRADES/ with grades.csv, similarity.csv,"
	@echo "                           report.md and report.png"
	@echo "make seeds                 train the reference under 5 seeds and check its margins"
	@echo "make bench                 time and memory of grading the reference, on one core and on all"
	@echo "make docs                  rewrite the generated tables of README.md and docs/CONTRACT.md (maintainers)"

# torch and torchvision: the CPU-only builds of PyTorch's own index (TORCH_INDEX) where it serves
# this platform (Linux: about 1 GB in the venv instead of 5.6 GB of CUDA libraries), tried first
# with a short timeout; where it is out of reach or has no build for the platform, PyPI's (macOS's
# is CPU-only already; Linux's carries CUDA). For a GPU: `make venv TORCH_INDEX=` (PyPI's CUDA
# build), or TORCH_INDEX=https://download.pytorch.org/whl/cu126.
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
PIP_INSTALL = -m pip install --quiet --disable-pip-version-check --timeout 10 --retries 1
TORCH_PINS = $(shell grep -E '^torch(vision)?==' requirements.txt)

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@echo "Setting up $(VENV) with the pinned requirements (once; torch is large) ..."
	$(PYTHON3) -m venv $(VENV)
	$(VENV)/bin/python $(PIP_INSTALL) --upgrade pip
	@# --no-deps: only torch and torchvision come from that index; their dependencies from PyPI next.
	$(if $(TORCH_INDEX),$(VENV)/bin/python $(PIP_INSTALL) --no-deps --index-url "$(TORCH_INDEX)" \
		$(TORCH_PINS) || echo "No CPU build of torch from $(TORCH_INDEX) here: PyPI's build instead")
	$(VENV)/bin/python $(PIP_INSTALL) -r requirements.txt -r requirements-dev.txt
	@$(VENV)/bin/python -c "import torch; print('torch', torch.__version__, 'installed')"
	touch $@

venv: $(SETUP)

data: $(SETUP)
	@$(PY) utils.py data

# A student file run as a program, in this project's Python (a bare `python FILE` needs .venv
# activated: `source .venv/bin/activate`).
FILE ?=
export GIVEN_FILE = $(value FILE)
unexport FILE
run: $(SETUP) data
	@if [ -z "$$GIVEN_FILE" ]; then \
		echo "Name the file: make run FILE=student/numpy_ann.py" >&2; exit 2; fi
	@$(PY) -- "$$GIVEN_FILE"

check: $(SETUP) data
	@$(PY) -m autograder.grade --visible-only $(RESULTS_ARG) $(ONLY_ARG) -- student

grade: $(SETUP) data
	@$(PY) -m autograder.grade $(RESULTS_ARG) $(ONLY_ARG) -- $${GIVEN_SUBMISSION:+"$$GIVEN_SUBMISSION"}

# make test runs TEST_JOBS pytest processes at once (pytest-xdist, from requirements-dev.txt), each grading as its
# own sandbox user, each test file in one of them (its module fixtures grade once); the reference's grading is
# shared by all (tests/conftest.py).
TEST_JOBS ?= 2
XDIST = $(shell $(PY) -c "import xdist" 2>/dev/null && echo "-n $(TEST_JOBS) --dist loadfile")

test: $(SETUP) data
	$(PY) -m pytest tests $(XDIST) --durations=20 -rs

test-fast: $(SETUP) data
	$(PY) -m pytest tests -m "not slow" -rs

gradescope: $(SETUP) data
	$(PY) -m autograder.packaging.gradescope build

submission: $(SETUP)
	@$(PY) -m autograder.packaging.submission

handout: $(SETUP) data
	$(PY) -m autograder.packaging.handout

grade-all: $(SETUP) data
	@$(PY) -m autograder.batch $${GIVEN_GRADES:+"--out=$$GIVEN_GRADES"} \
		$(if $(filter-out 0,$(value FORCE)),--force) \
		$(if $(filter 0,$(value SIMILARITY)),--no-similarity) \
		-- "$$GIVEN_SUBMISSIONS"

# The benchmark grades with a CPU build of torch, as Gradescope's image would (torchvision is not needed to grade):
# the version on the `# bench: torch==` line of requirements.txt.
BENCH_VENV ?= .venv-bench
BENCH_TORCH ?= $(shell sed -n 's/^# bench: torch==\([^[:space:]]*\).*/\1/p' requirements.txt)
$(BENCH_VENV)/.installed: requirements.txt
	$(PYTHON3) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check torch==$(BENCH_TORCH) \
		$$(grep -v -e '^torch' -e '^#' requirements.txt)
	touch $@

bench: $(SETUP) data $(BENCH_VENV)/.installed
	$(PY) -m autograder.bench --python $(BENCH_VENV)/bin/python

seeds: $(SETUP) data
	$(PY) tools/seeds.py

# The tables and numbers of README.md and docs/CONTRACT.md, from the specs and utils.THRESHOLDS (tools/docs.py).
docs: $(SETUP)
	$(PY) tools/docs.py

lint: $(SETUP)
	$(PY) -m ruff check .

# Everything the targets above write but .venv and data/, at its default place (GRADES, BENCH_VENV and RESULTS may
# come from the environment: an rm -rf of those would reach wherever they point).
clean:
	rm -rf build dist results.json submission.zip bench.json grades .venv-bench .pytest_cache .ruff_cache
	rm -f results_*.json
