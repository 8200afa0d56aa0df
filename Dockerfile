# syntax=docker/dockerfile:1
# Portico API / worker image. Build: docker build -t portico .
# The entrypoint is `portico`; the default command serves the API:
#   docker run portico                 -> portico serve --host 0.0.0.0 --port 8000
#   docker run portico worker          -> portico worker
#   docker run portico migrate         -> portico migrate
# Checked by tests/deploy/test_image.py (hadolint clean, non-root, no build tools at run time).

ARG PYTHON_IMAGE=python:3.11-slim

# --- builder: resolve the locked dependencies and the project into /app/.venv -------------------
# uv (and anything it would need to build a source distribution) lives in this stage only.
FROM ${PYTHON_IMAGE} AS builder

ARG UV_VERSION=0.13.9
RUN pip install --no-cache-dir --root-user-action=ignore "uv==${UV_VERSION}"

ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv

WORKDIR /src

# Dependencies first, in their own layer: it survives changes to the code.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-project --no-editable

# Then the project itself, installed as a regular (non-editable) package.
COPY README.md ./
COPY domain ./domain
COPY application ./application
COPY adapters ./adapters
COPY entrypoints ./entrypoints
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable

# --- runtime: the virtualenv only, run by an unprivileged user ----------------------------------
FROM ${PYTHON_IMAGE}

# A fixed numeric id (not a name), so that `USER` is resolvable without the image's passwd file
# (Kubernetes runAsNonRoot, volume ownership on the host). --no-log-init: a high uid would
# otherwise grow /var/log/lastlog to gigabytes.
RUN groupadd --gid 10001 portico \
    && useradd --no-log-init --uid 10001 --gid portico \
        --home-dir /data --no-create-home --shell /usr/sbin/nologin portico \
    && mkdir -p /data/storage \
    && chown -R portico:portico /data

# Owned by root and read-only to the service user: the running process cannot rewrite its code.
COPY --from=builder /app/.venv /app/.venv

ENV PATH="/app/.venv/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    STORAGE_DIR=/data/storage

# The working directory is writable by the service user: the default SQLite DATABASE_URL and
# any relative path land here. A named volume mounted on /data/storage starts with this owner.
WORKDIR /data
USER 10001:10001

EXPOSE 8000

# Liveness of `serve` on its default port. `worker` and `migrate` serve no HTTP: compose turns
# this check off for them (healthcheck: disable).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=4)"]

# Exec form: portico is PID 1 and receives SIGTERM itself (graceful shutdown, see the README).
ENTRYPOINT ["portico"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
