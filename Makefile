# The two set-up commands of the README: `make demo` and `make test`.
# Each builds .venv with exactly Python 3.12 (the Lambda runtime's version; PYTHON=/path/to/python3.12
# chooses one, and another version is refused) on first use: `make demo` installs only what the demo
# needs, `make test` adds the test tools.

VENV := .venv
PY := $(VENV)/bin/python
# A stand-in for the Lambda runtime: Python 3.12 with boto3 and botocore only.
LAMBDA_VENV := .venv-lambda
ARCH ?= x86_64

# A PYTHON that is not 3.12 is refused on every run, even when .venv already exists.
ifdef PYTHON
python_refused := $(shell PYTHON='$(PYTHON)' scripts/find-python3.12 2>&1 >/dev/null)
ifneq ($(python_refused),)
$(error $(python_refused))
endif
endif

.PHONY: demo test lint typecheck bundle rdk-folder artifacts bench rules clean

# A new virtual environment whenever the pins change.
$(VENV)/.created: pyproject.toml
	rm -rf $(VENV)
	python="$$(scripts/find-python3.12)" && "$$python" -m venv $(VENV)
	touch $@

# The rule, its core and the AWS double (the `demo` extra); the test installation includes it.
$(VENV)/.demo-installed: $(VENV)/.created
	[ -f $(VENV)/.installed ] || $(PY) -m pip install --quiet -e '.[demo]'
	touch $@

$(VENV)/.installed: $(VENV)/.created
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

$(LAMBDA_VENV)/.installed: $(VENV)/.installed
	rm -rf $(LAMBDA_VENV)
	python="$$(scripts/find-python3.12)" && "$$python" -m venv $(LAMBDA_VENV)
	$(LAMBDA_VENV)/bin/python -m pip install --quiet \
		"boto3==$$($(PY) -c 'import importlib.metadata as m; print(m.version("boto3"))')" \
		"botocore==$$($(PY) -c 'import importlib.metadata as m; print(m.version("botocore"))')"
	touch $@

demo: $(VENV)/.demo-installed
	$(VENV)/bin/heartbleed-demo

# The Lambda zip for CloudFormation (make bundle ARCH=arm64 for Graviton).
bundle: $(VENV)/.installed
	$(VENV)/bin/heartbleed-bundle --arch $(ARCH)

# The rule folder with cryptography vendored, for `cd build/rdk && rdk deploy HeartbleedServerCertificate`.
rdk-folder: $(VENV)/.installed
	$(VENV)/bin/heartbleed-bundle --arch $(ARCH) --rdk-folder

# What the packaging tests inspect, built before pytest so that no test needs the network.
artifacts: $(VENV)/.installed $(LAMBDA_VENV)/.installed
	$(VENV)/bin/heartbleed-bundle --arch x86_64
	$(VENV)/bin/heartbleed-bundle --arch arm64
	$(VENV)/bin/heartbleed-bundle --arch x86_64 --rdk-folder

# The console remediation document, rules/delete-unused-certificate.yaml, and its copy in
# rules/heartbleed-rule.yaml, from heartbleed_tools/certificate_users.py (a test keeps them equal).
rules: $(VENV)/.demo-installed
	$(PY) -m heartbleed_tools.ssm_document

# The test installation and matplotlib (the `bench` extra), for the benchmark's picture.
$(VENV)/.bench-installed: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[test,bench]'
	touch $@

# The performance benchmark (about 70 minutes); writes bench/results.json, then the README's
# performance figures and bench/performance.png from it.
bench: $(VENV)/.bench-installed
	$(PY) -P bench/run.py
	$(PY) -P -m heartbleed_tools.bench_report

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy

test: $(VENV)/.installed lint typecheck artifacts
	$(VENV)/bin/pytest

clean:
	rm -rf $(VENV) $(LAMBDA_VENV) build dist
