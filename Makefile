# Two commands on a fresh machine (see README.md):
#   make book   builds the rendered book into book/_build/html
#   make test   runs every test: lint, library, agreement, environment files, nbval, book build
# and, for teaching, make student: the chapters without their solutions in build/student.
# Both create the project environment (.venv, pinned in pyproject.toml) first if it is missing.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-from-pyproject
export OMP_NUM_THREADS ?= 2
export PYTHONHASHSEED := 0
NBVAL_WORKERS ?= 2

JB_ARGS := . --config book/_config.yml --toc book/_toc.yml --path-output book

.PHONY: env book test lint unit notebooks browser chromium student clean

env: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (the pins are for Python 3.11)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[all]"
	touch $@

book: env
	$(BIN)/jupyter-book build $(JB_ARGS) -W -n --keep-going
	@echo "The book is in book/_build/html/index.html"

# The library tests, nbval and the book build share nothing but the CPU: they run side by side
# (one core's worth each, output kept per target), then the browser reads the built book.
test: lint
	$(MAKE) --no-print-directory -j3 --output-sync=target unit notebooks book NBVAL_WORKERS=1
	$(MAKE) --no-print-directory browser

lint: env
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

unit: env
	$(BIN)/python -m pytest

# nbval runs each chapter as a notebook in this environment: every cell must run, and the
# chapters' assert cells are where their claims are checked.
notebooks: env
	rm -rf build/nbval && mkdir -p build/nbval
	for f in notebooks/[0-9]*.md; do \
		$(BIN)/jupytext --quiet --to ipynb -o build/nbval/$$(basename $$f .md).ipynb $$f || exit 1; \
	done
	$(BIN)/python -m pytest --nbval-lax --nbval-current-env --nbval-cell-timeout=300 \
		-n $(NBVAL_WORKERS) --dist loadscope -p no:cacheprovider -o addopts="" build/nbval

# The built book in headless Chromium (Debian's package; as root we install it if missing).
browser: env chromium
	$(BIN)/python -m pytest -m book -o addopts="-ra" -p no:cacheprovider tests/test_rendered_book.py

chromium:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
		apt-get install -y -qq chromium >/dev/null; } || { echo "install Debian's chromium"; exit 1; }

# The student edition: every chapter without its worked solutions, as .md and .ipynb.
student: env
	$(BIN)/python -m xent.student_edition notebooks build/student

clean:
	rm -rf book/_build build
