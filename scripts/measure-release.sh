#!/usr/bin/env bash
# Binary size and resident memory of the release build of llm-sso-proxy, for the README's table.
# Usage: scripts/measure-release.sh [cargo build flags, e.g. --no-default-features]
#        (builds with the workspace's release profile first)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p llm-sso-proxy "$@" >&2
bin=target/release/llm-sso-proxy
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
port=28080
sed -e "s/port: 8080/port: $port/" -e "s#./var/sso_auth.db#$work/sso_auth.db#" config/dev.yaml > "$work/config.yaml"
"$bin" --sso-config "$work/config.yaml" --log-level ERROR >"$work/console" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q "listening on" "$work/console" 2>/dev/null && break; sleep 0.1; done
sleep 1
rss() { awk '/^VmRSS/ {print $2 " " $3}' "/proc/$pid/status"; }
echo "binary size: $(stat -c %s "$bin") bytes ($(( $(stat -c %s "$bin") / 1024 / 1024 )) MiB)"
echo "resident memory, idle after start: $(rss)"
if command -v curl >/dev/null; then
  for _ in $(seq 200); do
    curl -s -o /dev/null "http://127.0.0.1:$port/v1/chat/completions" -H 'content-type: application/json' \
      -d '{"model":"m","messages":[{"role":"user","content":"hi"}]}'
  done
  echo "resident memory after 200 sandbox replies: $(rss)"
fi
