# AgentLens Collector image: SQLite in the /data volume by default, PostgreSQL with DATABASE_URL.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    AGENTLENS_HOST=0.0.0.0 \
    AGENTLENS_PORT=4318 \
    AGENTLENS_DB_PATH=/data/agentlens.db

WORKDIR /app
COPY pyproject.toml README.md ./
COPY collector ./collector
COPY store ./store
COPY migrations ./migrations
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin agentlens \
    && mkdir -p /data && chown agentlens /data

USER agentlens
VOLUME ["/data"]
EXPOSE 4318

# A non-loopback bind requires API keys by default: the first start prints an admin key to the log.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('AGENTLENS_PORT', '4318'); sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}/api/health', timeout=4).status == 200 else 1)"]

ENTRYPOINT ["agentlens-collector"]
CMD ["serve"]
