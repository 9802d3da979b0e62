#!/usr/bin/env bash
# The benchmark in one command: builds the proxy and the bench in release, then runs every candidate
# (bench/README.md). `bench/run.sh --smoke` checks in a few seconds that every candidate answers (CI does this,
# in the debug build: `bench/run.sh --smoke --debug`).
set -euo pipefail
cd "$(dirname "$0")/.."
profile=release
args=()
for a in "$@"; do
  if [ "$a" = "--debug" ]; then profile=debug; else args+=("$a"); fi
done
if [ "$profile" = release ]; then
  cargo build --release -p llm-sso-proxy -p llm-sso-bench
else
  cargo build -p llm-sso-proxy -p llm-sso-bench
fi
exec "target/$profile/llm-sso-bench" "${args[@]}"
