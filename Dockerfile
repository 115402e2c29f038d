# One image, two roles: `serve` (the API, default) and `worker` (arq). Migrations run as
# their own step: `docker run … shenguan migrate` (compose: the one-shot `migrate` service).

# --- build the project wheel (sources stay out of the final image) ----------------------
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml ./
COPY api ./api
COPY models ./models
COPY workers ./workers
RUN pip wheel --no-deps --wheel-dir /wheels .

# --- runtime ----------------------------------------------------------------------------
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    HOST=0.0.0.0 \
    PORT=8000 \
    SHENGUAN_LOG_FORMAT=json \
    SHENGUAN_VAR_DIR=/app/var

# Dependencies first, in their own layer: it is rebuilt only when the pins change.
# The runtime requirements are read from pyproject.toml; constraints.txt fixes every
# transitive version (dev tools listed there are constraints only, not installed).
COPY pyproject.toml constraints.txt /tmp/pins/
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('/tmp/pins/pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/pins/requirements.txt \
    && pip install -r /tmp/pins/requirements.txt -c /tmp/pins/constraints.txt \
    && rm -rf /tmp/pins

# The project itself: its dependencies are all in the layer above (`pip check` proves it).
COPY --from=build /wheels /wheels
RUN pip install --no-deps /wheels/*.whl && rm -rf /wheels && pip check

RUN groupadd --system --gid 10001 shenguan \
    && useradd --system --uid 10001 --gid shenguan --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin shenguan \
    && mkdir -p /app/var/files \
    && chown -R shenguan:shenguan /app
WORKDIR /app
USER shenguan

EXPOSE 8000
# No curl in the slim image; the standard library does the probe. Meaningful for `serve`
# only: compose disables it for the worker and migrate roles.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; r = urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=4); sys.exit(0 if r.status == 200 else 1)"]

ENTRYPOINT ["shenguan"]
CMD ["serve"]
