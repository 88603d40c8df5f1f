# The two set-up commands of the README: `make demo` and `make test`.
# Each builds .venv on first use with exactly the Lambda runtime's Python, the version pyproject.toml's
# requires-python names (scripts/find-python finds it; PYTHON=/path/to/python chooses one, and another
# version is refused): `make demo` installs only what the demo needs, `make test` adds the test tools.

VENV := .venv
PY := $(VENV)/bin/python
# A stand-in for the Lambda runtime: its Python with boto3 and botocore only.
LAMBDA_VENV := .venv-lambda
ARCH ?= x86_64

# A PYTHON of another version is refused on every run, even when .venv already exists.
ifdef PYTHON
python_refused := $(shell PYTHON='$(PYTHON)' scripts/find-python 2>&1 >/dev/null)
ifneq ($(python_refused),)
$(error $(python_refused))
endif
endif

.PHONY: demo test lint typecheck checkov dynalite bundle rdk-folder artifacts bench rules clean

# Editable installs in setuptools' strict mode: each module is linked into build/__editable__.*, a real
# entry on sys.path, so the rule folder (a directory without __init__.py) cannot shadow the module of the
# same name when Python runs from the project root (python -m pytest, python -m bench.run). Only the
# installed packages are linked; a module added or removed needs a new link, so the installs depend on
# the package folders, whose time changes only then.
EDITABLE := --config-settings editable_mode=strict
PACKAGE_DIRS := HeartbleedServerCertificate/heartbleed HeartbleedServerCertificate/heartbleed/ledger heartbleed_audit heartbleed_audit/demo heartbleed_audit/double
# A user's installation: `pip install .` (no extra) into a clean venv, which tests/test_packaging.py inspects.
USER_VENV := .venv-user
# checkov, the IaC scanner, in a venv of its own: it pins a boto3 and botocore older than the project's.
CHECKOV_VENV := .venv-checkov

# A new virtual environment whenever the pins change. The interpreter is found before the old venv goes,
# so that a refused or missing Python leaves a working .venv in place.
$(VENV)/.created: pyproject.toml
	python="$$(scripts/find-python)" && rm -rf $(VENV) && "$$python" -m venv $(VENV)
	touch $@

# The rule, its core and the AWS double (the `demo` extra); the test installation includes it.
$(VENV)/.demo-installed: $(VENV)/.created $(PACKAGE_DIRS)
	[ -f $(VENV)/.installed ] || $(PY) -m pip install --quiet -e '.[demo]' $(EDITABLE)
	touch $@

$(VENV)/.installed: $(VENV)/.created $(PACKAGE_DIRS)
	$(PY) -m pip install --quiet -e '.[test]' $(EDITABLE)
	touch $@

$(LAMBDA_VENV)/.installed: $(VENV)/.installed
	python="$$(scripts/find-python)" && rm -rf $(LAMBDA_VENV) && "$$python" -m venv $(LAMBDA_VENV)
	$(LAMBDA_VENV)/bin/python -m pip install --quiet \
		"boto3==$$($(PY) -c 'import importlib.metadata as m; print(m.version("boto3"))')" \
		"botocore==$$($(PY) -c 'import importlib.metadata as m; print(m.version("botocore"))')"
	touch $@

demo: $(VENV)/.demo-installed
	$(VENV)/bin/heartbleed-demo

# The Lambda zip for CloudFormation (make bundle ARCH=arm64 for Graviton).
bundle: $(VENV)/.installed
	$(PY) -m build_tools.bundle --arch $(ARCH)

# The rule folder with cryptography vendored, for `cd build/rdk && rdk deploy HeartbleedServerCertificate`.
rdk-folder: $(VENV)/.installed
	$(PY) -m build_tools.bundle --arch $(ARCH) --rdk-folder

$(USER_VENV)/.installed: pyproject.toml $(PACKAGE_DIRS)
	python="$$(scripts/find-python)" && rm -rf $(USER_VENV) build/lib build/bdist* && "$$python" -m venv $(USER_VENV)
	$(USER_VENV)/bin/python -m pip install --quiet .
	touch $@

# What the packaging tests inspect, built before pytest so that no test needs the network.
artifacts: $(VENV)/.installed $(LAMBDA_VENV)/.installed $(USER_VENV)/.installed
	$(PY) -m build_tools.bundle --arch x86_64
	$(PY) -m build_tools.bundle --arch arm64
	$(PY) -m build_tools.bundle --arch x86_64 --rdk-folder

# The console remediation document, rules/delete-unused-certificate.yaml, and its copy in
# rules/heartbleed-rule.yaml, from heartbleed_audit/certificate_users.py (a test keeps them equal).
rules: $(VENV)/.demo-installed
	$(PY) -m build_tools.ssm_document

# The test installation and matplotlib (the `bench` extra), for the benchmark's picture.
$(VENV)/.bench-installed: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[test,bench]' $(EDITABLE)
	touch $@

# The performance benchmark (about 70 minutes); writes bench/results.json, then the generated blocks
# (docs/performance.md, the README's headline) and bench/performance.png from it.
bench: $(VENV)/.bench-installed
	$(PY) -m bench.run
	$(PY) -m bench.report

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	python="$$(scripts/find-python)" && rm -rf $(CHECKOV_VENV) && "$$python" -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r requirements-checkov.txt
	touch $@

# Every template in rules/ against checkov's CloudFormation checks, offline (no platform download, no update
# check); any failure fails the target. A skipped check carries its reason in the template's Metadata.
CHECKOV_ARGS := --directory rules --framework cloudformation --skip-download --quiet --compact
checkov: $(CHECKOV_VENV)/.installed
	CKV_SKIP_PACKAGE_UPDATE_CHECK=true $(CHECKOV_VENV)/bin/checkov $(CHECKOV_ARGS)

# dynalite (npm), the second DynamoDB implementation tests/test_ledger.py runs the ledger against, pinned
# exactly in tools/dynalite/package-lock.json. Without node there is nothing to install: those tests skip,
# saying so, and the stamp stays missing so that a later make with node installs it.
DYNALITE := tools/dynalite
$(DYNALITE)/node_modules/.installed: $(DYNALITE)/package.json $(DYNALITE)/package-lock.json
	@if command -v node >/dev/null; then \
		cd $(DYNALITE) && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed; \
	else \
		echo "node not found: dynalite is not installed and the ledger's dynalite tests will skip"; \
	fi
dynalite: $(DYNALITE)/node_modules/.installed

test: $(VENV)/.installed lint typecheck checkov artifacts dynalite
	$(VENV)/bin/pytest

clean:
	rm -rf $(VENV) .venv-make $(LAMBDA_VENV) $(USER_VENV) $(CHECKOV_VENV) $(DYNALITE)/node_modules build dist
