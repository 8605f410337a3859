#!/usr/bin/env bash
# Steerco side by side with its peers, on one PostgreSQL loaded with the same bench data:
#
#   floor         pgbench replaying the SQL statements Steerco issues for one W1 / W2 request,
#                 captured from the PostgreSQL log on every run (so it follows the code)
#   steerco       this repository's release build
#   postgraphile  PostGraphile 4.14.1 (npm) with postgraphile-plugin-connection-filter
#   seaography    the server seaography-cli generates from the same schema, release build
#
# One load generator (wrk), loopback only, fixed-length runs, Steerco alternating with each
# peer (steerco, postgraphile, steerco, seaography, steerco, floor, ... per round); prints
# requests/s and p50/p99 latency per workload and server, and the ratios Steerco/peer and
# Steerco/floor. W1 and W2 are the documents of benches/workloads/documents.rs; the peers'
# equivalents are benches/compare/*-w{1,2}.graphql (their headers list the differences).
#
# Everything downloaded or built (npm packages, the cargo-installed CLIs, the generated
# seaography project and its target dir, logs, results) lives in $COMPARE_WORK, and is reused
# by the next run. Nothing of the peers is in the repository.
#
# Settings (environment):
#   COMPARE_WORK=/tmp/steerco-compare   scratch folder
#   COMPARE_DB=steerco_compare          database (created and seeded when missing or when its
#                                       project count differs from COMPARE_PROJECTS)
#   COMPARE_PROJECTS=1000               bench projects (`steerco seed bench --projects`)
#   COMPARE_TRANSPORT=socket            how every server and pgbench reach PostgreSQL: socket or tcp
#   COMPARE_DURATION=10                 seconds per measured run
#   COMPARE_WARMUP=3                    seconds of warm-up per server and workload
#   COMPARE_ROUNDS=3                    rounds (each runs every server once per workload)
#   COMPARE_CONNECTIONS=8               concurrent connections (wrk -c, pgbench -c)
#   COMPARE_THREADS=2                   load generator threads (wrk -t, pgbench -j)
#   COMPARE_WORKLOADS="W1 W2"           workloads
#   COMPARE_PEERS="postgraphile seaography"  (empty: Steerco and the floor alone)
#   COMPARE_POSTGRAPHILE_WORKERS=1      PostGraphile --cluster-workers (1: a single process)
#   COMPARE_TRANSPORT_CHECK=5           seconds per run of the Steerco TCP-vs-socket check, one
#                                       connection at a time, where a stalled round trip shows (0: skip)
#   COMPARE_STEERCO_BIN=                a prebuilt steerco binary (default: cargo build --release)
#   COMPARE_PG_HOST=127.0.0.1  COMPARE_PG_PORT=5432  COMPARE_PG_USER=postgres
#   COMPARE_PG_SOCKET=/var/run/postgresql  COMPARE_PG_LOG=(found: /var/log/postgresql/…)
#   COMPARE_PORT=18080                  first of four loopback ports
#   COMPARE_CPU_LATENCY_US=             a bound on the processors' wake-up latency (microseconds;
#                                       0 keeps idle processors polling) that the script holds
#                                       for the whole run, so every server, PostgreSQL and the
#                                       load generators run under it alike; needs root. Unset:
#                                       none, the machine as it is
#
# Needs: psql and pgbench, PostgreSQL superuser access (trust), its server log readable (by
# file or pg_read_file) with the default Debian log_line_prefix '%m [%p] %q%u@%d ', node and
# npm, cargo, curl; wrk is installed with apt-get when missing.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
here=$root/benches/compare
work=${COMPARE_WORK:-/tmp/steerco-compare}
db=${COMPARE_DB:-steerco_compare}
projects=${COMPARE_PROJECTS:-1000}
transport=${COMPARE_TRANSPORT:-socket}
duration=${COMPARE_DURATION:-10}
warmup=${COMPARE_WARMUP:-3}
rounds=${COMPARE_ROUNDS:-3}
connections=${COMPARE_CONNECTIONS:-8}
threads=${COMPARE_THREADS:-2}
read -r -a workloads <<<"${COMPARE_WORKLOADS:-W1 W2}"
read -r -a peers <<<"${COMPARE_PEERS-postgraphile seaography}"
postgraphile_workers=${COMPARE_POSTGRAPHILE_WORKERS:-1}
transport_check=${COMPARE_TRANSPORT_CHECK:-5}
pg_host=${COMPARE_PG_HOST:-127.0.0.1}
pg_port=${COMPARE_PG_PORT:-5432}
pg_user=${COMPARE_PG_USER:-postgres}
pg_socket=${COMPARE_PG_SOCKET:-/var/run/postgresql}
port=${COMPARE_PORT:-18080}
cpu_latency=${COMPARE_CPU_LATENCY_US:-}

