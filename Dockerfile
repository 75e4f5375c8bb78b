# Multi-stage: build a virtualenv with smsgate in it, then run it as a non-root user.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /srv/smsgate
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
# Editable, so `smsgate migrate` finds alembic.ini and migrations/ beside the package.
RUN /opt/venv/bin/pip install -e .

FROM python:3.11-slim
RUN useradd --system --create-home --uid 10001 smsgate \
    && mkdir -p /data && chown smsgate:smsgate /data
COPY --from=build /opt/venv /opt/venv
COPY --from=build /srv/smsgate /srv/smsgate
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    SMSGATE_DATA_DIR=/data \
    SMSGATE_HOST=0.0.0.0 \
    SMSGATE_PORT=8000
WORKDIR /srv/smsgate
USER smsgate
EXPOSE 8000
CMD ["smsgate", "serve"]
