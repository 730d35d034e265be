# chime-bot container: `chime-bot serve` on $PORT, SQLite state on the /data volume.
# The install step is the README's production install (`pip install -c constraints.txt .`): every
# runtime dependency at the version constraints.txt pins, the versions `make test` runs. Refresh
# the pins with `make constraints`; PIP_VERSION by hand.
#
# The base is pinned by digest, so that a rebuild of the same commit gets the same Python and
# Debian: the multi-platform index of python:3.12-slim (Python 3.12.13 on Debian trixie, built
# 2026-08-05) as Docker's official-images record lists it: github.com/docker-library/repo-info,
# repos/python/remote/3.12-slim.md at commit 2986dca3a80cb11b70fc4599941096374ea9e509. To move
# it on: `docker buildx imagetools inspect python:3.12-slim` prints the current digest; both
# FROM lines carry the same one (tests/test_packaging.py).
FROM python:3.12-slim@sha256:229a2c5bfa27522db7815ea81f9bed70af17ccb9de9fc7ad142b1877b5830d36 AS build
ARG PIP_VERSION=26.3
WORKDIR /src
COPY pyproject.toml README.md LICENSE constraints.txt ./
COPY bot ./bot
COPY handlers ./handlers
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir "pip==${PIP_VERSION}" \
 && /opt/venv/bin/pip install --no-cache-dir -c constraints.txt .

FROM python:3.12-slim@sha256:229a2c5bfa27522db7815ea81f9bed70af17ccb9de9fc7ad142b1877b5830d36
RUN useradd --create-home --uid 10001 chimebot \
 && mkdir -p /data && chown chimebot:chimebot /data
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PORT=3000 \
    LOG_FORMAT=json \
    CHIME_STORE_URL=sqlite:////data/state.db
USER chimebot
WORKDIR /home/chimebot
VOLUME ["/data"]
EXPOSE 3000
# Liveness, not readiness: a bot waiting for Slack or its store is alive and must not be
# restarted for it. Point an orchestrator's readiness probe at /readyz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/livez' % os.environ.get('PORT', '3000'), timeout=4)"
STOPSIGNAL SIGTERM
CMD ["chime-bot", "serve"]
