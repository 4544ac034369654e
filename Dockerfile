# The SalesPulse image: the `salespulse` CLI (worker, simulate, db upgrade, ...).
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SALESPULSE_WORKER__DATA_DIR=/var/lib/salespulse/worker

WORKDIR /app
COPY pyproject.toml README.md ./
COPY pipeline ./pipeline
COPY agents ./agents
COPY schemas ./schemas
COPY config ./config
RUN pip install . \
 && useradd --system --home-dir /var/lib/salespulse --create-home salespulse

USER salespulse
# 6066: the API and the board; 9464: /metrics when SALESPULSE_WEB__METRICS_PORT=9464 (docker-compose.yml)
EXPOSE 6066 9464
CMD ["salespulse", "worker", "--web-host", "0.0.0.0", "--web-port", "6066"]
