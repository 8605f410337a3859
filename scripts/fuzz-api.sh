#!/usr/bin/env bash
# Fuzzes the GraphQL API with schemathesis: a local server on a fresh SQLite database with the
# demo project, an admin token, arbitrary operations built from the schema for a bounded time.
# Fails on any server error: an HTTP 5xx, or a top-level error that is not coded or is coded
# INTERNAL (see scripts/fuzz_hooks.py). Refusals (userErrors, BAD_REQUEST, LIMIT_EXCEEDED,
# NOT_FOUND, ...) are the API working as designed.
#
#   scripts/fuzz-api.sh [SECONDS]        default 120; FUZZ_VENV reuses a virtualenv
set -euo pipefail

seconds="${1:-120}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
work="$(mktemp -d)"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

venv="${FUZZ_VENV:-$work/venv}"
if [ ! -x "$venv/bin/st" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet 'schemathesis==4.32.5'
fi

cargo build --quiet
# Wherever cargo builds (CARGO_TARGET_DIR, a config's target-dir), not only ./target.
target_dir="$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
bin="$target_dir/debug/steerco"
db="sqlite://$work/fuzz.db?mode=rwc"
token="$("$bin" --database-url "$db" user create --email fuzz@example.com --name Fuzz --admin \
    | grep -o 'stc_[A-Za-z0-9_-]*' | head -n 1)"
"$bin" --database-url "$db" seed demo > /dev/null

port=$(( 20000 + RANDOM % 20000 ))
STEERCO_RATE_LIMIT=0 STEERCO_MAIL_DIR="$work/mail" RUST_LOG=error \
    "$bin" --database-url "$db" serve --addr "127.0.0.1:$port" > "$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 50); do
    curl -sf "http://127.0.0.1:$port/health" > /dev/null && break
    sleep 0.2
done

cd "$root/scripts"
SCHEMATHESIS_HOOKS=fuzz_hooks PYTHONPATH=. "$venv/bin/st" run \
    "http://127.0.0.1:$port/graphql" \
    --header "Authorization: Bearer $token" \
    --checks no_internal_error \
    --phases fuzzing \
    --max-time "$seconds" \
    --seed 20261125 \
    --no-color
