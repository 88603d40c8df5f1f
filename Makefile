# The two set-up commands of the README: `make demo` and `make test`.
# Each builds .venv with Python 3.12 (the Lambda runtime's version) on first use.

VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test lint typecheck clean

$(VENV)/.installed: pyproject.toml
	rm -rf $(VENV)
	"$$(scripts/find-python3.12)" -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/heartbleed-demo

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy

test: $(VENV)/.installed lint typecheck
	$(VENV)/bin/pytest

clean:
	rm -rf $(VENV)
