# syntax=docker/dockerfile:1
#
# authd container image.
#
#   docker build -t authd:local .
#
# Needs BuildKit (cache mounts). Docker 23+ uses it by default; with older
# engines set DOCKER_BUILDKIT=1 (and COMPOSE_DOCKER_CLI_BUILD=1 for docker-compose v1).

ARG GO_VERSION=1.26

# ---------------------------------------------------------------------------
# Build stage
# ---------------------------------------------------------------------------
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build

# Set by BuildKit; lets `docker buildx build --platform linux/arm64` cross-compile
# natively instead of under emulation.
ARG TARGETOS
ARG TARGETARCH

WORKDIR /src

# Dependencies first so this layer is reused while only our code changes.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download

COPY . .

# .git is not in the build context, so `authd version` gets its values from
# the build arguments (docker build --build-arg VERSION=v1.2.0 --build-arg
# REVISION=$(git rev-parse HEAD) --build-arg CREATED=$(date -u +%FT%TZ)).
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=

# -tags nomsgpack leaves out gin's MessagePack binding and renderer (and the
# ugorji/go codec behind them), which authd never uses: a binary 9 MB
# smaller, whose mapped pages are most of the RSS besides the Go heap
# (BENCHMARKS.md, "Binary pages").
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -trimpath -tags nomsgpack \
      -ldflags="-s -w -X main.version=${VERSION} -X main.commit=${REVISION} -X main.buildDate=${CREATED}" \
      -o /out/authd ./cmd/authd

# Writable working/data directory for the non-root user (SQLite default file).
RUN mkdir -p /out/data

# ---------------------------------------------------------------------------
# Runtime stage: static binary on distroless, non-root (uid/gid 65532).
# ---------------------------------------------------------------------------
FROM gcr.io/distroless/static-debian12:nonroot

ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=

LABEL org.opencontainers.image.title="authd" \
      org.opencontainers.image.description="authd authentication service (accounts, JWT access tokens, refresh-token sessions, OAuth 2.0)" \
      org.opencontainers.image.source="https://github.com/authd/authd" \
      org.opencontainers.image.url="https://github.com/authd/authd" \
      org.opencontainers.image.vendor="authd" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="gcr.io/distroless/static-debian12:nonroot"

COPY --from=build --chown=65532:65532 /out/data /data
COPY --from=build /out/authd /authd

# Without AUTHD_DATABASE_URL authd uses an embedded SQLite file; keep it on the volume.
ENV AUTHD_ADDR=:8080 \
    AUTHD_SQLITE_PATH=/data/authd.db

WORKDIR /data
VOLUME /data

USER 65532:65532

# 8080: HTTP API. 9090: /metrics when AUTHD_METRICS_ADDR=:9090 is set.
EXPOSE 8080 9090

# `authd healthcheck` GETs http://127.0.0.1:<port of AUTHD_ADDR>/readyz, exits 0 on 200, else 1.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
    CMD ["/authd", "healthcheck"]

# authd drains in-flight requests on SIGTERM (give it time: docker stop -t 30).
STOPSIGNAL SIGTERM

ENTRYPOINT ["/authd"]
CMD ["serve"]
