# The failscope binary and its queries/ directory. Used by docker-compose.yml.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p failscope

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/failscope /usr/local/bin/failscope
COPY queries /queries
ENV FAILSCOPE_QUERIES=/queries
ENTRYPOINT ["failscope"]
