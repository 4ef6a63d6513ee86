# Confab: build with the Swift toolchain, run on a slim Debian with only what the binary needs.
FROM swift:6.2-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libhiredis-dev pkg-config zlib1g-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
RUN swift build -c release --product confab --static-swift-stdlib \
    && cp "$(swift build -c release --show-bin-path)/confab" /confab

FROM debian:bookworm-slim AS run
RUN apt-get update && apt-get install -y --no-install-recommends libhiredis0.14 libstdc++6 zlib1g ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* && useradd --system --home /app confab
WORKDIR /app
COPY --from=build /confab /usr/local/bin/confab
COPY static ./static
USER confab
ENV CONFAB_HOST=0.0.0.0 CONFAB_PORT=8080 CONFAB_STATIC_DIR=/app/static
EXPOSE 8080
HEALTHCHECK CMD curl -sf http://127.0.0.1:8080/health || exit 1
ENTRYPOINT ["/usr/local/bin/confab", "serve"]
