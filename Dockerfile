# syntax=docker/dockerfile:1

# Two stages: the builder has uv and resolves the locked dependencies into a virtualenv; the
# runtime image gets only that virtualenv, so neither uv nor pip's caches ship. Both stages use the
# same base image because the virtualenv links to the interpreter at /usr/local/bin.

FROM python:3.13-slim AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.13 \
    UV_PROJECT_ENVIRONMENT=/opt/venv

RUN pip install uv==0.13.9

WORKDIR /src

# Dependencies first, from the lock file alone, so this layer is reused until uv.lock changes.
COPY pyproject.toml uv.lock README.md ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --no-install-project

# Then the project itself, installed as a regular (non-editable) wheel so that the runtime image
# needs the virtualenv only, not this source tree.
COPY api ./api
COPY documents ./documents
COPY migrations ./migrations
COPY scripts ./scripts
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --no-editable


FROM python:3.13-slim AS runtime

# JBTS_AUTH=required: a container listens on every interface, so every API request needs a key.
# On first start with no usable key, `jbts serve` creates an admin key and prints it once (in
# the container's log); `jbts keys create` makes more.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH="/opt/venv/bin:${PATH}" \
    JBTS_AUTH=required

RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /home/app --create-home \
        --shell /usr/sbin/nologin app

# Owned by root and read-only to the service user: the running app cannot modify its own code.
COPY --from=builder /opt/venv /opt/venv

WORKDIR /home/app
USER app:app

EXPOSE 8000

# No HEALTHCHECK here: the same image runs one-shot commands (`jbts migrate up`, `jbts seed`), for
# which an HTTP probe is wrong. docker-compose.yml probes /health/ready on the api service.
CMD ["jbts", "serve", "--host", "0.0.0.0", "--port", "8000"]
