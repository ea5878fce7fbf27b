# The CNN Book. `make book` builds the site, `make test` runs every test.
# Both create .venv when it is missing and install what they need first.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q
JOBS   ?= 2

.PHONY: help book pdf exercises test test-lowest lab execute student serve bench bench-book grade clean mathjax

help:
	@echo "make book     build the site into _build/html"
	@echo "make pdf      print the whole book to _build/pdf/cnn-book.pdf (then make book links it)"
	@echo "make test     run every test (package, notebooks, exercise version, site)"
	@echo "make test-lowest  the package tests with the lowest versions the requirements allow"
	@echo "make lab      open the chapters in JupyterLab"
	@echo "make execute  re-run every chapter in place, refreshing its committed outputs"
	@echo "make student  write the exercise version of every chapter into student/ (and student/plain/)"
	@echo "make exercises  write the exercises branch (exercise version, package, Binder files) to _build/exercises"
	@echo "make grade    grade the exercise version (cnnbook-grade, an instructor's autograder)"
	@echo "make serve    serve the built site on http://localhost:8000"
	@echo "make bench    time the kernels side by side with PyTorch CPU"
	@echo "make bench-book  each chapter's run time and peak memory"

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.book: $(PY) requirements.txt pyproject.toml
	$(PIP) install -r requirements.txt
	@touch $@

$(VENV)/.test: $(VENV)/.book requirements-test.txt
	$(PIP) install -r requirements-test.txt
	@touch $@

# MathJax is installed from npm at build time (pinned in package.json), never fetched
# from a CDN by the page and never committed. It goes to _build/static (html_static_path
# in _config.yml), not to a top-level _static/: Jupyter Book adds every .js file under a
# static path to every page when a top-level _static/ folder exists.
MATHJAX := _build/static/mathjax

$(MATHJAX)/tex-chtml.js: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	rm -rf $(MATHJAX) && mkdir -p $(dir $(MATHJAX)) && cp -r node_modules/mathjax/es5 $(MATHJAX)
	@touch $@

mathjax: $(MATHJAX)/tex-chtml.js

book: $(VENV)/.book mathjax
	@mkdir -p _build/pdf
	$(VENV)/bin/jupyter-book build . -W -n --keep-going
	@echo "The book is in _build/html: open file://$(CURDIR)/_build/html/index.html or run 'make serve'"

# The whole book as one PDF, offline: the single-page HTML build printed by the system
# Chromium through Playwright (book/_ext/print_pdf.py), math typeset by MathJax first.
# `make book` after it puts the PDF on the site; `make test` does both.
pdf: $(VENV)/.test mathjax
	@mkdir -p _build/pdf
	$(VENV)/bin/jupyter-book build . --builder singlehtml -W -n --keep-going
	$(PY) book/_ext/print_pdf.py _build/singlehtml _build/pdf/cnn-book.pdf

# Tests run JOBS processes at once, each with one BLAS thread: two processes with two
# OpenBLAS threads each on two cores spin against each other and run several times slower.
# CNNBOOK_RECORD=off: the notebooks' passed checks are not added to the reader's progress.
THREADS := OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 CNNBOOK_RECORD=off

test: $(VENV)/.test pdf book exercises
	$(THREADS) $(PY) -m pytest -n $(JOBS) --dist loadscope tests
	$(THREADS) $(PY) -m pytest -n $(JOBS) --dist loadscope --nbval --nbval-current-env \
	    --nbval-sanitize-with tests/nbval_sanitize.cfg chapters
	$(MAKE) test-lowest

# The package tests again in a second environment, .venv-lowest, holding the lowest
# versions the requirements allow (requirements-lowest.txt: numpy 1.26, matplotlib 3.7, ...),
# so a declared range is a promise kept. Not the notebooks, the exercise version, the
# exercises branch, the workflows or the site: they need Jupyter, node and a browser. (Today's pyparsing warns about matplotlib 3.7's calls: not ours.)
LOWEST    := .venv-lowest
LOWEST_PY := $(LOWEST)/bin/python

$(LOWEST)/.installed: requirements-lowest.txt pyproject.toml
	$(PYTHON) -m venv $(LOWEST)
	$(LOWEST_PY) -m pip --disable-pip-version-check -q install -r requirements-lowest.txt
	@touch $@

test-lowest: $(LOWEST)/.installed
	$(THREADS) $(LOWEST_PY) -m pytest -n $(JOBS) --dist loadscope -p no:cacheprovider \
	    -W "ignore::pyparsing.PyparsingDeprecationWarning" \
	    --ignore tests/test_site.py --ignore tests/test_student.py --ignore tests/test_publish.py \
	    --ignore tests/test_workflows.py tests

lab: $(VENV)/.book
	$(VENV)/bin/jupyter lab chapters

execute: $(VENV)/.book
	$(PY) -m cnnbook.course.execute chapters/*.ipynb

# student/ for JupyterLab (jupyterlab-myst renders the MyST); student/plain/ in plain
# Markdown for Colab and a Jupyter without jupyterlab-myst.
student: $(VENV)/.book
	$(PY) -m cnnbook.course.student chapters student
	$(PY) -m cnnbook.course.student --plain-markdown chapters student/plain

# The content of the `exercises` branch, which the site's Binder and Colab buttons open:
# every chapter's exercise version in plain Markdown, the package and Binder's files.
# .github/workflows/book.yml pushes it to the branch.
exercises: $(VENV)/.book
	$(PY) -m cnnbook.course.publish _build/exercises

# A class: cnnbook-grade CLASS_FOLDER -j 4 --csv gradebook.csv --totals totals.csv
grade: student
	$(PY) -m cnnbook.course.grade -j $(JOBS) student/*.ipynb

serve: book
	$(PY) -m http.server --directory _build/html 8000

bench: $(VENV)/.test
	$(PY) benchmarks/run.py --json benchmarks/results/latest.json

# Each chapter's run time and peak memory, one after another (the book's speed targets).
bench-book: $(VENV)/.book
	$(PY) benchmarks/chapters.py --json benchmarks/results/chapters.json

clean:
	rm -rf _build student node_modules $(LOWEST)
