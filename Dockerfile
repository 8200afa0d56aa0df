# syntax=docker/dockerfile:1
# Portico API / worker image. Build: docker build -t portico .
# Runs `portico serve` by default; `portico worker` and `portico migrate` use the same image.

ARG PYTHON_IMAGE=python:3.11-slim

# --- builder: resolve the locked dependencies and the project into /app/.venv -------------------
FROM ${PYTHON_IMAGE} AS builder

ARG UV_VERSION=0.13.9
RUN pip install --no-cache-dir "uv==${UV_VERSION}"

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

RUN groupadd --system portico \
    && useradd --system --gid portico --home-dir /data --no-create-home portico \
    && mkdir -p /data/storage \
    && chown -R portico:portico /data

COPY --from=builder /app/.venv /app/.venv

ENV PATH="/app/.venv/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    STORAGE_DIR=/data/storage

# The working directory is writable by the service user: the default SQLite DATABASE_URL and
# any relative path land here.
WORKDIR /data
USER portico

EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=4)"]

CMD ["portico", "serve", "--host", "0.0.0.0", "--port", "8000"]
