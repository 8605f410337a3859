//! The GraphQL documents of the read workloads, shared by the benchmarks and the
//! statement-budget test.

/// W1, a project dashboard: the plan (phases and their milestones), the change requests
/// awaiting a decision with their ballots, open defects by severity, the go-live plan with
/// its rollback plan, and the RACI matrix.
pub const W1_DASHBOARD: &str = r#"query Dashboard($code: String!, $projectId: ID!) {
  project(code: $code) {
    id code name status
    scheduleHealth { green amber red overdue totalSlipDays }
    phases {
      id position name status plannedStart plannedEnd
      milestones { id name baselineDate forecastDate actualDate status health slipDays }
    }
    changeRequests(filter: { status: [SUBMITTED, UNDER_ASSESSMENT, INFO_REQUESTED, AWAITING_DECISION] }, first: 50) {
      totalCount
      edges { node { id code title status priority
        ballot { decision { status outcome votes { choice } } } } }
    }
    uatMetrics { openDefectsBySeverity { severity count } }
    goLivePlans { id status plannedGoLive rollbackPlan { maxMinutes rehearsedOn rehearsalPassed approvedBy authorityIds } }
  }
  raciMatrix(projectId: $projectId) {
    valid
    activities { id name phaseId assignments { letter user { id name } } }
  }
}"#;

/// W2, a portfolio: fifty projects with their status, schedule health and next milestone,
/// open change requests, and open defects by severity (CRITICAL among them).
pub const W2_PORTFOLIO: &str = r#"query Portfolio {
  projects(first: 50) {
    totalCount
    edges { node {
      id code name status
      scheduleHealth { green amber red overdue nextMilestone { name forecastDate } }
      openChangeRequestCount
      uatMetrics { openDefectsBySeverity { severity count } }
    } }
  }
}"#;
