# syntax=docker/dockerfile:1
# tokenstorm in a container: `docker build -t tokenstorm .`
#
#   docker run --rm tokenstorm scenarios list
#   docker run --rm -v "$PWD:/work" tokenstorm run --out /work/tokenstorm-report
#
# A client under test runs inside the same container (tokenstorm starts it and talks to it over
# loopback), so an app's test image copies the binary in:
#
#   COPY --from=ghcr.io/YOUR-ORG/tokenstorm:0.1.0 /usr/local/bin/tokenstorm /usr/local/bin/
#
# `tokenstorm serve` listens on loopback only; reaching it from outside the container takes
# `--addr 0.0.0.0:8443 --allow-remote` (docs/security.md says what that exposes).

# Build: the pinned toolchain, the locked dependency graph, release profile.
FROM rust:1.95.0-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p tokenstorm \
    && install -m 0755 target/release/tokenstorm /usr/local/bin/tokenstorm

# Run: a slim Debian with CA certificates and the binary, as an unprivileged user.
FROM debian:12-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin tokenstorm
COPY --from=build /usr/local/bin/tokenstorm /usr/local/bin/tokenstorm
# The uid of the `tokenstorm` user created above (numeric, so hosts and Kubernetes can check it).
USER 10001
WORKDIR /work
ENTRYPOINT ["tokenstorm"]
CMD ["--help"]
