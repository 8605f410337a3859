// Turns a slice of the PostgreSQL server log (log_min_duration_statement = 0, the default
// Debian log_line_prefix '%m [%p] %q%u@%d ') into a pgbench script replaying the statements
// one database saw, in order, with their bind parameters.
//
//   node capture.mjs LOG_SLICE DATABASE OUT_PREFIX|-
//
// Writes (unless OUT_PREFIX is -, which only counts) OUT_PREFIX.sql (the pgbench script: every $n becomes a pgbench variable :OUT_n),
// OUT_PREFIX.vars (one `-D` argument a line, the values of those variables: pgbench sends
// them as bind parameters, so -M prepared prepares the statements as the server did) and
// OUT_PREFIX.txt (the statements with their durations, slowest first). Prints a JSON summary.
import { readFileSync, writeFileSync } from "node:fs";
import { basename } from "node:path";

const [logFile, database, outPrefix] = process.argv.slice(2);
if (!outPrefix) {
  console.error("usage: node capture.mjs LOG_SLICE DATABASE OUT_PREFIX|-");
  process.exit(2);
}
const tag = basename(outPrefix).replace(/[^A-Za-z0-9]/g, "");

// One entry per log message: continuation lines start with a tab.
const entryStart = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \S+ \[(\d+)\] (?:(\S*)@(\S*) )?(\w+):  ([\s\S]*)$/;
const entries = [];
for (const line of readFileSync(logFile, "utf8").split("\n")) {
  const m = entryStart.exec(line);
  if (m) {
    entries.push({ pid: m[1], db: m[3], level: m[4], text: m[5] });
  } else if (line.startsWith("\t") && entries.length) {
    entries[entries.length - 1].text += "\n" + line.slice(1);
  }
}

// `duration: 0.123 ms  execute sqlx_s_1: SELECT …` (extended protocol; parse and bind are
// logged too and skipped) or `duration: … ms  statement: …` (simple protocol).
const executed = /^duration: ([\d.]+) ms {2}(?:execute [^:]*|statement): ([\s\S]*)$/;
const statements = [];
const pending = new Map(); // pid -> the last execute, waiting for its DETAIL
for (const entry of entries) {
  if (entry.db !== database) continue;
  if (entry.level === "LOG") {
    const m = executed.exec(entry.text);
    pending.delete(entry.pid);
    if (!m) continue;
    const statement = { pid: entry.pid, ms: Number(m[1]), sql: m[2].trim(), params: [] };
    statements.push(statement);
    pending.set(entry.pid, statement);
  } else if (entry.level === "DETAIL" && entry.text.startsWith("parameters: ")) {
    const statement = pending.get(entry.pid);
    pending.delete(entry.pid);
    if (!statement) continue;
    const values = /\$(\d+) = (NULL|'((?:[^']|'')*)')/g;
    let m;
    while ((m = values.exec(entry.text))) {
      statement.params[Number(m[1])] = m[2] === "NULL" ? null : m[3].replace(/''/g, "'");
    }
  }
}

const countOnly = outPrefix === "-";
const script = [];
const vars = [];
const report = [];
let variable = 0;
statements.forEach((statement, index) => {
  // $n -> :tag_i_n, NULL parameters inlined. `$` inside string literals of the statement text
  // itself would be rewritten too; sea-orm binds every value, so there are none.
  let sql = statement.sql.replace(/\$(\d+)\b/g, (_, n) => {
    const value = statement.params[Number(n)];
    if (value === undefined) throw new Error(`statement ${index + 1}: no value for $${n}`);
    if (value === null) return "NULL";
    const name = `${tag}_${index + 1}_${n}`;
    vars.push(`${name}=${value}`);
    variable += 1;
    return `:${name}`;
  });
  // pgbench reads `:word` as a variable: the SQL text must hold no other colon followed by
  // a letter or digit, apart from casts (`::type`).
  const stray = sql.replace(new RegExp(`:${tag}_\\d+_\\d+`, "g"), "").replace(/::/g, "").match(/:[A-Za-z0-9_]/);
  if (stray && !countOnly) throw new Error(`statement ${index + 1} holds a colon pgbench would misread: ${sql}`);
  sql = sql.replace(/\s*\n\s*/g, " ").replace(/;?\s*$/, ";");
  script.push(sql);
  report.push({ index: index + 1, ms: statement.ms, sql: statement.sql, params: statement.params.filter((p) => p !== undefined).length });
});

if (!countOnly) {
  if (vars.some((v) => v.includes("\n"))) throw new Error("a parameter value holds a newline");
  writeFileSync(`${outPrefix}.sql`, script.join("\n") + "\n");
  writeFileSync(`${outPrefix}.vars`, vars.join("\n") + (vars.length ? "\n" : ""));
  writeFileSync(
    `${outPrefix}.txt`,
    [...report]
      .sort((a, b) => b.ms - a.ms)
      .map((r) => `#${r.index} ${r.ms.toFixed(3)} ms (${r.params} params)\n  ${r.sql.replace(/\s+/g, " ")}\n`)
      .join(""),
  );
}
const totalMs = statements.reduce((sum, s) => sum + s.ms, 0);
console.log(JSON.stringify({
  statements: statements.length,
  // BEGIN, COMMIT, ROLLBACK: counted in `statements`, and told apart in the report.
  transaction_control: statements.filter((s) => /^(BEGIN|COMMIT|ROLLBACK)\b/i.test(s.sql)).length,
  connections: new Set(statements.map((s) => s.pid)).size,
  parameters: variable,
  total_ms: Number(totalMs.toFixed(3)),
  slowest_ms: statements.length ? Math.max(...statements.map((s) => s.ms)) : 0,
}));
