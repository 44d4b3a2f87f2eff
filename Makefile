PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000
# the browser tests drive Debian's Chromium (Playwright never downloads a browser here)
CHROMIUM ?= /usr/bin/chromium
APT_GET ?= apt-get
# the credit report's CJK font (Debian's fonts-noto-cjk) and the tools its tests read PDFs with
CJK_FONT ?= /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
PDFTOTEXT ?= /usr/bin/pdftotext

.PHONY: install chromium pdf-tools test check coverage demo bench format lint typecheck clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# installed when missing and we may (root, apt-get), as CI does; else the browser tests are
# skipped, and this says why
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v $(firstword $(APT_GET)) > /dev/null; then \
	    echo "installing Debian's chromium for the browser tests"; \
	    $(APT_GET) update -qq && $(APT_GET) install -y -qq chromium chromium-driver > /dev/null; \
	  else \
	    echo "note: no $(CHROMIUM), and installing it needs root and apt-get: the browser tests will be skipped" >&2; \
	  fi; \
	fi

# the same for the credit report: its font, and poppler-utils (pdftotext, pdftoppm) for its tests
pdf-tools:
	@if [ ! -f $(CJK_FONT) ] || [ ! -x $(PDFTOTEXT) ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v $(firstword $(APT_GET)) > /dev/null; then \
	    echo "installing Debian's fonts-noto-cjk and poppler-utils for the credit report"; \
	    $(APT_GET) update -qq && $(APT_GET) install -y -qq fonts-noto-cjk poppler-utils > /dev/null; \
	  else \
	    echo "note: no $(CJK_FONT) or $(PDFTOTEXT), and installing them needs root and apt-get: the credit report's tests will be skipped" >&2; \
	  fi; \
	fi

test: $(STAMP) chromium pdf-tools
	$(BIN)/python -m pytest -q

format: $(STAMP)
	$(BIN)/ruff format .

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy gongshi disclosure api portal search_index publishers bench tests

check: lint typecheck test

# the suite under coverage (branches too, see pyproject's [tool.coverage]); fails below the
# thresholds (held at what the suite reaches: 95 % overall, 100 % of api/execution.py): the
# whole code's, and api/execution.py's, whose fallbacks must each stay exercised
COVERAGE_MIN ?= 95
EXECUTION_COVERAGE_MIN ?= 100
coverage: $(STAMP) chromium pdf-tools
	$(BIN)/python -m pytest -q --cov --cov-report=
	$(BIN)/coverage report --fail-under=$(COVERAGE_MIN)
	$(BIN)/coverage report --include=api/execution.py --fail-under=$(EXECUTION_COVERAGE_MIN)

demo: $(STAMP)
	$(BIN)/gongshi demo --port $(PORT)

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	command -v wrk > /dev/null || (apt-get update -qq && apt-get install -y -qq wrk > /dev/null)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
