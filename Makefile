# wpsgate: `make bench` runs the benchmark side by side with PyWPS and writes docs/benchmarks.md.

PYTHON ?= python3
VENV := .venv

.PHONY: bench bench-quick bench-tools

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q -e '.[processing]'

# The full run (about 12 to 15 minutes on 2 cores). PyWPS is installed into bench/.venv-pywps on first use;
# the schedulers are started by slurm-demo/start-all.sh when they are not running (as root).
bench: $(VENV)/bin/python bench-tools
	$(VENV)/bin/python -m bench

# A few minutes, for development; writes the same file.
bench-quick: $(VENV)/bin/python bench-tools
	$(VENV)/bin/python -m bench --quick

# wrk, the load generator for the throughput figures, from Debian when we are root (never fatal:
# without wrk the harness uses its own asyncio load generator and says so in the report).
bench-tools:
	@command -v wrk >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1 || \
	  apt-get install -y -qq wrk >/dev/null 2>&1 || \
	  (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq wrk >/dev/null 2>&1) || \
	  echo "bench-tools: could not install wrk; the asyncio load generator will be used"
