# Tweezers: one image for the web server (the default command) and the Celery worker
# (override the command: see docker-compose.yml). Everything that differs between deployments
# comes from the environment; see .env.example.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    TWEEZERS_VAR_DIR=/app/var \
    DJANGO_STATIC_ROOT=/app/staticfiles \
    HF_HUB_OFFLINE=1

WORKDIR /app

# torch first, from PyTorch's CPU-only index: the same pin resolved on PyPI is the CUDA build,
# gigabytes of GPU libraries the worker never uses. requirements.txt then finds the pin
# satisfied (2.13.0+cpu matches ==2.13.0) and installs the rest from PyPI.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0
# Single sign-on with LDAP / Active Directory: python-ldap (django-auth-ldap) compiles against
# OpenLDAP's and Cyrus SASL's headers; their libraries stay for it at run time.
# Tesseract reads every imported DICOM image for text burned into its pixels.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev libldap2-dev libsasl2-dev \
       tesseract-ocr tesseract-ocr-eng \
    && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .

# Static files live outside var/, so a volume mounted there never hides a newer image's
# files. Settings refuse to load without a secret key when DEBUG is off: give collectstatic a
# throwaway one that exists only in this build step.
RUN DJANGO_SECRET_KEY=collectstatic-only-not-a-secret python manage.py collectstatic --noinput

# The code stays owned by root and read-only to the server; only var/ (database for the demo,
# media, uploads, artifacts, embeddings, beat schedule) is writable.
RUN useradd --system --create-home --uid 10001 --user-group tweezers \
    && mkdir -p /app/var/media \
    && chown -R tweezers:tweezers /app/var
USER tweezers

EXPOSE 8000

# Like scripts/run-serve, without its background workers and beat: in a container each is a
# service of its own (docker-compose.yml), e.g.  celery -A config worker -Q default,training
# --concurrency 1;  celery -A config worker -Q imports --autoscale 2,0;  celery -A config.beat beat
# config/gunicorn.py: a worker per CPU (WEB_CONCURRENCY overrides), timeout, access log.
CMD ["gunicorn", "-c", "config/gunicorn.py", "config.wsgi:application", "--bind", "0.0.0.0:8000"]