postgraphile_version=4.14.1
connection_filter_version=2.3.0 # the last major for PostGraphile 4
sea_orm_cli_version=2.0.4       # Steerco's sea-orm
seaography_version=2.0.0-rc.9   # the newest seaography-cli; on sea-orm 2.0, async-graphql 7.0

declare -A ports=([steerco]=$port [postgraphile]=$((port + 1)) [seaography]=$((port + 2)) [steerco-alt]=$((port + 3)))
declare -A pids=()
capture_on=0
started=$SECONDS

say() { printf '[compare %s] %s\n' "$(date +%T)" "$*" >&2; }
die() {
  say "error: $*"
  exit 1
}

case $transport in tcp) other_transport=socket ;; socket) other_transport=tcp ;; *) die "COMPARE_TRANSPORT is tcp or socket" ;; esac
for peer in "${peers[@]}"; do
  [[ $peer == postgraphile || $peer == seaography ]] || die "unknown peer $peer"
done
if [[ -n $cpu_latency ]]; then
  [[ $cpu_latency =~ ^[0-9]+$ ]] || die "COMPARE_CPU_LATENCY_US is a number of microseconds"
  # In force while the file stays open, so until the script ends. Written as eight hex digits:
  # the kernel reads a write of any length but four as text.
  exec 9>/dev/cpu_dma_latency || die "cannot open /dev/cpu_dma_latency (needs root)"
  printf '%08x' "$cpu_latency" >&9 || die "cannot write /dev/cpu_dma_latency"
fi

# --- processes --------------------------------------------------------------------------------

# start NAME LOG COMMAND...: runs COMMAND in its own process group.
start() {
  local name=$1 log=$2
  shift 2
  setsid "$@" >"$log" 2>&1 </dev/null &
  pids[$name]=$!
}

stop() {
  local pid=${pids[$1]:-}
  [[ -n $pid ]] || return 0
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL -- "-$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  unset "pids[$1]"
}

stop_all() {
  local name
  for name in "${!pids[@]}"; do stop "$name"; done
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  stop_all
  if ((capture_on)); then
    pg_admin "ALTER DATABASE \"$db\" RESET log_min_duration_statement" >/dev/null 2>&1 || true
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_ready NAME URL: until URL answers a GraphQL POST (any HTTP status below 500).
wait_ready() {
  local name=$1 url=$2 code
  for _ in $(seq 240); do
    kill -0 "${pids[$name]}" 2>/dev/null || die "$name exited; see its log in $run"
    code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
      --data '{"query":"{ __typename }"}' "$url" 2>/dev/null || true)
    [[ $code =~ ^[1-4][0-9][0-9]$ ]] && return 0
    sleep 0.5
  done
  die "$name did not answer on $url"
}

port_free() {
  ! curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/" 2>/dev/null
}

# --- PostgreSQL -------------------------------------------------------------------------------

psql_base=(psql -X -q -v ON_ERROR_STOP=1 -At -h "$pg_host" -p "$pg_port" -U "$pg_user")
pg_admin() { "${psql_base[@]}" -d postgres -c "$1"; }
pg_db() { "${psql_base[@]}" -d "$db" -c "$1"; }

tcp_url="postgres://$pg_user@$pg_host:$pg_port/$db"
socket_url="postgres://$pg_user@localhost:$pg_port/$db?host=$pg_socket"
url_for() { if [[ $1 == tcp ]]; then echo "$tcp_url"; else echo "$socket_url"; fi; }
pgbench_host() { if [[ $1 == tcp ]]; then echo "$pg_host"; else echo "$pg_socket"; fi; }

