# Autoencoders — an executable textbook.
#   make book     build the HTML book into _build/html (renders stored outputs; the pages need no
#                 network). BOOK_CDN=1 make book: pages load MathJax and the widget manager from CDNs.
#   make test     unit tests, every notebook under nbval, strict book build, browser check, PDF check
#   make browser  open every page of the built book in headless Chromium, offline, and check math,
#                 images, sliders, solutions, launch links, accessibility (axe-core), dark theme and
#                 phone width (screenshots in _build/screenshots/)
#   make pdf      the whole book as one PDF, _build/pdf/autoencoders.pdf (XeLaTeX; make pdf-test checks it)
#   make dist     _build/dist/autoencoders-offline.zip: the HTML book and the notebooks, to read offline
#   make lab      JupyterLab with working widgets (LAB_ARGS=--no-browser, LAB_PORT=8888)
#   make lab-check  a live JupyterLab in headless Chromium: run chapter 6 (a copy), move a slider,
#                 retrain off the slider (progress, time limit, error near the sweep's curve),
#                 MyST admonitions rendered, no console errors (part of make test, about 1.5 min)
#   make execute  re-run every notebook in place, storing outputs and widget state (NB=path for one)
#   make bench    run the benchmarks and write the appendix table

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
WIDGETS_JS := _widgets/embed-amd.js _widgets/require.js _widgets/require-config.js
MATHJAX_JS := _mathjax/mathjax/tex-chtml.js
BOOK_CDN ?=
# Pinned script versions (fetched offline by .ci/fetch_js.sh; the CDN build links the same ones).
HTML_MANAGER_VERSION := 1.0.6
REQUIREJS_VERSION := 2.3.7
MATHJAX_VERSION := 3.2.2
LAB_PORT ?= 8888
# One kernel name and display name everywhere (ipykernel's default, as in Colab, Binder and a
# plain JupyterLab), so that the notebooks open unmodified.
KERNEL_DISPLAY := Python 3 (ipykernel)
LAB_ARGS ?=
PDF := _build/pdf/autoencoders.pdf
DIST := _build/dist/autoencoders-offline.zip
# Debian packages `make pdf` needs (.ci/run installs them).
PDF_APT := texlive-xetex texlive-latex-extra texlive-fonts-recommended latexmk fonts-dejavu-core fonts-dejavu-extra poppler-utils
# XeLaTeX never waits for input: no prompt on an error (it stops at the first one), stdin closed.
LATEX_ENV := LATEXOPTS="-interaction=nonstopmode -halt-on-error -file-line-error" LATEXMKOPTS="-silent"
NOTEBOOKS := $(sort $(wildcard book/*.ipynb))
NB ?= $(NOTEBOOKS)
# Stored outputs are CPU results at a fixed thread count, without progress bars: nbval compares them.
RUN_ENV := OMP_WAIT_POLICY=PASSIVE AELIB_DEVICE=cpu AELIB_NUM_THREADS=2 AELIB_PROGRESS=0 MPLBACKEND=module://matplotlib_inline.backend_inline PYTHONHASHSEED=0
# make lab runs in RUN_ENV too; `make lab LAB_ENV=OMP_WAIT_POLICY=PASSIVE` keeps your GPU and threads.
LAB_ENV ?= $(RUN_ENV)

.PHONY: install book test unit nbval book-strict browser pdf pdf-test dist lab lab-check execute execute-large nbval-large anywhere bench clean

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "$(KERNEL_DISPLAY)" >/dev/null
	@touch $@

# Offline copies of the widget manager and MathJax for static pages (git-ignored; npm registry).
$(WIDGETS_JS) $(MATHJAX_JS) &: .ci/fetch_js.sh
	HTML_MANAGER=$(HTML_MANAGER_VERSION) REQUIREJS=$(REQUIREJS_VERSION) MATHJAX=$(MATHJAX_VERSION) bash .ci/fetch_js.sh

ifeq ($(BOOK_CDN),1)
book: $(STAMP) $(WIDGETS_JS)
	@mkdir -p _build
	$(BIN)/python .ci/cdn_config.py _build/_config_cdn.yml $(HTML_MANAGER_VERSION) $(REQUIREJS_VERSION) $(MATHJAX_VERSION)
	$(BIN)/jupyter-book build . --warningiserror --keep-going --config _build/_config_cdn.yml
else
book: $(STAMP) $(WIDGETS_JS) $(MATHJAX_JS)
	$(BIN)/jupyter-book build . --warningiserror --keep-going
endif

book-strict: book

unit: $(STAMP)
	$(RUN_ENV) $(BIN)/pytest -q tests

nbval: $(STAMP)
	$(RUN_ENV) $(BIN)/pytest -q --nbval --nbval-current-env --nbval-sanitize-with .ci/nbval_sanitize.cfg \
	    -p no:cacheprovider $(NB)

browser: book
	timeout 900 $(BIN)/python tests/browser/check_book.py _build/html  # a hung browser fails in 15 min, not at the CI limit

# The whole book as one PDF through jupyter-book's LaTeX builder. Sliders print as the still picture
# their output carries; the LaTeX log stays in _build/latex/autoencoders.log (pdf-test reads it).
pdf: $(STAMP)
	@command -v xelatex >/dev/null && command -v latexmk >/dev/null && command -v pdfinfo >/dev/null || \
	  { echo "make pdf needs XeLaTeX, latexmk and poppler-utils: sudo apt-get install -y $(PDF_APT)"; exit 1; }
	@rm -rf _build/latex $(PDF) && mkdir -p $(dir $(PDF))
	@start=$$(date +%s); \
	$(LATEX_ENV) $(BIN)/jupyter-book build . --builder pdflatex --keep-going </dev/null || \
	  { grep -A4 '^[^ ]*:[0-9]*: \|^!' _build/latex/autoencoders.log | head -40; exit 1; }; \
	cp _build/latex/autoencoders.pdf $(PDF); \
	echo "make pdf: $(PDF), $$(pdfinfo $(PDF) | awk '/^Pages:/ {print $$2}') pages, $$(du -k $(PDF) | cut -f1) kB, built in $$(( $$(date +%s) - start )) s"

pdf-test: pdf
	BOOK_PDF=$(PDF) $(BIN)/pytest -q -p no:cacheprovider tests/test_pdf.py

# Offline bundle: the built HTML site (it loads nothing from the network) and the notebooks.
dist: book
	$(BIN)/python .ci/make_dist.py _build/html $(DIST)

test: unit nbval book browser pdf-test anywhere lab-check

# The widgets run live here (ipywidgets 8 + the jupyterlab_widgets lab extension in the venv).
# jupyterlab-myst (in requirements.txt) renders admonitions, dropdown solutions, math, {cite} and
# {doc} as on the page; RUN_ENV is the environment the stored outputs were made in.
lab: $(STAMP)
	@$(BIN)/jupyter labextension list 2>&1 | grep -q '@jupyter-widgets/jupyterlab-manager.*enabled' || \
	  { echo "the JupyterLab widget extension is missing: $(BIN)/pip install jupyterlab_widgets"; exit 1; }
	@$(BIN)/jupyter labextension list 2>&1 | grep -q 'jupyterlab-myst.*enabled.*OK' || \
	  { echo "jupyterlab-myst is missing or not compatible with this JupyterLab: $(BIN)/pip install -r requirements.txt"; exit 1; }
	@echo "JupyterLab on http://localhost:$(LAB_PORT)/lab (next free port if busy); the URL with its login token follows."
	$(LAB_ENV) $(BIN)/jupyter lab --port=$(LAB_PORT) $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS) book/

# A live JupyterLab (RUN_ENV, a free port, a token, a temporary folder with a copy of chapter 6)
# driven by headless Chromium; the script stops the server and its kernels whatever happens.
lab-check: $(STAMP)
	timeout 600 $(BIN)/python tests/browser/check_lab.py

# The GPU budget (AELIB_BUDGET=gpu) on whatever device is there (CUDA, MPS, else the CPU): every
# claim must hold at both budgets. execute-large stores its notebooks in _build/large/ (the book's
# stored outputs stay the CPU run); nbval-large checks that every cell runs and every assert holds.
LARGE_ENV := OMP_WAIT_POLICY=PASSIVE AELIB_PROGRESS=0 MPLBACKEND=module://matplotlib_inline.backend_inline PYTHONHASHSEED=0 AELIB_BUDGET=gpu

execute-large: $(STAMP)
	@mkdir -p _build/large
	@for nb in $(NB); do \
	  start=$$(date +%s); \
	  $(LARGE_ENV) $(BIN)/jupyter nbconvert --to notebook --execute --output-dir _build/large \
	    --ExecutePreprocessor.timeout=7200 --ExecutePreprocessor.kernel_name=python3 "$$nb" || exit 1; \
	  echo "$$nb at the GPU budget: $$(( $$(date +%s) - start )) s"; \
	done

nbval-large: $(STAMP)
	$(LARGE_ENV) $(BIN)/pytest -q --nbval-lax --nbval-current-env -p no:cacheprovider $(NB)

# Run a chapter as a reader outside this repository would: Colab-like (a fresh venv without aelib:
# the notebook's first cell installs it) and Binder-like (a fresh venv from binder/requirements.txt).
anywhere: $(STAMP)
	timeout 2400 $(BIN)/python tests/anywhere/check_anywhere.py

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
