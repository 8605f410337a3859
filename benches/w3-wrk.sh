#!/usr/bin/env bash
# W3 (a CRITICAL `defectCreate`: the defect, its audit event and two emails in one
# transaction) against `steerco serve` on SQLite, driven by wrk. The workloads bench's clients
# run in the server's own process and share its cores and runtime; wrk runs apart, as clients
# on other machines would, with less of the machine than reqwest's clients take.
#
#   bash benches/w3-wrk.sh BINARY [BINARY ...]
#   bash benches/w3-wrk.sh target/release/steerco "target/release/steerco --cpu-latency-us 0"
#
# A BINARY may carry flags of `serve` after its path, so that one build is measured against
# itself with a setting changed (quote each such argument whole; paths without spaces).
# For each round and client count, each binary in turn (so two builds alternate) serves a
# fresh copy of the 20-project database benches/instructions.sh also uses, seeded with the
# first binary (again when it changes: list the oldest build first), without mail worker or
# rate limit; wrk sends the defect for W3_DURATION seconds after a second of warm-up. Prints
# the requests answered, defects/s, latency, the defects the database gained meanwhile (at
# least the requests, when every one succeeded: wrk leaves the last ones unanswered) and the
# server's log lines about a busy or locked database.
#
# Settings (environment):
#   W3_CLIENTS="1 8 32"   client counts (wrk connections; two wrk threads from 2 clients up)
#   W3_DURATION=8         seconds per measured run
#   W3_ROUNDS=2           rounds
#   W3_PORT=18192         loopback port
#   COMPARE_WORK=/tmp/steerco-compare   where the seeded database is kept
#
# Needs: wrk, curl, sqlite3 (the command-line shell).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=${COMPARE_WORK:-/tmp/steerco-compare}
read -r -a client_counts <<<"${W3_CLIENTS:-1 8 32}"
duration=${W3_DURATION:-8}
rounds=${W3_ROUNDS:-2}
port=${W3_PORT:-18192}
url=http://127.0.0.1:$port/graphql

die() {
  echo "w3-wrk: $*" >&2
  exit 1
}
(($# > 0)) || die "usage: $0 BINARY [BINARY ...]"
for tool in wrk curl sqlite3; do
  command -v "$tool" >/dev/null || die "$tool is not installed"
done

scratch=$(mktemp -d)
# shellcheck source=benches/compare/server.sh
source "$here/compare/server.sh"
trap 'stop_server; rm -rf "$scratch"' EXIT

# shellcheck source=benches/compare/w3-data.sh
source "$here/compare/w3-data.sh"

defects() { sqlite3 "$scratch/w3.db" 'SELECT COUNT(*) FROM defect'; }
# The value of $2 in wrk's line $1 (benches/compare/post.lua).
field() { sed -E "s/.* $2=([0-9.]+).*/\\1/" <<<"$1"; }

printf '%-5s %-48s %7s %8s %10s %8s %8s %8s %7s %5s\n' \
  round binary clients requests defects/s p50_ms p99_ms gained non2xx busy
# The first binary, without its flags, seeds the database.
read -r -a seeder <<<"$1"
for ((round = 1; round <= rounds; round++)); do
  for clients in "${client_counts[@]}"; do
    for binary in "$@"; do
      read -r -a command <<<"$binary"
      prepare_w3 "${seeder[0]}"
      token=$(cat "$sqlite_work/token")
      ! curl -s -o /dev/null "http://127.0.0.1:$port/health" || die "port $port is taken (W3_PORT)"
      "${command[0]}" --database-url "sqlite://$scratch/w3.db?mode=rwc" serve --addr "127.0.0.1:$port" \
        --production --rate-limit 0 --worker false "${command[@]:1}" 2>"$scratch/server.log" &
      pid=$!
      await_server "$pid" "$port" 0.1 100 "$scratch/server.log"
      w3_body
      threads=$((clients > 1 ? 2 : 1))
      wrk -t"$threads" -c"$clients" -d1s -s "$here/compare/post.lua" "$url" -- \
        "$sqlite_work/body.json" "$token" >/dev/null
      before=$(defects)
      line=$(wrk -t"$threads" -c"$clients" -d"${duration}s" -s "$here/compare/post.lua" "$url" -- \
        "$sqlite_work/body.json" "$token" | grep '^COMPARE ')
      stop_server
      gained=$(($(defects) - before))
      busy=$(grep -ciE 'busy|locked' "$scratch/server.log" || true)
      awk -v round="$round" -v binary="$binary" -v clients="$clients" \
        -v requests="$(field "$line" requests)" -v rps="$(field "$line" rps)" \
        -v p50="$(field "$line" p50_us)" -v p99="$(field "$line" p99_us)" -v gained="$gained" \
        -v non2xx="$(field "$line" non2xx)" -v busy="$busy" 'BEGIN {
          printf "%-5s %-48s %7s %8s %10.0f %8.2f %8.2f %8s %7s %5s\n", round, binary,
            clients, requests, rps, p50 / 1000, p99 / 1000, gained, non2xx, busy }'
    done
  done
done
