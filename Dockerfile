# hpqueue: one image for the Celery workers and the controller (see compose.yaml).
#
#   docker build -t hpqueue .
#   docker run --rm -e HPQ_REDIS_URL=redis://redis-host:6379/0 hpqueue      # a worker
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY workers ./workers
COPY controller ./controller
RUN pip install . && rm -rf build
# The examples are not part of the package; the controller runs them from here, and their
# trials' entry points name files under /app/examples, the same path in every container.
COPY examples ./examples

# Trials run as an unprivileged user. /data/artifacts is where a shared volume is mounted
# (HPQ_ARTIFACTS_DIR): workers write checkpoints and artifacts there, the controller reads them.
RUN useradd --create-home --uid 1000 hpq \
    && mkdir -p /data/artifacts \
    && chown -R hpq:hpq /data /app
USER hpq
ENV HPQ_HOME=/home/hpq/.hpqueue \
    HPQ_ARTIFACTS_DIR=/data/artifacts

# A worker: `hpq worker` execs `celery -A workers.app worker --without-mingle --without-gossip`,
# so Celery is the process that receives `docker stop`'s SIGTERM (warm shutdown).
CMD ["hpq", "worker", "-Q", "default", "-c", "2"]
