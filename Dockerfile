# The failscope binary, the connect capture's preload library beside it (where
# `failscope run --capture-connects` looks for it), and the queries/ directory. Used by
# docker-compose.yml.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p failscope \
    && cargo build --profile capture --locked -p failscope-capture

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/failscope /usr/local/bin/failscope
COPY --from=build /src/target/capture/libfailscope_capture.so /usr/local/bin/libfailscope_capture.so
COPY queries /queries
ENV FAILSCOPE_QUERIES=/queries
ENTRYPOINT ["failscope"]
