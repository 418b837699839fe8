# callfilter: a static binary on a distroless base, run as non-root, with tini
# as PID 1 so that SIGTERM (drain) and SIGHUP (reload) reach the service.
#   docker build --build-arg VERSION=$(git describe --tags --always) -t callfilter .
#   docker run -p 8080:8080 -v callfilter-data:/data -e CALLFILTER_ADMIN_KEY=... callfilter
FROM golang:1.26-bookworm AS build
ARG VERSION=dev
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/callfilter ./cmd/callfilter \
 && mkdir -p /out/data

FROM debian:bookworm-slim AS tini
RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=tini /usr/bin/tini-static /tini
COPY --from=build /out/callfilter /callfilter
COPY --from=build --chown=nonroot:nonroot /out/data /data
COPY --chown=nonroot:nonroot config.yaml rules.yaml /etc/callfilter/
# The embedded store and the generated HMAC secret live in /data: mount a volume.
ENV CALLFILTER_LISTEN=0.0.0.0:8080 \
    CALLFILTER_STORE_PATH=/data/callfilter.db
VOLUME ["/data"]
USER nonroot:nonroot
EXPOSE 8080
HEALTHCHECK NONE
ENTRYPOINT ["/tini", "--", "/callfilter"]
CMD ["serve", "--config", "/etc/callfilter/config.yaml"]
