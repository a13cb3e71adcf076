# vigil in a container: a release build, then a slim runtime image that runs it as an unprivileged
# user with its data directory on a volume. `scripts/check_package.sh` runs what these stages run
# (no container engine is needed for that check).
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p vigil-server && cp target/release/vigil /vigil

FROM debian:bookworm-slim
# CA certificates: exports and integrations speak TLS to S3, Azure, Snowflake and Databricks.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/vigil --shell /usr/sbin/nologin vigil \
 && mkdir -p /var/lib/vigil \
 && chown vigil:vigil /var/lib/vigil \
 && chmod 0700 /var/lib/vigil
COPY --from=build /vigil /usr/local/bin/vigil
USER vigil
ENV VIGIL_DATA_DIR=/var/lib/vigil \
    VIGIL_LISTEN=0.0.0.0:8080
VOLUME ["/var/lib/vigil"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
  CMD ["vigil", "health", "--url", "http://127.0.0.1:8080"]
ENTRYPOINT ["vigil"]
CMD ["serve"]
