#!/usr/bin/env bash
# Instructions the server executes per W1 / W2 / W3 request, counted by valgrind's callgrind:
# the same count for the same binary and data however busy the machine is, where requests/s on
# a shared 2-core machine move by a fifth from one run to the next. Compares builds exactly.
#
#   bash benches/instructions.sh BINARY [BINARY ...]
#
# Each binary serves a database under callgrind with instrumentation off; after warm-up
# requests, instrumentation is turned on for INSTRUCTIONS_REQUESTS requests sent one after
# another on one connection, and the count (all the server's threads) is divided by them.
# W1 and W2 read the PostgreSQL database benches/compare.sh seeded (run it first: the requests
# are the bodies and token of its latest run); PostgreSQL's own work is not counted. W3 logs a
# CRITICAL defect (its audit event and two emails in the same transaction) on SQLite, in a
# copy of a 20-project bench database seeded with the first binary (again when that binary
# changes: list the oldest build first); SQLite runs in the server's process, so its work is
# counted.
#
# Settings (environment):
#   INSTRUCTIONS_WORKLOADS="W1 W2"   workloads (W1, W2, W3)
#   INSTRUCTIONS_REQUESTS=200        counted requests per binary and workload (after 20 warm-up)
#   INSTRUCTIONS_PORT=18191          loopback port
#   INSTRUCTIONS_KEEP=               a folder to keep the callgrind output in, its files named
#                                    after the binary and workload (callgrind_annotate FILES)
#   COMPARE_WORK=/tmp/steerco-compare  COMPARE_DB=steerco_compare  COMPARE_PG_SOCKET=/var/run/postgresql
#
# Needs: valgrind (callgrind_control), curl.
set -euo pipefail

work=${COMPARE_WORK:-/tmp/steerco-compare}
db=${COMPARE_DB:-steerco_compare}
socket=${COMPARE_PG_SOCKET:-/var/run/postgresql}
read -r -a workloads <<<"${INSTRUCTIONS_WORKLOADS:-W1 W2}"
requests=${INSTRUCTIONS_REQUESTS:-200}
port=${INSTRUCTIONS_PORT:-18191}
keep=${INSTRUCTIONS_KEEP:-}
url=http://127.0.0.1:$port/graphql

die() {
  echo "instructions: $*" >&2
  exit 1
}
(($# > 0)) || die "usage: $0 BINARY [BINARY ...]"
command -v callgrind_control >/dev/null || die "valgrind is not installed"
reads=0
for workload in "${workloads[@]}"; do
  case $workload in
    W1 | W2) reads=1 ;;
    W3) ;;
    *) die "unknown workload $workload (W1, W2, W3)" ;;
  esac
done
if ((reads)); then
  shopt -s nullglob
  runs=("$work"/runs/*/)
  ((${#runs[@]} > 0)) || die "no run of benches/compare.sh in $work"
  run=${runs[-1]}
  shopt -u nullglob
  pg_token=$(cat "$work/state/token-$db" 2>/dev/null) || die "no token: run benches/compare.sh first"
fi

scratch=$(mktemp -d)
# shellcheck source=benches/compare/server.sh
source "$(dirname "${BASH_SOURCE[0]}")/compare/server.sh"
trap 'stop_server; rm -rf "$scratch"' EXIT

# W3's database and request (prepare_w3, w3_body).
# shellcheck source=benches/compare/w3-data.sh
source "$(dirname "${BASH_SOURCE[0]}")/compare/w3-data.sh"

# Sends the body $1 $2 times on one connection; fails on any answer with errors.
send() {
  local args=() i
  for ((i = 0; i < $2; i++)); do
    args+=(--next -sf -H 'Content-Type: application/json' -H "Authorization: Bearer $token"
      --data-binary "@$1" -o "$scratch/answer-$i.json" "$url")
  done
  curl "${args[@]:1}" || return 1
  ! grep -l -e '"errors"' -e '"userErrors":\[{' "$scratch"/answer-*.json >/dev/null
}

printf '%-40s %-8s %14s\n' binary workload instructions
for binary in "$@"; do
  for workload in "${workloads[@]}"; do
    if [[ $workload == W3 ]]; then
      prepare_w3 "$1"
      database_url="sqlite://$scratch/w3.db?mode=rwc"
      token=$(cat "$sqlite_work/token")
      body=$sqlite_work/body.json
    else
      database_url="postgres://postgres@localhost/$db?host=$socket"
      token=$pg_token
      body=$run/steerco-$workload.json
      [[ -f $body ]] || die "no $body"
    fi
    out=$scratch/callgrind.out
    ! curl -s -o /dev/null "http://127.0.0.1:$port/health" || die "port $port is taken (INSTRUCTIONS_PORT)"
    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out" "$binary" \
      --database-url "$database_url" serve \
      --addr "127.0.0.1:$port" --production --rate-limit 0 --worker false 2>"$scratch/server.log" &
    pid=$!
    await_server "$pid" "$port" 0.5 120 "$scratch/server.log"
    if [[ $workload == W3 ]]; then
      w3_body
    fi
    send "$body" 20 || die "$binary $workload: warm-up failed: $(tail -c 300 "$scratch"/answer-0.json)"
    rm -f "$scratch"/answer-*.json
    callgrind_control -i on "$pid" >/dev/null 2>&1
    send "$body" "$requests" || die "$binary $workload: a request failed"
    callgrind_control -i off "$pid" >/dev/null 2>&1
    callgrind_control -d "$pid" >/dev/null 2>&1
    stop_server
    total=$(cat "$out"* | awk '/^totals:/ { sum += $2 } END { print sum + 0 }')
    printf '%-40s %-8s %14d\n' "$binary" "$workload" $((total / requests))
    if [[ -n $keep ]]; then
      mkdir -p "$keep"
      for file in "$out"*; do
        cp "$file" "$keep/$(basename "$binary").$workload.${file##*/}"
      done
    fi
    rm -f "$out"*
  done
done
