# syntax=docker/dockerfile:1
#
# roamnode container image: one static Go binary on Debian slim, run as a
# non-root user. Build: docker build -t roamnode . (or docker compose build).

# Keep GO_VERSION equal to the go directive in go.mod: the golang images set
# GOTOOLCHAIN=local, so an older Go would refuse to build.
ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION} AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-buildvcs=false
# Modules first, so the download layer is reused while only sources change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags="-s -w" -o /out/roamnode ./cmd/roamnode

FROM debian:bookworm-slim
# ca-certificates: outbound HTTPS to roaming partners and webhook receivers.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 roamnode \
 && useradd --system --uid 10001 --gid roamnode --home-dir /nonexistent --no-create-home \
    --shell /usr/sbin/nologin roamnode
COPY --from=build /out/roamnode /usr/local/bin/roamnode
USER 10001:10001
ENV ROAMNODE_LISTEN=:8080
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/roamnode"]
CMD ["serve"]
