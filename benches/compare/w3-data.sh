# W3's SQLite database and request, shared by benches/instructions.sh and benches/w3-wrk.sh
# (sourced, not run). The sourcing script sets `work` (COMPARE_WORK), `scratch` (a folder of
# its own), `url` (the server's /graphql) and `token` (set from $sqlite_work/token before
# w3_body), and defines `die`.

# A 20-project bench database, seeded once with an administrator's token by the binary given
# (again when that binary changes), and a fresh copy of it at $scratch/w3.db: the write-ahead
# log holds the last writes, so it is copied too.
sqlite_work=$work/sqlite-w3
prepare_w3() {
  local seeder=$1 made_by
  made_by=$(cksum <"$seeder")
  if [[ $(cat "$sqlite_work/ready" 2>/dev/null) != "$made_by" ]]; then
    rm -rf "$sqlite_work"
    mkdir -p "$sqlite_work"
    local seed_url="sqlite://$sqlite_work/seed.db?mode=rwc"
    "$seeder" --database-url "$seed_url" seed bench --projects 20 >"$sqlite_work/seed.log" 2>&1 ||
      die "seeding W3's database failed: $(tail -5 "$sqlite_work/seed.log")"
    "$seeder" --database-url "$seed_url" user create --email w3-admin@example.com \
      --name 'W3 Admin' --admin >"$sqlite_work/user.out" 2>"$sqlite_work/user.err" ||
      die "user create failed: $(cat "$sqlite_work/user.err")"
    tail -n 1 "$sqlite_work/user.out" | tr -d '[:space:]' >"$sqlite_work/token"
    [[ -s $sqlite_work/token ]] || die "user create printed no token"
    echo "$made_by" >"$sqlite_work/ready"
  fi
  rm -f "$scratch"/w3.db*
  cp "$sqlite_work/seed.db" "$scratch/w3.db"
  [[ ! -f $sqlite_work/seed.db-wal ]] || cp "$sqlite_work/seed.db-wal" "$scratch/w3.db-wal"
}

# The W3 request, a CRITICAL defect on the first project in execution, as the workloads bench
# logs them; written once the server answers, at $sqlite_work/body.json.
w3_body() {
  [[ -f $sqlite_work/body.json ]] && return
  local query='{"query":"{ projects(first: 100) { edges { node { id status } } } }"}' project
  project=$(curl -sf -H 'Content-Type: application/json' -H "Authorization: Bearer $token" \
    --data "$query" "$url" | grep -o '"id":"[^"]*","status":"IN_EXECUTION"' | head -n 1 |
    cut -d'"' -f4) || true
  [[ -n $project ]] || die "W3: no project in execution in $sqlite_work/seed.db"
  cat >"$sqlite_work/body.json" <<JSON || die "cannot write $sqlite_work/body.json"
{"query":"mutation(\$input: DefectCreateInput!) { defectCreate(input: \$input) { defect { id } userErrors { code message } } }",
 "variables":{"input":{"projectId":"$project","defect":{"title":"Bench defect",
  "stepsToReproduce":"1. Open an account\\n2. Change its owner\\n3. Save",
  "expectedResult":"The new owner is saved","actualResult":"The page reloads with the old owner",
  "severity":"CRITICAL","priority":"P1","environment":"UAT"}}}}
JSON
}
