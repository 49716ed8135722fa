# One image for both halves of flexhook: `flexhook web` and `flexhook worker`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /srv/flexhook

COPY pyproject.toml README.md ./
COPY app ./app
COPY workflows ./workflows
COPY activities ./activities
COPY notifications ./notifications
RUN pip install --no-cache-dir '.[postgres]' \
    && useradd --system --uid 10001 flexhook
USER flexhook

EXPOSE 8000
CMD ["flexhook", "web", "--host", "0.0.0.0", "--port", "8000"]
