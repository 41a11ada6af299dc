# driftloop: `make demo` runs the loop on embedded defaults, `make test` runs the tests, `make down` stops the demo.
SHELL := /bin/bash
PYTHON_VERSION ?= 3.11
VENV := .venv
STAMP := $(VENV)/.installed
export UV_COMPILE_BYTECODE := 1

.PHONY: venv test ui-check demo up down lock lint clean bench

venv: $(STAMP)

# Create .venv with uv (installed with pip when missing) and install the locked requirements plus the package.
$(STAMP): requirements.lock pyproject.toml
	@command -v uv >/dev/null 2>&1 || python3 -m pip install -q uv
	@[ -x $(VENV)/bin/python ] || uv venv -q --python $(PYTHON_VERSION) $(VENV)
	uv pip install -q --python $(VENV)/bin/python -r requirements.lock
	uv pip install -q --python $(VENV)/bin/python --no-deps -e .
	@touch $(STAMP)

test: venv
	$(VENV)/bin/pytest

# A headless browser (Debian's Chromium, installed when missing) looks at the train trigger form, the gate task log
# and the monitoring dashboard of a small run it sets up and tears down; screenshots in data/ui-check.
ui-check: venv
	@[ -x /usr/bin/chromium ] || { if [ "$$(id -u)" = 0 ]; then apt-get install -y chromium; \
	  else sudo apt-get install -y chromium; fi; }
	scripts/ui-check.sh

up: venv
	scripts/airflow-up.sh

demo: venv
	scripts/demo.sh

down:
	scripts/airflow-down.sh

# Every stage against its floor at SCALE feature rows (default 1,600,000: 100k entities a day; SCALES=a,b,c for
# growth exponents, SCALES=1600000,16000000 for 100k and 1M a day; BENCH_QUICK=1 for a small run): prints the table
# and writes bench/results/<date>-<commit>.json. bench/gpu_training.sh is its GPU part, for a machine with a GPU.
bench: venv
	$(VENV)/bin/python -m bench

# Regenerate the lock from the pinned direct requirements.
lock:
	uv pip compile requirements.txt --python-version $(PYTHON_VERSION) --no-header --annotation-style line -o requirements.lock

lint: venv
	$(VENV)/bin/ruff check include plugins dags tests bench

clean: down
	rm -rf data airflow_home
