# Waiting for a `steerco serve` just started, and stopping it, shared by
# benches/instructions.sh and benches/w3-wrk.sh (sourced, not run). The sourcing script
# defines `die` and keeps the server's pid in `pid` (empty when none runs).

pid=

# Stops the server in `pid`, if one runs, and waits for it to exit.
stop_server() {
  if [[ -n $pid ]]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    pid=
  fi
}

# Waits until the server $1 (its pid) answers /health on port $2, polling every $3 seconds at
# most $4 times; dies, with the end of the server's log $5, when it exits or never answers.
await_server() {
  local pid=$1 port=$2 every=$3 tries=$4 log=$5
  for ((try = 0; try < tries; try++)); do
    kill -0 "$pid" 2>/dev/null || die "the server did not start: $(tail -c 300 "$log")"
    curl -sf -o /dev/null "http://127.0.0.1:$port/health" && return 0
    sleep "$every"
  done
  die "the server did not answer on port $port within $(awk -v e="$every" -v t="$tries" 'BEGIN { print e * t }') s"
}
