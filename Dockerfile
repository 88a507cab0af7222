# One image for every Atelier process. The entrypoint is `python -m`; the command picks
# the program, e.g.
#   docker run atelier:dev services.customer
#   docker run atelier:dev gateway
# The runtime stage has no build tools, runs as the numeric non-root user 10001 and writes
# nothing outside /tmp, so it works with a read-only root filesystem.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --------------------------------------------------------------------------- build ----
FROM ${PYTHON_IMAGE} AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

RUN python -m venv "$VIRTUAL_ENV"

WORKDIR /src

# Third-party dependencies first, read from pyproject.toml alone, so editing the source
# does not invalidate this (slow) layer.
COPY pyproject.toml ./
RUN python -c "import pathlib, tomllib; deps = tomllib.loads(pathlib.Path('pyproject.toml').read_text())['project']['dependencies']; pathlib.Path('/tmp/requirements.txt').write_text('\n'.join(deps) + '\n')" \
 && pip install -r /tmp/requirements.txt

# Then the project itself: a regular (not editable) install; pip byte-compiles the
# modules here so the read-only runtime never needs to write .pyc files.
COPY . .
RUN pip install --no-deps . \
 && install -D -m 0644 deploy/healthcheck.py /opt/atelier/healthcheck.py

# ------------------------------------------------------------------------- runtime ----
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="atelier" \
      org.opencontainers.image.description="Atelier clienteling platform: gRPC services and HTTP gateway" \
      org.opencontainers.image.licenses="Apache-2.0"

ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONFAULTHANDLER=1 \
    HOME=/tmp \
    TMPDIR=/tmp

COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/atelier /opt/atelier

WORKDIR /tmp

# No passwd entry is needed for a numeric user; Kubernetes' runAsNonRoot can verify it.
USER 10001:10001

# 8080: gateway HTTP; 50051: gRPC of a service (health checking protocol included).
EXPOSE 8080 50051

STOPSIGNAL SIGTERM

ENTRYPOINT ["python", "-m"]
CMD ["gateway"]
