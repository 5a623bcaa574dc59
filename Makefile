# Tweezers. `make demo` runs the product on SQLite with an embedded broker; `make test` runs
# the suite against the real PostgreSQL and Redis on 127.0.0.1.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000

# The demo needs no services: unset (or empty), DATABASE_URL and CELERY_BROKER_URL mean SQLite
# and kombu's filesystem broker under var/; set, the same commands use PostgreSQL and Redis.
DEMO_ENV := DJANGO_DEBUG=1 DATABASE_URL=$(DATABASE_URL) CELERY_BROKER_URL=$(CELERY_BROKER_URL)

TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/tweezers
TEST_BROKER_URL ?= redis://127.0.0.1:6379/15
TEST_ENV := DJANGO_DEBUG=1 DATABASE_URL=$(TEST_DATABASE_URL) CELERY_BROKER_URL=$(TEST_BROKER_URL) \
	TWEEZERS_VAR_DIR=$(CURDIR)/var/test HF_HUB_OFFLINE=1

MESSAGE_IGNORES := --ignore='.venv/*' --ignore='var/*' --ignore='tests/*' --ignore='bench/*' \
	--ignore='learning/*' --ignore='test-output/*' --ignore='demo_data/*'

.PHONY: install ocr-deps gettext-deps ldap-headers sso-deps messages demo demo-setup serve worker test test-fast lint format browser-deps bench clean engine-wheel

# The Korean (and any later) translations: .po files in the repository, compiled here.
MO_FILES := $(patsubst %.po,%.mo,$(wildcard locale/*/LC_MESSAGES/*.po))

install: $(VENV)/.installed $(MO_FILES) | ocr-deps

# Reinstalls only when a requirements file changes. pip prints each package as it goes: the
# first install fetches about 2.3 GB (torch is a third of it) and takes minutes.
$(VENV)/.installed: requirements.txt requirements-dev.txt | ldap-headers
	@echo "==> [1/2] Python virtualenv in $(VENV)/"
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "==> [2/2] Installing requirements-dev.txt: about 2.3 GB, one line per package (see README)"
	$(PY) -m pip install --disable-pip-version-check -r requirements-dev.txt \
		2> >(grep -v "is ignored: it is neither" >&2) \
		| { grep -E --line-buffered "^(Collecting|Successfully)" || true; }; test $${PIPESTATUS[0]} -eq 0
	touch $@

# Single sign-on, from Debian's packages where missing. python-ldap (django-auth-ldap) compiles
# against OpenLDAP's and Cyrus SASL's headers, which every install needs; only the tests need a
# real OpenLDAP (slapd, with ldap-utils' ldapmodify) and a real OpenID provider (npm's
# oidc-provider, run by Node), so `make demo` installs no server.
ldap-headers:
	@test -f /usr/include/ldap.h -a -f /usr/include/sasl/sasl.h || { \
		echo "==> Installing OpenLDAP and SASL headers (python-ldap compiles against them)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		libldap2-dev libsasl2-dev >/dev/null; }

sso-deps: ldap-headers
	@test -x /usr/sbin/slapd -a -x /usr/bin/ldapmodify || { echo "==> Installing slapd, ldap-utils"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		slapd ldap-utils >/dev/null; }
	@command -v node >/dev/null && command -v npm >/dev/null || { echo "==> Installing Node.js"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; }

# Imports read DICOM pixels for burned-in text with Tesseract (labeler/dicom/pixel_text.py): a
# DICOM file is refused while it is missing, so every install has it.
ocr-deps:
	@command -v tesseract >/dev/null || { echo "==> Installing Tesseract OCR from Debian"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends tesseract-ocr tesseract-ocr-eng >/dev/null; }

# msgfmt comes from Debian's gettext package, installed here when it is missing.
gettext-deps:
	@command -v msgfmt >/dev/null || { echo "==> Installing gettext (msgfmt) from Debian"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gettext >/dev/null; }

locale/%.mo: locale/%.po | gettext-deps
	msgfmt --check -o $@ $<

# Re-extract every marked string into the .po files after changing templates or code; the
# test suite fails while any msgid has no Korean translation.
messages: install
	$(DEMO_ENV) $(PY) manage.py makemessages -l ko -d django --no-location $(MESSAGE_IGNORES)
	$(DEMO_ENV) $(PY) manage.py makemessages -l ko -d djangojs --no-location $(MESSAGE_IGNORES) --ignore='static/vendor/*'

demo-setup: install
	$(DEMO_ENV) $(PY) manage.py migrate --noinput
	$(DEMO_ENV) $(PY) manage.py demo_setup

# set -m runs the demo in its own process group in the terminal's foreground: Ctrl-C reaches
# the demo's processes only, they stop and exit 0, and make has nothing to complain about.
demo: demo-setup
	@set -m; $(DEMO_ENV) PORT=$(PORT) scripts/run-demo

# Production-style serving against DATABASE_URL and CELERY_BROKER_URL (see README).
serve: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput
	PORT=$(PORT) scripts/run-serve

# Chromium for the browser tests, from Debian's packages (Playwright's own download cannot
# work offline).
browser-deps:
	@test -x /usr/bin/chromium || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@# A Korean font, so the Korean pages' screenshots show Hangul instead of empty boxes.
	@fc-list :lang=ko | grep -q . || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-nanum >/dev/null; }

test: install browser-deps sso-deps lint
	$(TEST_ENV) $(PY) -m pytest

test-fast: install
	$(TEST_ENV) $(PY) -m pytest -m "not slow and not browser and not worker"

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# The engine (learning/) as its own wheel, tweezers-learning, in dist/: that package only, its
# own dependencies (packaging/tweezers-learning/pyproject.toml). Built with the virtualenv's
# setuptools, without build isolation, so it needs no network and takes seconds; setuptools'
# build folder is removed first so that a module deleted from learning/ leaves the wheel too.
ENGINE_PACKAGING := packaging/tweezers-learning
engine-wheel: install
	rm -rf $(ENGINE_PACKAGING)/build
	$(PY) -m pip wheel --no-deps --no-build-isolation --wheel-dir dist ./$(ENGINE_PACKAGING)

clean:
	rm -rf var/ .pytest_cache .ruff_cache test-output $(ENGINE_PACKAGING)/build dist/
