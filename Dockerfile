# Meet Matt: one image for every role (`run`, `bot`, `web`, `worker`, `migrate`).
# Unverified: no container engine runs on the development machines; build and run it somewhere real
# before trusting it (README "Production").
#
# python:3.11-slim pinned by digest (the multi-arch index). The digest comes from public repositories
# that pin this tag and was NOT resolved against Docker Hub here (no registry access); confirm or
# refresh it with `docker buildx imagetools inspect python:3.11-slim`.
FROM python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

RUN groupadd --system meetmatt && useradd --system --gid meetmatt --home /app meetmatt

# dependencies first, exactly as locked (every file hash-checked), so a code change reuses this layer
COPY requirements.lock ./
RUN pip install --require-hashes -r requirements.lock

# the application runs from /app (no build step, so nothing unlocked is fetched)
COPY config.py main.py tortoise_config.py ./
COPY cli ./cli
COPY bot ./bot
COPY handlers ./handlers
COPY services ./services
COPY models ./models
COPY webhooks ./webhooks
COPY migrations ./migrations
RUN mkdir -p /app/data && chown meetmatt:meetmatt /app/data

USER meetmatt
# the public port (behind a TLS proxy) and the private ops port (/livez, /readyz, /metrics)
ENV WEB_HOST=0.0.0.0 WEB_PORT=8080 OPS_HOST=127.0.0.1 OPS_PORT=9100
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ['OPS_PORT'] + '/readyz', timeout=4)"]
# exec form: Python is PID 1 and gets SIGTERM itself, so the worker hands its jobs back on `docker stop`
CMD ["python", "main.py", "run"]
