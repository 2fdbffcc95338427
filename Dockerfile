# Build: docker build -t registry.example.com/rouge/rouge:0.1.0 .
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# Without the `demo` feature: no fake WeChat and no demo data in the image; a configuration that
# asks for the fake WeChat is refused at start-up.
RUN cargo build --release -p api --no-default-features --locked && strip target/release/rouge

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/* \
    && useradd --uid 10001 --no-create-home rouge
COPY --from=build /src/target/release/rouge /usr/local/bin/rouge
USER 10001
EXPOSE 8080
ENTRYPOINT ["rouge"]
CMD ["serve"]
