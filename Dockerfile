# Build: the same command as the README's, in a Rust image.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY templates templates
COPY static static
COPY migrations migrations
RUN cargo build --release --locked --bin gatehouse

# Run: a small image, a non-root user, one data volume (SQLite file and master key), or point
# GATEHOUSE_DATABASE_URL at PostgreSQL and GATEHOUSE_MASTER_KEY at your secret manager.
FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --home-dir /data gatehouse \
    && mkdir -p /data \
    && chown gatehouse /data
COPY --from=build /src/target/release/gatehouse /usr/local/bin/gatehouse
USER gatehouse
WORKDIR /data
ENV GATEHOUSE_BIND=0.0.0.0:8080 \
    GATEHOUSE_DATA_DIR=/data \
    GATEHOUSE_KEYS_DIR=/data/keys
VOLUME ["/data"]
EXPOSE 8080
ENTRYPOINT ["gatehouse"]
CMD ["serve"]