find_pg_log() {
  if [[ -n ${COMPARE_PG_LOG:-} ]]; then
    echo "$COMPARE_PG_LOG"
    return
  fi
  local file
  file=$(pg_admin "SELECT coalesce(pg_current_logfile('stderr'), '')")
  if [[ -n $file ]]; then
    [[ $file == /* ]] || file="$(pg_admin 'SHOW data_directory')/$file"
    echo "$file"
  else
    echo "/var/log/postgresql/postgresql-$(($(pg_admin 'SHOW server_version_num') / 10000))-main.log"
  fi
}

log_size() {
  if [[ -r $pg_log ]]; then stat -c %s "$pg_log"; else pg_admin "SELECT size FROM pg_stat_file('$pg_log')"; fi
}

# log_since OFFSET: the server log from byte OFFSET on.
log_since() {
  if [[ -r $pg_log ]]; then
    tail -c "+$(($1 + 1))" "$pg_log"
  else
    pg_admin "SELECT pg_read_file('$pg_log', $1, (pg_stat_file('$pg_log')).size - $1)"
  fi
}

schema_hash() {
  pg_db "SELECT md5(
      (SELECT string_agg(table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable, ','
                         ORDER BY table_name, column_name)
         FROM information_schema.columns WHERE table_schema = 'public')
      || (SELECT coalesce(string_agg(conrelid::regclass || ' ' || pg_get_constraintdef(oid), ','
                                     ORDER BY conrelid::regclass::text, conname), '')
            FROM pg_constraint WHERE connamespace = 'public'::regnamespace))"
}

# --- preparation ------------------------------------------------------------------------------

for tool in psql pgbench node npm cargo curl setsid; do
  command -v "$tool" >/dev/null || die "$tool is required"
done
if ! command -v wrk >/dev/null; then
  say "installing wrk"
  if ((EUID == 0)); then apt-get install -y -qq wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }; else sudo apt-get install -y -qq wrk >/dev/null; fi
fi

mkdir -p "$work/state" "$work/runs"
run=$work/runs/$(date +%Y%m%d-%H%M%S)
mkdir -p "$run"
say "scratch folder $work, this run in $run"

for name in "${!ports[@]}"; do
  port_free "${ports[$name]}" || die "port ${ports[$name]} (for $name) is in use; set COMPARE_PORT"
done

if [[ -n ${COMPARE_STEERCO_BIN:-} ]]; then
  steerco=$COMPARE_STEERCO_BIN
else
  say "building Steerco (cargo build --release)"
  (cd "$root" && cargo build --release --quiet --bin steerco)
  steerco=${CARGO_TARGET_DIR:-$root/target}/release/steerco
fi
[[ -x $steerco ]] || die "no steerco binary at $steerco"

# The data: reused when the database holds COMPARE_PROJECTS projects already.
have=$(pg_admin "SELECT count(*) FROM pg_database WHERE datname = '$db'")
if [[ $have == 1 ]] && [[ $(pg_db "SELECT count(*) FROM project" 2>/dev/null || echo none) == "$projects" ]]; then
  say "reusing database $db ($projects projects)"
  "$steerco" --database-url "$socket_url" migrate up >"$run/migrate.log" 2>&1
else
  say "creating database $db and seeding $projects bench projects"
  [[ $have == 1 ]] && pg_admin "DROP DATABASE \"$db\" WITH (FORCE)"
  pg_admin "CREATE DATABASE \"$db\""
  "$steerco" --database-url "$socket_url" seed bench --projects "$projects" >"$run/seed.log" 2>&1 ||
    die "seeding failed: $(tail -5 "$run/seed.log")"
  pg_db "VACUUM ANALYZE" >/dev/null
  rm -f "$work/state/token-$db"
fi
pg_log=$(find_pg_log)
[[ -r $pg_log ]] || pg_admin "SELECT 1 FROM pg_stat_file('$pg_log')" >/dev/null ||
  die "cannot read the PostgreSQL log $pg_log; set COMPARE_PG_LOG"

setup_postgraphile() {
  local dir=$work/postgraphile installed
  installed=$(node -p "require('$dir/node_modules/postgraphile/package.json').version + ' ' +
    require('$dir/node_modules/postgraphile-plugin-connection-filter/package.json').version" 2>/dev/null || true)
  if [[ $installed != "$postgraphile_version $connection_filter_version" ]]; then
    say "installing postgraphile@$postgraphile_version postgraphile-plugin-connection-filter@$connection_filter_version (npm)"
    mkdir -p "$dir"
    echo '{ "name": "steerco-compare-postgraphile", "private": true }' >"$dir/package.json"
    (cd "$dir" && npm install --no-audit --no-fund --save-exact --loglevel=error \
      "postgraphile@$postgraphile_version" "postgraphile-plugin-connection-filter@$connection_filter_version" >/dev/null)
  fi
}

# cargo_tool BIN CRATE VERSION [cargo install options...]
cargo_tool() {
  local bin=$1 crate=$2 version=$3
  shift 3
  if ! "$work/tools/bin/$bin" --version 2>/dev/null | grep -qF " $version"; then
    say "installing $crate@$version (cargo install; the first time takes a few minutes)"
    CARGO_TARGET_DIR=$work/target-tools cargo install --quiet --locked --force --root "$work/tools" "$crate@$version" "$@"
  fi
}

setup_seaography() {
  local project=$work/seaography fresh=$work/seaography.new hash
  cargo_tool sea-orm-cli sea-orm-cli "$sea_orm_cli_version" --no-default-features --features codegen,sqlx-postgres,runtime-tokio
  cargo_tool seaography-cli seaography-cli "$seaography_version"
  hash=$(schema_hash)
  if [[ ! -f $project/.schema-hash || $(cat "$project/.schema-hash") != "$hash" ]]; then
    say "generating the seaography project from the schema of $db"
    rm -rf "$fresh"
    mkdir -p "$fresh/src/entities"
    "$work/tools/bin/sea-orm-cli" generate entity --database-url "$tcp_url" --output-dir "$fresh/src/entities" \
      --seaography --ignore-tables seaql_migrations >"$run/sea-orm-cli.log" 2>&1
    "$work/tools/bin/seaography-cli" --output-dir "$fresh" --entities "$fresh/src/entities" \
      --database-url "$tcp_url" --framework poem steerco-seaography >"$run/seaography-cli.log" 2>&1
    # Two changes to what seaography-cli writes. The schema's keys are UUIDs, and without the
    # with-uuid feature (which the generator does not add) seaography panics building a cursor
    # ("Cannot convert type to cursor"). And the generated server logs every SQL statement (sqlx
    # logging at INFO); Steerco does not, and PostGraphile runs with --disable-query-log.
    sed -i 's|"with-chrono"\]|"with-chrono", "with-uuid"]|' "$fresh/Cargo.toml"
    sed -i 's|Database::connect(&\*DATABASE_URL)|Database::connect(sea_orm::ConnectOptions::new(DATABASE_URL.as_str()).sqlx_logging(false).to_owned())|' "$fresh/src/main.rs"
    grep -q '"with-uuid"' "$fresh/Cargo.toml" || die "could not add with-uuid to the seaography project"
    grep -q 'sqlx_logging(false)' "$fresh/src/main.rs" || die "could not turn off the SQL log of the seaography server"
    mkdir -p "$project"
    rm -rf "$project/src"
    cp -r "$fresh/src" "$fresh/Cargo.toml" "$project/" # keeps Cargo.lock: the same dependencies as last time
    rm -rf "$fresh"
    echo "$hash" >"$project/.schema-hash"
  fi
  say "building the seaography server (cargo build --release; the first time takes a while)"
  (cd "$project" && CARGO_TARGET_DIR=$work/target-seaography cargo build --release --quiet)
  seaography=$work/target-seaography/release/steerco-seaography
}

for peer in "${peers[@]}"; do "setup_$peer"; done

# --- servers ----------------------------------------------------------------------------------

endpoint() { echo "http://127.0.0.1:${ports[$1]}/graphql"; }

# start_servers TRANSPORT: Steerco and every peer, reaching PostgreSQL by TRANSPORT.
start_servers() {
  local url
  url=$(url_for "$1")
  start steerco "$run/steerco.log" "$steerco" --database-url "$url" serve --addr "127.0.0.1:${ports[steerco]}" \
    --production --rate-limit 0 --worker false
  for peer in "${peers[@]}"; do
    case $peer in
      postgraphile)
        start postgraphile "$run/postgraphile.log" env NODE_ENV=production \
          "$work/postgraphile/node_modules/.bin/postgraphile" --connection "$url" \
          --host 127.0.0.1 --port "${ports[postgraphile]}" --append-plugins postgraphile-plugin-connection-filter \
          --disable-graphiql --disable-query-log --cluster-workers "$postgraphile_workers"
        ;;
      seaography)
        start seaography "$run/seaography.log" env DATABASE_URL="$url" URL="127.0.0.1:${ports[seaography]}" \
          ENDPOINT=/graphql "$seaography"
        ;;
    esac
  done
  wait_ready steerco "$(endpoint steerco)"
  for peer in "${peers[@]}"; do wait_ready "$peer" "$(endpoint "$peer")"; done
}

# post SERVER BODY OUT: one request, the answer in OUT.
post() {
  local auth=()
  [[ ${1%-alt} == steerco ]] && auth=(-H "Authorization: Bearer $token")
  curl -sf -o "$3" -H 'Content-Type: application/json' "${auth[@]}" --data-binary "@$2" "$(endpoint "$1")" ||
    die "$1: request $2 failed"
}

# --- capture: Steerco's statements, and the peers' answers checked against Steerco's ----------

say "capturing the statements of one request (log_min_duration_statement = 0 on $db)"
pg_admin "ALTER DATABASE \"$db\" SET log_min_duration_statement = 0" >/dev/null
capture_on=1
start_servers "$transport"

# A token for Steerco (kept in the scratch folder with the database it belongs to).
token=$(cat "$work/state/token-$db" 2>/dev/null || true)
echo '{"query":"{ projects(first: 100) { edges { node { id code openChangeRequestCount } } } }"}' >"$run/projects.json"
if [[ -z $token ]] || ! curl -sf -o "$run/projects.out" -H 'Content-Type: application/json' \
  -H "Authorization: Bearer $token" --data-binary "@$run/projects.json" "$(endpoint steerco)" ||
  ! grep -q '"edges"' "$run/projects.out"; then
  "$steerco" --database-url "$socket_url" user create --email "bench-admin-$(date +%s)@example.com" \
    --name 'Bench Admin' --admin >"$run/user.log" 2>&1 || die "user create failed: $(cat "$run/user.log")"
  token=$(tail -n 1 "$run/user.log" | tr -d '[:space:]')
  echo "$token" >"$work/state/token-$db"
fi

# W1's project: the one with the most open change requests among the first hundred (the last of
# them on a tie, as tests/e2e/budget.rs picks it).
post steerco "$run/projects.json" "$run/projects.out"
read -r w1_code w1_id < <(node -e '
  const nodes = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).data.projects.edges.map((e) => e.node);
  const best = nodes.reduce((a, n) => (a && a.openChangeRequestCount > n.openChangeRequestCount ? a : n), null);
  console.log(best.code, best.id);' "$run/projects.out")
[[ -n ${w1_id:-} ]] || die "no project in Steerco's answer: $(head -c 300 "$run/projects.out")"
say "W1 project $w1_code"

declare -A body=()
variables_w1=$(printf '{"code":"%s","projectId":"%s"}' "$w1_code" "$w1_id")
node "$here/body.mjs" rust "$root/benches/workloads/documents.rs" W1_DASHBOARD "$variables_w1" >"$run/steerco-W1.json"
node "$here/body.mjs" rust "$root/benches/workloads/documents.rs" W2_PORTFOLIO >"$run/steerco-W2.json"
for peer in "${peers[@]}"; do
  node "$here/body.mjs" graphql "$here/$peer-w1.graphql" "{\"code\":\"$w1_code\"}" >"$run/$peer-W1.json"
  node "$here/body.mjs" graphql "$here/$peer-w2.graphql" >"$run/$peer-W2.json"
done
for workload in "${workloads[@]}"; do
  for server in steerco "${peers[@]}"; do body[$server-$workload]=$run/$server-$workload.json; done
done

declare -A statements=() control=() connections_used=() db_ms=()
for workload in "${workloads[@]}"; do
  for server in steerco "${peers[@]}"; do
    post "$server" "${body[$server-$workload]}" "$run/$server-$workload.warm" # pools and caches warm
    offset=$(log_size)
    post "$server" "${body[$server-$workload]}" "$run/$server-$workload.out"
    sleep 0.5
    log_since "$offset" >"$run/$server-$workload.log"
    prefix=-
    [[ $server == steerco ]] && prefix=$run/floor-steerco-$workload
    summary=$(node "$here/capture.mjs" "$run/$server-$workload.log" "$db" "$prefix") ||
      die "could not read the statements of $server $workload from $pg_log"
    statements[$server-$workload]=$(node -p 'JSON.parse(process.argv[1]).statements' "$summary")
    db_ms[$server-$workload]=$(node -p 'JSON.parse(process.argv[1]).total_ms' "$summary")
    control[$server-$workload]=$(node -p 'JSON.parse(process.argv[1]).transaction_control' "$summary")
    connections_used[$server-$workload]=$(node -p 'JSON.parse(process.argv[1]).connections' "$summary")
    ((statements[$server-$workload] > 0)) ||
      die "no statement of $server $workload in $pg_log (is log_line_prefix '%m [%p] %q%u@%d '?)"
    node "$here/check.mjs" "$workload" "$server" "$run/$server-$workload.out" >"$run/$server-$workload.summary" ||
      die "$server answered $workload with errors"
  done
  for peer in "${peers[@]}"; do
    cmp -s "$run/steerco-$workload.summary" "$run/$peer-$workload.summary" || {
      say "steerco $workload: $(cat "$run/steerco-$workload.summary")"
      say "$peer $workload: $(cat "$run/$peer-$workload.summary")"
      die "$peer's $workload does not read the same data as Steerco's"
    }
  done
  say "$workload: every server read the same data: $(cut -c1-160 "$run/steerco-$workload.summary")"
done

pg_admin "ALTER DATABASE \"$db\" RESET log_min_duration_statement" >/dev/null
capture_on=0
stop_all

# --- load -------------------------------------------------------------------------------------

results=$run/results.tsv
seq_no=0
load_connections=$connections

# measure WORKLOAD SERVER ROUND SECONDS [RESULTS]: one run; ROUND 0 is a warm-up (not recorded).
measure() {
  local workload=$1 server=$2 round=$3 secs=$4 out=${5:-$results} rps p50 p99 errors
  if [[ $server == floor ]]; then
    local logs=$run/pgbench-$workload-$round args=() line
    rm -rf "$logs" && mkdir -p "$logs"
    while IFS= read -r line; do args+=(-D "$line"); done <"$run/floor-steerco-$workload.vars"
    (cd "$logs" && pgbench -n -M prepared -f "$run/floor-steerco-$workload.sql" "${args[@]}" \
      -h "$(pgbench_host "$transport")" -p "$pg_port" -U "$pg_user" -T "$secs" -c "$load_connections" -j "$((load_connections < threads ? load_connections : threads))" \
      -l --log-prefix=tx "$db" >"$logs/pgbench.out" 2>&1) || true
    rps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$logs/pgbench.out")
    [[ -n $rps ]] || die "pgbench failed: $(tail -5 "$logs/pgbench.out")"
    errors=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$logs/pgbench.out")
    read -r p50 p99 < <(cat "$logs"/tx.* | awk '{print $3}' | sort -n |
      awk '{v[NR]=$1} END {i=int(NR*0.5+0.999); j=int(NR*0.99+0.999); if (i<1) i=1; if (j<1) j=1; print v[i], v[j]}')
    rm -rf "$logs"
  else
    local auth=() line
    [[ ${server%-alt} == steerco ]] && auth=("$token")
    line=$(wrk -t "$((load_connections < threads ? load_connections : threads))" -c "$load_connections" -d "${secs}s" --timeout 10s -s "$here/post.lua" \
      "$(endpoint "$server")" -- "${body[${server%-alt}-$workload]}" "${auth[@]}" | grep '^COMPARE ') ||
      die "wrk failed against $server"
    [[ $line =~ \ rps=([0-9.]+)\ p50_us=([0-9]+)\ p99_us=([0-9]+)\ non2xx=([0-9]+)\ connect=([0-9]+)\ read=([0-9]+)\ write=([0-9]+)\ timeout=([0-9]+) ]] ||
      die "unexpected wrk output: $line"
    rps=${BASH_REMATCH[1]} p50=${BASH_REMATCH[2]} p99=${BASH_REMATCH[3]}
    errors=$((BASH_REMATCH[4] + BASH_REMATCH[5] + BASH_REMATCH[6] + BASH_REMATCH[7] + BASH_REMATCH[8]))
  fi
  if ((round > 0)); then
    seq_no=$((seq_no + 1))
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$seq_no" "$workload" "$server" "$round" "$rps" "$p50" "$p99" "${errors:-0}" >>"$out"
    say "$(printf '%-3s round %s %-18s %8.1f req/s  p50 %6.1f ms  p99 %6.1f ms' "$workload" "$round" "$server" "$rps" "$(awk "BEGIN{print $p50/1000}")" "$(awk "BEGIN{print $p99/1000}")")"
  fi
}

say "starting the servers for the measurements (PostgreSQL over $transport)"
start_servers "$transport"

if ((transport_check > 0)); then
  say "Steerco over $transport vs over $other_transport (${transport_check} s runs)"
  start steerco-alt "$run/steerco-alt.log" "$steerco" --database-url "$(url_for "$other_transport")" serve \
    --addr "127.0.0.1:${ports[steerco-alt]}" --production --rate-limit 0 --worker false
  wait_ready steerco-alt "$(endpoint steerco-alt)"
  load_connections=1
  for workload in "${workloads[@]}"; do
    for server in steerco steerco-alt; do measure "$workload" "$server" 0 2; done
    for server in steerco steerco-alt steerco steerco-alt; do measure "$workload" "$server" 1 "$transport_check" "$run/transport.tsv"; done
  done
  stop steerco-alt
  load_connections=$connections
fi

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
say "warming up (${warmup} s per server and workload)"
for workload in "${workloads[@]}"; do
  for server in steerco "${peers[@]}" floor; do measure "$workload" "$server" 0 "$warmup"; done
done

for round in $(seq "$rounds"); do
  for workload in "${workloads[@]}"; do
    for other in "${peers[@]}" floor; do
      measure "$workload" steerco "$round" "$duration"
      measure "$workload" "$other" "$round" "$duration"
    done
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
stop_all

# --- report -----------------------------------------------------------------------------------

{
  echo
  if [[ -n ${COMPARE_STEERCO_BIN:-} ]]; then label="Steerco ($steerco)"; else label="Steerco $(git -C "$root" describe --always --dirty 2>/dev/null || echo '?')"; fi
  against=()
  for peer in "${peers[@]}"; do
    case $peer in
      postgraphile) against+=("PostGraphile $postgraphile_version (+ connection-filter $connection_filter_version, $postgraphile_workers worker(s)),") ;;
      seaography) against+=("seaography $seaography_version (poem),") ;;
    esac
  done
  echo "$label vs" "${against[@]}" "floor = pgbench -M prepared replaying Steerco's statements"
  echo "$projects bench projects, PostgreSQL $(pg_admin 'SHOW server_version' | cut -d' ' -f1) over $transport," \
    "wrk -t$threads -c$connections, ${rounds} rounds of ${duration} s, W1 project $w1_code"
  echo "$(nproc) cores; load average before the rounds $load_before, after $load_after"
  [[ -z $cpu_latency ]] || echo "processors' wake-up latency bounded to $cpu_latency µs for the whole run, every server alike"
  echo
  node "$here/report.mjs" "$results" steerco "${peers[@]}" floor
  echo
  echo "Statements per request, of them BEGIN/COMMIT/ROLLBACK, the connections they ran on and their"
  echo "summed execution time in PostgreSQL (one request alone):"
  for workload in "${workloads[@]}"; do
    line="  $workload:"
    for server in steerco "${peers[@]}"; do
      key=$server-$workload
      line+=" $server ${statements[$key]} (${control[$key]} tx) on ${connections_used[$key]} conn, ${db_ms[$key]} ms;"
    done
    echo "${line%;}"
  done
  if [[ -f $run/transport.tsv ]]; then
    echo
    echo "Steerco reaching PostgreSQL over $transport (steerco) and over $other_transport (steerco-alt), one connection:"
    node "$here/report.mjs" "$run/transport.tsv" steerco steerco-alt | sed 's/^/  /'
  fi
  echo
  echo "Logs, answers, captured statements (floor-steerco-W*.txt, slowest first) and results: $run"
  echo "Total time: $((SECONDS - started)) s"
} | tee "$run/report.txt"
