# llm-sso-proxy in a small runtime image: `docker build -t llm-sso-proxy .` (see docs/deployment.md).
# Build stage: the release profile (LTO, one codegen unit, stripped) of the proxy alone, without the desktop
# credential store of `llm-sso-proxy login` (no desktop session in a container; `login` keeps its file there).
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p llm-sso-proxy --no-default-features \
 && cp target/release/llm-sso-proxy /usr/local/bin/llm-sso-proxy

# Runtime stage: the binary, CA certificates (for the IdPs and upstreams), a non-root user.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/llm-sso-proxy --shell /usr/sbin/nologin llmsso \
 && install -d -o llmsso -g llmsso -m 0700 /var/lib/llm-sso-proxy \
 && install -d -m 0755 /etc/llm-sso-proxy
COPY --from=build /usr/local/bin/llm-sso-proxy /usr/local/bin/llm-sso-proxy
USER llmsso
WORKDIR /var/lib/llm-sso-proxy
# The token store lives on a volume; the config is mounted read-only at /etc/llm-sso-proxy/config.yaml.
VOLUME ["/var/lib/llm-sso-proxy"]
ENV SSO_DATABASE_PATH=/var/lib/llm-sso-proxy/sso_auth.db
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["llm-sso-proxy", "--sso-config", "/etc/llm-sso-proxy/config.yaml", "--host", "0.0.0.0", "healthcheck"]
ENTRYPOINT ["llm-sso-proxy"]
CMD ["--sso-config", "/etc/llm-sso-proxy/config.yaml", "--host", "0.0.0.0", "--log-level", "INFO"]
