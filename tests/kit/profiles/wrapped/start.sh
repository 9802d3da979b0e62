#!/bin/sh
# A stand-in for another implementation of the guide, so that the kit's profile path cannot rot: its own
# command line (--listen HOST:PORT, --conf FILE), its own start line, no " listening on" line, and children
# of its own (the proxy and a filter), which the kit must stop as a process group.
#   start.sh --proxy-binary BIN --listen 127.0.0.1:PORT [--conf FILE] [ARGS...]
set -u
bin="" listen="" conf=""
while [ $# -gt 0 ]; do
  case "$1" in
    --proxy-binary) bin="$2"; shift 2 ;;
    --listen) listen="$2"; shift 2 ;;
    --conf) conf="$2"; shift 2 ;;
    *) break ;;
  esac
done
[ -x "$bin" ] || { echo "start.sh: --proxy-binary is not executable: $bin" >&2; exit 2; }
port="${listen##*:}"
if [ -n "$conf" ]; then set -- --sso-config "$conf" --port "$port" "$@"; else set -- --port "$port" "$@"; fi
echo "wrapped implementation: starting on $listen"
fifo="$(mktemp -u)"
mkfifo "$fifo" || exit 2
# The filter ignores the stop signal so that the proxy's last lines still come through.
( trap '' TERM INT; exec sed -u '/ listening on /d' <"$fifo" ) &
"$bin" "$@" >"$fifo" 2>&1 &
child=$!
# The kit signals the whole group; the wrapper only has to outlive the proxy and hand on its exit code.
trap ':' TERM INT
while :; do
  wait "$child"
  status=$?
  kill -0 "$child" 2>/dev/null || break
done
wait
rm -f "$fifo"
exit "$status"
