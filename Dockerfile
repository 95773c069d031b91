# syntax=docker/dockerfile:1
# One slim image for `runyard server` and `runyard agent`.
#
# Build and push (from the repository root; see docs/deploy.md):
#   docker build -t registry.example.com/ml/runyard:0.1.0 .
#   docker push registry.example.com/ml/runyard:0.1.0
# Multi-architecture:
#   docker buildx build --platform linux/amd64,linux/arm64 -t registry.example.com/ml/runyard:0.1.0 --push .

# ---- build: a wheel of runyard, installed with its dependencies into a virtualenv ----------------------
FROM python:3.11.11-slim-bookworm AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    UV_NO_CACHE=1

WORKDIR /src
# The web UI is built on the host first (scripts/build-ui writes src/runyard/ui/static, which the
# context carries); the image has no Node, so without that bundle it serves a page saying how to build it.
COPY pyproject.toml README.md hatch_build.py ./
COPY src ./src

# uv builds the wheel and installs it with its locked-down dependency set into a pip-less virtualenv.
# Every dependency ships binary wheels, so no compiler is needed even here.
RUN python -m pip install --no-cache-dir uv==0.13.9 \
 && uv build --wheel --out-dir /wheels . \
 && uv venv --python /usr/local/bin/python3 /opt/runyard \
 && uv pip install --python /opt/runyard/bin/python /wheels/*.whl \
 && /opt/runyard/bin/python -c "import runyard"

# ---- runtime: the virtualenv, a non-root user, nothing to build with ----------------------------------
FROM python:3.11.11-slim-bookworm

# tini reaps the job processes agents start (PID 1); bubblewrap backs `RUNYARD_SANDBOX_ISOLATION=bubblewrap`;
# passt (pasta) gives networked jobs a private network without the host's loopback.
# Versions come from the pinned Debian release of the base image.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini bubblewrap passt \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 runyard \
 && useradd --system --uid 10001 --gid runyard --home-dir /home/runyard --create-home \
      --shell /usr/sbin/nologin runyard \
 && mkdir -p /data /work \
 && chown runyard:runyard /data /work

COPY --from=build /opt/runyard /opt/runyard
COPY deploy/docker/healthcheck.py /usr/local/lib/runyard/healthcheck.py

ENV PATH=/opt/runyard/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    RUNYARD_HOST=0.0.0.0 \
    RUNYARD_PORT=5050 \
    RUNYARD_DATA_DIR=/data \
    RUNYARD_AGENT_WORK_DIR=/work \
    RUNYARD_AGENT_HEARTBEAT_FILE=/tmp/runyard-agent/heartbeat

USER 10001:10001
WORKDIR /home/runyard
VOLUME ["/data"]
EXPOSE 5050

# Server: GET /health; agent: a fresh heartbeat file (see deploy/docker/healthcheck.py).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "/usr/local/lib/runyard/healthcheck.py"]

ENTRYPOINT ["/usr/bin/tini", "--", "runyard"]
CMD ["server"]
