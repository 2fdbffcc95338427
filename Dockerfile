# Build: docker build -t registry.example.com/rouge/rouge:0.1.0 .
# A demo image (fake WeChat and demo data, for front-end teams):
#   docker build --build-arg FEATURES=demo -t rouge-demo .
# The build context is what .dockerignore lets through (sources, not target/ or local data).
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# Without the `demo` feature (the release image): no fake WeChat and no demo data in the image;
# a configuration that asks for the fake WeChat is refused at start-up.
ARG FEATURES=""
RUN cargo build --release -p api --no-default-features --features "$FEATURES" --locked \
    && strip target/release/rouge

FROM debian:bookworm-slim
# The non-root user owns /var/lib/rouge, the working directory and the data directory of the
# embedded default (SQLite); mount a volume there to keep the demo's data across containers.
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 rouge \
    && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /var/lib/rouge --shell /usr/sbin/nologin rouge \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/rouge /var/lib/rouge/data
COPY --from=build /src/target/release/rouge /usr/local/bin/rouge
# Listen on every interface (a container's loopback is unreachable from outside): the API on
# 8080, `rouge worker`'s probes and metrics on 8081. Production's ConfigMap sets the same.
ENV ROUGE_LISTEN=0.0.0.0:8080 \
    ROUGE_JOBS__WORKER_LISTEN=0.0.0.0:8081 \
    ROUGE_DATA_DIR=/var/lib/rouge/data
WORKDIR /var/lib/rouge
VOLUME ["/var/lib/rouge/data"]
USER 10001:10001
EXPOSE 8080 8081
ENTRYPOINT ["rouge"]
CMD ["serve"]
