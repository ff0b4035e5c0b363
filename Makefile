# The two commands that matter: `make demo` and `make test`.
# Both prepare .venv first (Debian packages, Python packages) when needed.

VENV  := .venv
PY    := $(VENV)/bin/python
STAMP := $(VENV)/.hromada-installed

.PHONY: demo test bench install clean

demo: $(STAMP)
	$(VENV)/bin/hromada demo

test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider

bench: $(STAMP)
	$(PY) bench/ingest.py
	$(PY) bench/voting.py
	$(PY) bench/power.py
	$(PY) bench/cnap_queue.py
	$(PY) bench/cameras.py
	$(PY) bench/kiosk.py

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt scripts/bootstrap scripts/debian-packages.txt
	scripts/bootstrap

clean:
	rm -rf $(VENV) build *.egg-info demo-state test-artifacts
