# Autoencoders — an executable textbook.
#   make book     build the HTML book into _build/html (offline; renders stored outputs)
#   make test     unit tests, every notebook under nbval, strict book build, browser check
#   make lab      JupyterLab with working widgets
#   make execute  re-run every notebook in place, storing outputs and widget state (NB=path for one)
#   make bench    run the benchmarks and write the appendix table

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
WIDGETS_JS := _widgets/embed-amd.js _widgets/require.js
NOTEBOOKS := $(sort $(wildcard book/*.ipynb))
NB ?= $(NOTEBOOKS)
# Stored outputs are CPU results at a fixed thread count, without progress bars: nbval compares them.
RUN_ENV := AELIB_DEVICE=cpu AELIB_NUM_THREADS=2 AELIB_PROGRESS=0 MPLBACKEND=module://matplotlib_inline.backend_inline PYTHONHASHSEED=0

.PHONY: install book test unit nbval book-strict browser lab execute bench clean

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (aelib)" >/dev/null
	@touch $@

# Offline copies of the widget manager for static pages (git-ignored; from the npm registry).
$(WIDGETS_JS):
	bash .ci/fetch_js.sh

book: $(STAMP) $(WIDGETS_JS)
	$(BIN)/jupyter-book build . --warningiserror --keep-going

book-strict: book

unit: $(STAMP)
	$(RUN_ENV) $(BIN)/pytest -q tests

nbval: $(STAMP)
	$(RUN_ENV) $(BIN)/pytest -q --nbval --nbval-current-env --nbval-sanitize-with .ci/nbval_sanitize.cfg \
	    -p no:cacheprovider $(NOTEBOOKS)

browser: book
	$(BIN)/python tests/browser/check_book.py _build/html

test: unit nbval book browser

lab: $(STAMP)
	$(BIN)/jupyter lab book/

execute: $(STAMP)
	@for nb in $(NB); do \
	  echo "executing $$nb"; \
	  $(RUN_ENV) $(BIN)/jupyter nbconvert --to notebook --execute --inplace \
	    --ExecutePreprocessor.timeout=600 --ExecutePreprocessor.kernel_name=python3 \
	    --NotebookExporter.preprocessors=[] \
	    --ExecutePreprocessor.store_widget_state=True "$$nb" || exit 1; \
	done

bench: $(STAMP)
	$(RUN_ENV) $(BIN)/python benchmarks/run_all.py

clean:
	rm -rf _build
