# syntax=docker/dockerfile:1
# tagsync: `docker build -t tagsync .`, then see compose.yaml or README "Deploy".

# ---- build: a release binary --------------------------------------------------------------------
# Latest stable Rust: the code uses let chains (Rust 1.88+).
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
# The registry and target caches survive between builds (BuildKit); the binary is copied out of
# the cache mount so that the next stage can see it.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin tagsync \
 && install -D -m 0755 target/release/tagsync /out/tagsync

# ---- runtime: glibc, CA certificates, no shell, non-root ----------------------------------------
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/tagsync /usr/local/bin/tagsync
# Mount the configuration and tag files here (compose.yaml, or the Kubernetes ConfigMap).
ENV TAGSYNC_CONFIG=/etc/tagsync/tagsync.yaml \
    TAGSYNC_LOG=info \
    TAGSYNC_LOG_FORMAT=json
# uid 65532 ("nonroot"); a SQLite mirror needs a writable volume here, PostgreSQL needs none.
USER nonroot:nonroot
WORKDIR /var/lib/tagsync
EXPOSE 9187
# `tagsync healthcheck` asks /healthz on the configuration's `listen` (no curl in this image).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/tagsync", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/tagsync"]
CMD ["run"]
