# rtcbench as a container, for the shards of a Kubernetes Indexed Job (docs/kubernetes.md).
# Build: docker build -t rtcbench:latest .
FROM rust:1-slim-bookworm AS build
# nasm: OpenH264's assembly (about 3x faster encoding); libssl-dev and pkg-config: the DTLS of
# rtcbench's clients; g++ and make: OpenH264 and Opus from source.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      nasm libssl-dev pkg-config g++ make \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY benches benches
RUN cargo build --release --locked --bin rtcbench

FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libssl3 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 rtcbench \
 && useradd --uid 10001 --gid 10001 --home-dir /work --create-home --shell /usr/sbin/nologin rtcbench
COPY --from=build /src/target/release/rtcbench /usr/local/bin/rtcbench
COPY scenarios /work/scenarios
USER 10001:10001
WORKDIR /work
# Shard 0 serves the start barrier and the reference clock here.
EXPOSE 7700
ENTRYPOINT ["/usr/local/bin/rtcbench"]
CMD ["--help"]
