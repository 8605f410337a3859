// Reduces one server's answer to W1 or W2 to the counts every server must agree on, so that
// compare.sh can check that the peers' documents read the same data as Steerco's.
//
//   node check.mjs W1|W2 steerco|postgraphile|seaography RESPONSE.json
//
// Prints one JSON line (the summary) or exits 1 with the errors of the answer.
import { readFileSync } from "node:fs";

const [workload, server, file] = process.argv.slice(2);
const answer = JSON.parse(readFileSync(file, "utf8"));
if (answer.errors || !answer.data) {
  console.error(`${server} ${workload}: ${JSON.stringify(answer.errors ?? answer).slice(0, 2000)}`);
  process.exit(1);
}
const data = answer.data;
const SEVERITIES = ["CRITICAL", "MAJOR", "MINOR", "TRIVIAL"];
const sum = (xs) => xs.reduce((a, b) => a + b, 0);
const nodes = (connection) => connection?.nodes ?? connection?.edges?.map((e) => e.node) ?? [];

function bySeverity(pairs) {
  const out = {};
  for (const s of SEVERITIES) out[s] = 0;
  for (const [severity, count] of pairs) if (severity) out[severity] = (out[severity] ?? 0) + count;
  return out;
}

// Counts of aliased per-severity totals (`critical: … { totalCount }`), the peers' shape.
const aliasedSeverities = (p, count) => bySeverity(SEVERITIES.map((s) => [s, count(p[s.toLowerCase()])]));

const summaries = {
  W1: {
    steerco(d) {
      const p = d.project;
      const crs = p.changeRequests.edges.map((e) => e.node);
      const ballots = crs.map((c) => c.ballot).filter(Boolean);
      return {
        code: p.code,
        phases: p.phases.length,
        milestones: sum(p.phases.map((ph) => ph.milestones.length)),
        openChangeRequests: p.changeRequests.totalCount,
        listed: crs.length,
        ballots: ballots.length,
        votes: sum(ballots.map((b) => b.decision.votes.length)),
        openDefects: bySeverity(p.uatMetrics.openDefectsBySeverity.map((x) => [x.severity, x.count])),
        goLivePlans: p.goLivePlans.length,
        raciActivities: d.raciMatrix.activities.length,
        raciAssignments: sum(d.raciMatrix.activities.map((a) => a.assignments.length)),
      };
    },
    postgraphile(d) {
      const p = d.projectByCode;
      const phases = nodes(p.phasesByProjectId);
      const listed = nodes(p.openChangeRequests);
      const ids = new Set(listed.map((c) => c.id));
      const ballots = nodes(p.ballots).filter((b) => ids.has(b.subjectId));
      const activities = nodes(p.raciActivitiesByProjectId);
      return {
        code: p.code,
        phases: phases.length,
        milestones: sum(phases.map((ph) => nodes(ph.milestonesByPhaseId).length)),
        openChangeRequests: p.openChangeRequests.totalCount,
        listed: listed.length,
        ballots: ballots.length,
        votes: sum(ballots.map((b) => nodes(b.decisionVotesByDecisionId).length)),
        openDefects: aliasedSeverities(p, (c) => c.totalCount),
        goLivePlans: nodes(p.goLivePlansByProjectId).length,
        raciActivities: activities.length,
        raciAssignments: sum(activities.map((a) => nodes(a.raciAssignmentsByActivityId).length)),
      };
    },
    seaography(d) {
      const projects = nodes(d.project);
      if (projects.length !== 1) throw new Error(`expected one project, got ${projects.length}`);
      const p = projects[0];
      const phases = nodes(p.phase);
      const listed = nodes(p.openChangeRequests);
      const ids = new Set(listed.map((c) => c.id));
      const ballots = nodes(p.ballots).filter((b) => ids.has(b.subjectId));
      const activities = nodes(p.raciActivity);
      return {
        code: p.code,
        phases: phases.length,
        milestones: sum(phases.map((ph) => nodes(ph.milestone).length)),
        openChangeRequests: p.openChangeRequests.paginationInfo.total,
        listed: listed.length,
        ballots: ballots.length,
        votes: sum(ballots.map((b) => nodes(b.decisionVote).length)),
        openDefects: aliasedSeverities(p, (c) => c.paginationInfo.total),
        goLivePlans: nodes(p.goLivePlan).length,
        raciActivities: activities.length,
        raciAssignments: sum(activities.map((a) => nodes(a.raciAssignment).length)),
      };
    },
  },
  W2: {
    steerco(d) {
      const ps = d.projects.edges.map((e) => e.node);
      return {
        total: d.projects.totalCount,
        codes: ps.map((p) => p.code).join(","),
        openChangeRequests: sum(ps.map((p) => p.openChangeRequestCount)),
        openDefects: bySeverity(ps.flatMap((p) => p.uatMetrics.openDefectsBySeverity.map((x) => [x.severity, x.count]))),
        // every milestone counts in exactly one of green, amber, red
        milestones: sum(ps.map((p) => p.scheduleHealth.green + p.scheduleHealth.amber + p.scheduleHealth.red)),
      };
    },
    postgraphile(d) {
      const ps = nodes(d.allProjects);
      const defects = {};
      for (const s of SEVERITIES) defects[s] = sum(ps.map((p) => p[s.toLowerCase()].totalCount));
      return {
        total: d.allProjects.totalCount,
        codes: ps.map((p) => p.code).join(","),
        openChangeRequests: sum(ps.map((p) => p.openChangeRequests.totalCount)),
        openDefects: defects,
        milestones: sum(ps.map((p) => nodes(p.milestonesByProjectId).length)),
      };
    },
    seaography(d) {
      const ps = nodes(d.project);
      const defects = {};
      for (const s of SEVERITIES) defects[s] = sum(ps.map((p) => p[s.toLowerCase()].paginationInfo.total));
      return {
        total: d.project.paginationInfo.total,
        codes: ps.map((p) => p.code).join(","),
        openChangeRequests: sum(ps.map((p) => p.openChangeRequests.paginationInfo.total)),
        openDefects: defects,
        milestones: sum(ps.map((p) => nodes(p.milestone).length)),
      };
    },
  },
};

try {
  console.log(JSON.stringify(summaries[workload][server](data)));
} catch (error) {
  console.error(`${server} ${workload}: unexpected answer (${error.message}): ${JSON.stringify(data).slice(0, 1000)}`);
  process.exit(1);
}
