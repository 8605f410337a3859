// Prints compare.sh's table from its results file (tab-separated, one line a run):
//   seq workload server round rps p50_us p99_us errors
// Requests/s and latencies are medians over the rounds. A ratio Steerco/X is the median, over
// the rounds, of the Steerco run just before X's run divided by X's run: Steerco and each
// peer alternate, so a machine that slows down for a while slows both sides of a pair.
import { readFileSync } from "node:fs";

const [file, ...order] = process.argv.slice(2);
const runs = readFileSync(file, "utf8")
  .trim()
  .split("\n")
  .filter((line) => line && !line.startsWith("#"))
  .map((line) => {
    const [seq, workload, server, round, rps, p50, p99, errors] = line.split("\t");
    return { seq: Number(seq), workload, server, round: Number(round), rps: Number(rps), p50: Number(p50), p99: Number(p99), errors: Number(errors) };
  })
  .sort((a, b) => a.seq - b.seq);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const ms = (us) => (Number.isFinite(us) ? (us / 1000).toFixed(1) : "-");
const servers = order.length ? order : [...new Set(runs.map((r) => r.server))];
const workloads = [...new Set(runs.map((r) => r.workload))];

const rows = [["workload", "server", "requests/s", "p50 ms", "p99 ms", "runs", "errors", "Steerco/server"]];
for (const workload of workloads) {
  const mine = runs.filter((r) => r.workload === workload);
  for (const server of servers) {
    const these = mine.filter((r) => r.server === server);
    if (!these.length) continue;
    let ratio = "";
    if (server !== "steerco") {
      const ratios = these
        .map((run) => {
          const before = mine.filter((r) => r.server === "steerco" && r.seq < run.seq).pop();
          return before && run.rps > 0 ? before.rps / run.rps : NaN;
        })
        .filter(Number.isFinite);
      ratio = ratios.length ? `${median(ratios).toFixed(2)}x` : "-";
    }
    rows.push([
      workload,
      server,
      median(these.map((r) => r.rps)).toFixed(1),
      ms(median(these.map((r) => r.p50))),
      ms(median(these.map((r) => r.p99))),
      String(these.length),
      String(these.reduce((a, r) => a + r.errors, 0)),
      ratio,
    ]);
  }
}
const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
for (const [i, row] of rows.entries()) {
  console.log(row.map((cell, j) => (j < 2 ? cell.padEnd(widths[j]) : cell.padStart(widths[j]))).join("  "));
  if (i === 0) console.log(widths.map((w) => "-".repeat(w)).join("  "));
}
