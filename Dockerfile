# The headless agent as a container image: a static build (no cgo, no
# desktop UI) on distroless, running as a non-root user. This file is the
# source of truth for the image; `make image` builds it with podman or
# docker, whichever is present.
#
#   make image                        (tag usepod-agent:$(VERSION))
#   podman build --build-arg VERSION=1.2.3 -t usepod-agent:1.2.3 .
#
# The agent keeps its identity key, ledger and logs in /data: mount a
# volume there, one per agent (deploy/helm/usepod-agent does). The
# enrollment code comes from the USEPOD_ENROLLMENT_CODE environment variable.

ARG GO_VERSION=1.26
FROM docker.io/library/golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=0.0.0-dev
RUN CGO_ENABLED=0 go build -trimpath -tags nogui \
      -ldflags "-s -w -X usepod.ai/agent/core/version.Version=${VERSION}" \
      -o /out/usepod-agent . \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=0.0.0-dev
LABEL org.opencontainers.image.title="Use Pod Agent (headless)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/usepod/agent"
COPY --from=build /out/usepod-agent /usr/local/bin/usepod-agent
# /data belongs to the non-root user (65532) so a fresh volume is writable.
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
# Metrics are served only when [observability] prometheus_addr is set; the
# chart sets 0.0.0.0:9464.
EXPOSE 9464
VOLUME ["/data"]
ENTRYPOINT ["/usr/local/bin/usepod-agent"]
CMD ["--config", "/etc/usepod-agent/agent.toml", "--data-dir", "/data", "run", "--headless", "--keyring", "file", "--api", "/tmp/agent.sock"]
