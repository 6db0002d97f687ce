FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

RUN groupadd --system meetmatt && useradd --system --gid meetmatt --home /app meetmatt

COPY pyproject.toml README.md ./
COPY config.py main.py tortoise_config.py ./
COPY bot ./bot
COPY handlers ./handlers
COPY services ./services
COPY models ./models
COPY webhooks ./webhooks
COPY migrations ./migrations
RUN pip install . && mkdir -p /app/data && chown -R meetmatt:meetmatt /app

USER meetmatt
EXPOSE 8080
ENV WEB_HOST=0.0.0.0
CMD ["sh", "-c", "python main.py migrate && python main.py run"]
