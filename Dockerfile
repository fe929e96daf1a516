# canary-analyzer: the Argo Rollouts metric provider (and CLI). Two stages: wheels are built in the first, the
# final image holds only the Python runtime and the installed wheels (no compilers, no pip caches).
# Runs as uid 10001; the only writable paths are the mounted data volume and /tmp.
#
#   docker build -t canary-analyzer .
#   docker run -p 8080:8080 -e CANARY_ANALYZER_PROMETHEUS_URL=http://prometheus:9090 canary-analyzer

FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY analyzer ./analyzer
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    CANARY_ANALYZER_DATABASE_URL=sqlite:////var/lib/canary-analyzer/canary-analyzer.db
COPY --from=build /wheels /tmp/wheels
RUN pip install --no-cache-dir --no-index --find-links=/tmp/wheels canary-analyzer \
    && rm -rf /tmp/wheels \
    && groupadd --gid 10001 analyzer \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin analyzer \
    && mkdir -p /var/lib/canary-analyzer \
    && chown 10001:10001 /var/lib/canary-analyzer
USER 10001:10001
WORKDIR /var/lib/canary-analyzer
VOLUME ["/var/lib/canary-analyzer"]
EXPOSE 8080
ENTRYPOINT ["canary-analyzer"]
CMD ["serve"]
