# One image for every fileserver process; the entry point is chosen by the container's command
# (the Helm chart sets it per Deployment). Why one image: docs/deploy.md, "Images".
#
#   uploader          python -m services.uploader            (API, port 8001)
#   uploader worker   python -m services.uploader.worker     (arq replication worker)
#   downloader        python -m services.downloader          (API, port 8002)
#   stats             python -m services.stats               (queue worker + probes, port 8003)
#   drive emulator    python -m services.drive_emulator      (Drive v3 emulator, port 8090)
#   operator          kopf run -m fileserver_operator.main   (liveness on port 8080)
#
# The base is pinned by tag only: the machine this was written on has no registry access to
# resolve a digest. Pin it with `docker buildx imagetools inspect python:3.11-slim-bookworm`
# and replace the ARG below with `python:3.11-slim-bookworm@sha256:<digest>` in your fork.
# Where no registry can be reached, `fileserver dev images` passes PYTHON_IMAGE=fileserver/python,
# Debian's Python 3.11 on a debootstrap root file system (images/README.md).
#
# Plain Dockerfile syntax only (no `RUN --mount`, no `# syntax=` frontend): the classic builder
# of Debian's engine builds it as well as BuildKit does. The dependency layer below is cached by
# the lock file, which is what the cache mounts would have saved.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: the locked environment, then the project on top --------------------------------
FROM ${PYTHON_IMAGE} AS build
# The uv of versions.toml ([tools] uv); a test keeps the two equal.
ARG UV_VERSION=0.13.9
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON_PREFERENCE=only-system \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# uv in a venv of its own: Debian's Python forbids installing into the system's (PEP 668).
RUN python3 -m venv /opt/uv \
 && /opt/uv/bin/pip install --no-cache-dir "uv==${UV_VERSION}" \
 && ln -s /opt/uv/bin/uv /usr/local/bin/uv
WORKDIR /app
# Dependencies first, from the lock file only: this layer survives code changes.
COPY pyproject.toml uv.lock .python-version README.md ./
RUN uv sync --frozen --no-dev --no-install-project --no-cache
# Then the code. The project is installed editable (a .pth into /app), so that skaffold's file
# sync into /app reaches the running processes (docs/deploy.md, "Inner loop").
COPY apis/ ./apis/
COPY services/ ./services/
COPY fileserver/ ./fileserver/
COPY operator/ ./operator/
RUN uv sync --frozen --no-dev --no-cache

# --- runtime: the environment and the code, no build tools ---------------------------------
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="fileserver" \
      org.opencontainers.image.description="fileserver services, workers, operator and Drive emulator" \
      org.opencontainers.image.source="https://github.com/fileserver/fileserver" \
      org.opencontainers.image.licenses="Apache-2.0"
# A fixed numeric uid/gid so that runAsNonRoot can be verified by the kubelet.
RUN groupadd --system --gid 10001 fileserver \
 && useradd --system --uid 10001 --gid fileserver --home-dir /app --shell /usr/sbin/nologin fileserver \
 && mkdir -p /var/lib/fileserver \
 && chown fileserver:fileserver /var/lib/fileserver
WORKDIR /app
COPY --from=build --chown=fileserver:fileserver /app /app
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    FILESERVER_UPLOADER_HOST=0.0.0.0 \
    FILESERVER_DOWNLOADER_HOST=0.0.0.0 \
    FILESERVER_DOWNLOADER_STATE_DIR=/var/lib/fileserver/downloader \
    FILESERVER_STATS_HOST=0.0.0.0 \
    FILESERVER_DRIVE_EMULATOR_HOST=0.0.0.0 \
    FILESERVER_DRIVE_EMULATOR_DATA_DIR=/var/lib/fileserver/drive-emulator
USER 10001:10001
# The Uploader's port; the others are set by the chart. Kubernetes ignores HEALTHCHECK (the
# chart's probes replace it); it serves `docker run`. FILESERVER_HEALTH_URL points it at the
# running process's own health endpoint.
EXPOSE 8001
ENV FILESERVER_HEALTH_URL=http://127.0.0.1:8001/healthz
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; sys.exit(0 if urllib.request.urlopen(os.environ['FILESERVER_HEALTH_URL'], timeout=4).status == 200 else 1)"]
CMD ["python", "-m", "services.uploader"]
