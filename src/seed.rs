//! `steerco seed demo`: a CRM roll-out with its governance team, to try the API on.
//!
//! Re-running it changes nothing once the demo project exists.

use rust_decimal::Decimal;
use steerco_entity::user;
use steerco_graphql::domain::phase_template::TemplateKey;
use steerco_graphql::domain::project::ProjectAction;
use steerco_graphql::domain::role::ProjectRole;
use steerco_graphql::service::project::{MoneyInput, NewProject};
use steerco_graphql::service::user::NewUser;
use steerco_graphql::service::{self, Actor, AppState, Caller, ServiceResult};
use uuid::Uuid;

pub const DEMO_PROJECT_CODE: &str = "CRM-DEMO";

/// The people of the demo, with their project roles.
const TEAM: &[(&str, &str, &str, &[ProjectRole])] = &[
    (
        "wei.zhang@demo.steerco.dev",
        "Zhang Wei",
        "zh-CN",
        &[ProjectRole::Sponsor, ProjectRole::SteeringCommittee],
    ),
    (
        "lena.fischer@demo.steerco.dev",
        "Lena Fischer",
        "en",
        &[ProjectRole::SteeringCommittee, ProjectRole::FinanceRep],
    ),
    (
        "omar.haddad@demo.steerco.dev",
        "Omar Haddad",
        "en",
        &[ProjectRole::SteeringCommittee],
    ),
    (
        "mei.lin@demo.steerco.dev",
        "Lin Mei",
        "zh-CN",
        &[ProjectRole::BusinessRep, ProjectRole::SuperUser],
    ),
    (
        "raj.patel@demo.steerco.dev",
        "Raj Patel",
        "en",
        &[ProjectRole::ItRep],
    ),
    (
        "sofia.rossi@demo.steerco.dev",
        "Sofia Rossi",
        "en",
        &[ProjectRole::Qa],
    ),
    (
        "vendor@demo.steerco.dev",
        "Northwind Consulting",
        "en",
        &[ProjectRole::Vendor],
    ),
];

const PROJECT_MANAGER: (&str, &str) = ("anna.berg@demo.steerco.dev", "Anna Berg");

/// Loads the demo, printing what it made.
pub async fn demo(state: &AppState) -> ServiceResult<()> {
    if service::project::code_taken(&state.db, DEMO_PROJECT_CODE).await? {
        println!("The demo project {DEMO_PROJECT_CODE} exists already; nothing to do.");
        return Ok(());
    }
    let pm = ensure_user(state, PROJECT_MANAGER.0, PROJECT_MANAGER.1, "en").await?;
    let caller = Caller {
        actor: Actor {
            user_id: pm.id,
            admin: false,
            token_id: Uuid::nil(),
        },
        request_id: Some("seed-demo".to_owned()),
    };
    let project = service::project::create(
        state,
        &caller,
        NewProject {
            code: DEMO_PROJECT_CODE.to_owned(),
            name: "Sales Cloud roll-out".to_owned(),
            description: Some(
                "Replace spreadsheets and the legacy call-centre tool with one CRM for sales, \
                 marketing and service: lead-to-contract, ticketing, 360° customer view."
                    .to_owned(),
            ),
            time_zone: Some("Asia/Shanghai".to_owned()),
            planned_start: chrono::NaiveDate::from_ymd_opt(2027, 1, 11),
            target_go_live: chrono::NaiveDate::from_ymd_opt(2027, 9, 6),
            budget: Some(MoneyInput {
                amount: Decimal::new(185_000_000, 2),
                currency: "CNY".to_owned(),
            }),
            template: Some(TemplateKey::EightStage),
        },
    )
    .await?
    .project;
    for (email, name, locale, roles) in TEAM {
        let person = ensure_user(state, email, name, locale).await?;
        service::member::add(state, &caller, project.id, person.id, roles).await?;
    }
    service::project::transition(
        state,
        &caller,
        project.id,
        ProjectAction::Initiate,
        None,
        None,
    )
    .await?;
    service::project::transition(
        state,
        &caller,
        project.id,
        ProjectAction::StartExecution,
        None,
        None,
    )
    .await?;
    let token = service::token::issue_for_operator(state, pm.id, "demo").await?;

    println!(
        "Seeded {DEMO_PROJECT_CODE} \"Sales Cloud roll-out\" (IN_EXECUTION) with {} members.",
        TEAM.len() + 1
    );
    println!(
        "Project manager: {} <{}>",
        PROJECT_MANAGER.1, PROJECT_MANAGER.0
    );
    println!("Her API token (shown once):");
    println!("{}", token.token);
    Ok(())
}

async fn ensure_user(
    state: &AppState,
    email: &str,
    name: &str,
    locale: &str,
) -> ServiceResult<user::Model> {
    let address = steerco_graphql::domain::user::EmailAddress::parse(email)
        .map_err(|e| service::ServiceError::Internal(e.to_string()))?;
    if let Some(found) = service::user::find_by_email(&state.db, &address).await? {
        return Ok(found);
    }
    let input = NewUser {
        email: email.to_owned(),
        name: name.to_owned(),
        locale: Some(locale.to_owned()),
        admin: false,
        password: None,
    };
    service::user::create(state, None, input).await
}
