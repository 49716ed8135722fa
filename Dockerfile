# One image for both halves of flexhook: `flexhook web` and `flexhook worker`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /srv/flexhook

# The dependencies from the lock file alone (exact versions, each checked against its hashes;
# `make lock` refreshes it), in a layer of their own; then flexhook itself, without dependencies,
# built by the setuptools the lock pins. The Temporal CLI (the `local` extra) is not in the image.
COPY requirements/runtime.lock requirements/runtime.lock
RUN pip install --no-cache-dir --require-hashes -r requirements/runtime.lock

COPY pyproject.toml README.md ./
COPY app ./app
COPY workflows ./workflows
COPY activities ./activities
COPY notifications ./notifications
RUN pip install --no-cache-dir --no-deps --no-build-isolation . \
    && useradd --system --uid 10001 flexhook
USER flexhook

EXPOSE 8000
CMD ["flexhook", "web", "--host", "0.0.0.0", "--port", "8000"]
