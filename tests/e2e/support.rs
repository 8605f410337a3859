//! The spawn-app helper: a real server on port 0 over a fresh database.
//!
//! SQLite (a temporary file) by default; a new PostgreSQL database on the server named by
//! `TEST_DATABASE_URL` when that is set.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use sea_orm::{
    ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend, Statement,
    TransactionTrait,
};
use serde_json::{Value, json};
use steerco::config::ServerConfig;
use steerco::server::{BoundServer, FrontRuntime};
use steerco::worker::{Worker, WorkerConfig};
use steerco_graphql::domain::clock::ManualClock;
use steerco_graphql::service::notify::MailSettings;
use steerco_graphql::service::user::NewUser;
use steerco_graphql::service::{self, AppState};
use tempfile::TempDir;

use crate::smtp::SmtpServer;

/// A fresh, empty database and the URL to reach it.
pub struct TestDatabase {
    pub url: String,
    pub postgres: bool,
    _dir: Option<TempDir>,
}

impl TestDatabase {
    pub async fn create() -> Self {
        match std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|url| !url.is_empty())
        {
            Some(server_url) => {
                let admin = Database::connect(&server_url)
                    .await
                    .expect("connect to TEST_DATABASE_URL");
                let name = format!("steerco_test_{}", uuid::Uuid::new_v4().simple());
                admin
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("create test database");
                admin.close().await.ok();
                let mut url = reqwest::Url::parse(&server_url).expect("TEST_DATABASE_URL is a URL");
                url.set_path(&format!("/{name}"));
                Self {
                    url: url.to_string(),
                    postgres: true,
                    _dir: None,
                }
            }
            None => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("steerco.db").display()
                );
                Self {
                    url,
                    postgres: false,
                    _dir: Some(dir),
                }
            }
        }
    }

    /// A pool of `connections` that waits at most 3 s for one: a caller that needs a second
    /// connection while it holds the last one fails instead of waiting long.
    pub async fn pool_of(&self, connections: u32) -> DatabaseConnection {
        let mut options = sea_orm::ConnectOptions::new(self.url.clone());
        options
            .max_connections(connections)
            .acquire_timeout(std::time::Duration::from_secs(3))
            .sqlx_logging(false);
        Database::connect(options)
            .await
            .expect("connect a small pool")
    }
}

/// A signed-up user with an API token.
#[derive(Debug, Clone)]
pub struct TestUser {
    /// Global id.
    pub id: String,
    pub uuid: uuid::Uuid,
    pub email: String,
    pub token: String,
}

pub struct TestApp {
    pub base_url: String,
    pub client: reqwest::Client,
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    pub database: TestDatabase,
    /// SQL statements the server has run, for statement budgets.
    pub statements: steerco::db::StatementCounter,
    /// Those of them SQLite's writer ran (commands in their turn); `None` on PostgreSQL.
    pub writer_statements: Option<steerco::db::StatementCounter>,
    /// Where the server answers HTTP, as `steerco serve` does; the test's runtime runs the
    /// operations.
    _front: FrontRuntime,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(configure: impl FnOnce(&mut ServerConfig)) -> Self {
        Self::spawn_on(configure, None).await
    }

    /// A server whose pool (for reads, and on PostgreSQL for writes too) has `connections`
    /// and waits at most 3 s for one: a request that needs a second connection while it
    /// holds the last one fails instead of waiting long.
    pub async fn spawn_on_a_pool_of(connections: u32) -> Self {
        Self::spawn_on(|_| {}, Some(connections)).await
    }

    async fn spawn_on(configure: impl FnOnce(&mut ServerConfig), connections: Option<u32>) -> Self {
        let database = TestDatabase::create().await;
        let mut db = steerco::db::connect(&database.url).await.expect("connect");
        steerco::db::migrate(&db).await.expect("migrate");
        if let Some(connections) = connections {
            db = database.pool_of(connections).await;
        }
        let statements = steerco::db::StatementCounter::attach(&mut db);
        let clock = Arc::new(ManualClock::new(
            Utc.with_ymd_and_hms(2027, 3, 1, 9, 0, 0).unwrap(),
        ));
        let mail = MailSettings {
            public_url: "http://steerco.test".to_owned(),
            link_key: steerco_graphql::service::outbox::link_key(&db)
                .await
                .expect("link key"),
            ..MailSettings::local()
        };
        let mut state = AppState::new(db, clock.clone()).with_mail(mail);
        let mut writer_statements = None;
        if let Some(mut writer) = steerco::db::connect_writer(&database.url)
            .await
            .expect("connect the writer")
        {
            writer_statements = Some(statements.count_also_apart(&mut writer));
            state = state.with_writer(writer);
        }
        let mut config = ServerConfig::local("127.0.0.1:0".parse().unwrap());
        configure(&mut config);
        let server = BoundServer::bind(config, state.clone())
            .await
            .expect("bind");
        let base_url = format!("http://{}", server.local_addr());
        let front = FrontRuntime::start().expect("HTTP runtime");
        drop(front.spawn(server, std::future::pending()));
        Self {
            base_url,
            client: reqwest::Client::new(),
            state,
            clock,
            database,
            statements,
            writer_statements,
            _front: front,
        }
    }

    pub fn db(&self) -> &DatabaseConnection {
        self.state.db.pool()
    }

    /// Creates a user as the operator would, with an API token.
    pub async fn user(&self, name: &str, admin: bool) -> TestUser {
        self.user_speaking(name, admin, "en").await
    }

    /// Creates a user who reads `locale` (`en` or `zh-CN`).
    pub async fn user_speaking(&self, name: &str, admin: bool, locale: &str) -> TestUser {
        let email = format!("{}@example.com", name.to_lowercase().replace(' ', "."));
        let input = NewUser {
            email: email.clone(),
            name: name.to_owned(),
            admin,
            locale: Some(locale.to_owned()),
            ..NewUser::default()
        };
        let user = service::user::create(&self.state, None, input)
            .await
            .expect("create user");
        let issued = service::token::issue_for_operator(&self.state, user.id, "test")
            .await
            .expect("token");
        TestUser {
            id: steerco_graphql::schema::id::encode(
                steerco_graphql::schema::id::Kind::User,
                user.id,
            )
            .to_string(),
            uuid: user.id,
            email,
            token: issued.token,
        }
    }

    /// POSTs a GraphQL operation and returns the whole JSON response.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut request = self
            .client
            .post(format!("{}/graphql", self.base_url))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("json body")
    }

    /// Runs an operation as `user`, expecting no top-level errors; returns `data`.
    pub async fn ok(&self, user: &TestUser, query: &str, variables: Value) -> Value {
        let response = self.gql(Some(&user.token), query, variables).await;
        assert!(
            response.get("errors").is_none(),
            "unexpected errors: {response:#}"
        );
        response["data"].clone()
    }

    /// Makes `user` active or not in the database, as no operation does.
    pub async fn set_active(&self, user: &TestUser, active: bool) {
        use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
        let mut row: steerco_entity::user::ActiveModel =
            steerco_entity::user::Entity::find_by_id(user.uuid)
                .one(self.db())
                .await
                .expect("the user's row")
                .expect("a user")
                .into();
        row.active = Set(active);
        row.update(self.db()).await.expect("the user updated");
    }

    /// Waits until `user`'s token has a recorded use: a request of queries records it on a
    /// task of its own, after its answer perhaps.
    pub async fn token_use_recorded(&self, user: &TestUser) {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        use steerco_entity::api_token;
        let digest = steerco_graphql::domain::credential::token_digest(&user.token);
        for _ in 0..200 {
            let token = api_token::Entity::find()
                .filter(api_token::Column::TokenHash.eq(digest.clone()))
                .one(self.db())
                .await
                .expect("the token")
                .expect("a token");
            if token.last_used_at.is_some() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("the token's use was never recorded");
    }

    /// Counts rows of a table, to prove a refused mutation wrote nothing.
    pub async fn count(&self, table: &str) -> i64 {
        let row = self
            .db()
            .query_one_raw(sea_orm::Statement::from_string(
                self.db().get_database_backend(),
                format!("SELECT COUNT(*) AS n FROM {table}"),
            ))
            .await
            .expect("count")
            .expect("a row");
        row.try_get::<i64>("", "n").expect("n")
    }

    /// Row counts of every table, to compare before and after a refused mutation.
    pub async fn snapshot(&self) -> Vec<(String, i64)> {
        let mut counts = Vec::new();
        for table in [
            "\"user\"",
            "api_token",
            "project",
            "project_member",
            "audit_event",
        ] {
            counts.push((table.to_owned(), self.count(table).await));
        }
        counts
    }

    /// Creates a project as `pm` and returns its global id.
    pub async fn project(&self, pm: &TestUser, code: &str) -> String {
        let data = self
            .ok(
                pm,
                "mutation($input: ProjectCreateInput!) { projectCreate(input: $input) { project { id } userErrors { code } } }",
                json!({ "input": { "code": code, "name": format!("Project {code}"), "template": null } }),
            )
            .await;
        data["projectCreate"]["project"]["id"]
            .as_str()
            .expect("project id")
            .to_owned()
    }

    /// Baselines a scope statement, as initiation needs: drafted by `pm` with one measurable
    /// objective and one in-scope item, then signed by `signatories`, members who between them
    /// hold SPONSOR and BUSINESS_REP. Returns the baseline's global id.
    pub async fn baseline_scope(
        &self,
        pm: &TestUser,
        project_id: &str,
        signatories: &[&TestUser],
    ) -> String {
        let objectives = json!([{ "text": "Raise lead conversion", "kpi": "conversion rate", "baseline": "8%", "target": "12%" }]);
        self.baseline_scope_with(pm, project_id, signatories, objectives)
            .await
    }

    /// [`Self::baseline_scope`] with the given `objectives`.
    pub async fn baseline_scope_with(
        &self,
        pm: &TestUser,
        project_id: &str,
        signatories: &[&TestUser],
        objectives: Value,
    ) -> String {
        let draft = self
            .ok(
                pm,
                "mutation($p: ID!) { scopeDraftCreate(input: { projectId: $p }) { scope { id version } userErrors { code message } } }",
                json!({ "p": project_id }),
            )
            .await;
        let draft = &draft["scopeDraftCreate"];
        assert_eq!(draft["userErrors"], json!([]), "{draft}");
        let filled = self
            .ok(
                pm,
                "mutation($input: ScopeDraftUpdateInput!) { scopeDraftUpdate(input: $input) { scope { id version } userErrors { code field message } } }",
                json!({ "input": {
                    "id": draft["scope"]["id"],
                    "expectedVersion": draft["scope"]["version"],
                    "objectives": objectives,
                    "inScope": [{ "category": "MODULE", "text": "Lead management" }]
                } }),
            )
            .await;
        let filled = &filled["scopeDraftUpdate"];
        assert_eq!(filled["userErrors"], json!([]), "{filled}");
        let ids: Vec<&str> = signatories.iter().map(|user| user.id.as_str()).collect();
        let review = self
            .ok(
                pm,
                "mutation($id: ID!, $v: Int!, $s: [ID!]!) { scopeReviewSubmit(input: { id: $id, expectedVersion: $v, signatoryIds: $s }) { scope { id } userErrors { code field message } } }",
                json!({ "id": filled["scope"]["id"], "v": filled["scope"]["version"], "s": ids }),
            )
            .await;
        let review = &review["scopeReviewSubmit"];
        assert_eq!(review["userErrors"], json!([]), "{review}");
        let mut status = json!(null);
        for signatory in signatories {
            let signed = self
                .ok(
                    signatory,
                    "mutation($id: ID!) { scopeSign(input: { id: $id }) { scope { status } userErrors { code message } } }",
                    json!({ "id": review["scope"]["id"] }),
                )
                .await;
            assert_eq!(signed["scopeSign"]["userErrors"], json!([]), "{signed}");
            status = signed["scopeSign"]["scope"]["status"].clone();
        }
        assert_eq!(status, "BASELINED");
        filled["scope"]["id"]
            .as_str()
            .expect("scope version id")
            .to_owned()
    }

    /// Writes `status` on project `project_id` (a global id) directly, for a state no command
    /// reaches from the test's setup, or that an earlier version left behind.
    pub async fn put_project_in(&self, project_id: &str, status: &str) {
        use sea_orm::{ActiveValue::Set, EntityTrait};
        let (_, id) = steerco_graphql::schema::id::decode_any(project_id).expect("a project id");
        let row = steerco_entity::project::Entity::find_by_id(id)
            .one(self.db())
            .await
            .expect("read the project")
            .expect("the project");
        let mut stored: steerco_entity::project::ActiveModel = row.into();
        stored.status = Set(status.to_owned());
        steerco_entity::project::Entity::update(stored)
            .exec(self.db())
            .await
            .expect("write the project");
    }

    /// Adds `user` to a project with `roles`, as `pm`; returns the member's global id.
    pub async fn add_member(
        &self,
        pm: &TestUser,
        project_id: &str,
        user: &TestUser,
        roles: &[&str],
    ) -> String {
        let data = self
            .ok(
                pm,
                "mutation($input: ProjectMemberAddInput!) { projectMemberAdd(input: $input) { member { id } userErrors { code message } } }",
                json!({ "input": { "projectId": project_id, "userId": user.id, "roles": roles } }),
            )
            .await;
        assert_eq!(data["projectMemberAdd"]["userErrors"], json!([]), "{data}");
        data["projectMemberAdd"]["member"]["id"]
            .as_str()
            .expect("member id")
            .to_owned()
    }
}

/// The `userErrors` of a payload as (code, field path) pairs.
pub fn user_errors(payload: &Value) -> Vec<(String, Vec<String>)> {
    payload["userErrors"]
        .as_array()
        .expect("userErrors")
        .iter()
        .map(|error| {
            let code = error["code"].as_str().unwrap_or_default().to_owned();
            let field = error["field"]
                .as_array()
                .map(|path| {
                    path.iter()
                        .filter_map(|p| p.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            (code, field)
        })
        .collect()
}

/// Asserts a payload was refused with exactly one error of `code` on `field`.
pub fn assert_refused(payload: &Value, code: &str, field: &[&str]) {
    let errors = user_errors(payload);
    let expected = (
        code.to_owned(),
        field.iter().map(|f| (*f).to_owned()).collect::<Vec<_>>(),
    );
    assert!(
        errors.contains(&expected),
        "expected {expected:?} in {errors:?}: {payload:#}"
    );
}

/// The `extensions.code` of the first top-level error.
pub fn error_code(response: &Value) -> Option<&str> {
    response["errors"][0]["extensions"]["code"].as_str()
}

/// A real SMTP server on loopback and a worker that delivers to it.
pub struct Mail {
    pub smtp: SmtpServer,
    pub worker: Worker,
}

impl Mail {
    /// Sends every email due now; returns how many rows were claimed.
    pub async fn deliver(&self) -> usize {
        self.worker.drain().await.expect("deliver")
    }

    /// What arrived since `seen` messages: (recipient, kind) pairs, sorted.
    pub fn since(&self, seen: usize) -> Vec<(String, String)> {
        let mut got: Vec<(String, String)> = self.smtp.received()[seen..]
            .iter()
            .flat_map(|mail| {
                let kind = mail.header("X-Steerco-Kind").unwrap_or_default();
                mail.rcpt_to
                    .iter()
                    .map(move |to| (to.clone(), kind.clone()))
                    .collect::<Vec<_>>()
            })
            .collect();
        got.sort();
        got
    }
}

impl TestApp {
    /// Starts an SMTP server and a worker for this app.
    pub async fn mail(&self) -> Mail {
        let smtp = SmtpServer::start().await;
        let worker = self.worker_to(&smtp.url());
        Mail { smtp, worker }
    }

    pub fn worker_to(&self, smtp_url: &str) -> Worker {
        Worker::new(
            self.state.clone(),
            WorkerConfig {
                smtp_url: Some(smtp_url.to_owned()),
                mail_from: "Steerco <steerco@steerco.test>".to_owned(),
                smtp_timeout: std::time::Duration::from_secs(5),
                ..WorkerConfig::default()
            },
        )
        .expect("worker")
    }
}

/// A PostgreSQL lock taken by a transaction of the test's own, as a command would take it:
/// commands that need it queue behind it until the test lets it go, which lines up races.
pub struct HeldLock {
    txn: DatabaseTransaction,
}

impl HeldLock {
    /// Runs `sql`, a statement that takes a lock, in a transaction kept open.
    pub async fn take(app: &TestApp, sql: &str, values: Vec<sea_orm::Value>) -> Self {
        let txn = app.database.pool_of(1).await.begin().await.expect("begin");
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            values,
        ))
        .await
        .expect("take the lock");
        Self { txn }
    }

    /// A project's row, locked as a command locks it.
    pub async fn project(app: &TestApp, project_id: uuid::Uuid) -> Self {
        Self::take(
            app,
            "SELECT id FROM project WHERE id = $1 FOR UPDATE",
            vec![project_id.into()],
        )
        .await
    }

    /// Waits until `count` transactions of the database wait for a lock, for 10 s at most.
    pub async fn wait_for_waiters(&self, count: i64) -> Result<(), String> {
        for _ in 0..1_000 {
            self.see_sessions_afresh().await;
            let waiting: i64 = self
                .txn
                .query_one_raw(Statement::from_string(
                    DbBackend::Postgres,
                    "SELECT count(*) AS n FROM pg_stat_activity \
                     WHERE datname = current_database() AND wait_event_type = 'Lock'",
                ))
                .await
                .expect("read the activity")
                .expect("a count")
                .try_get("", "n")
                .expect("a number");
            if waiting >= count {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        self.see_sessions_afresh().await;
        let sessions = self
            .txn
            .query_all_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT concat_ws(' ', wait_event_type, wait_event, state, left(query, 160)) AS s \
                 FROM pg_stat_activity WHERE datname = current_database()",
            ))
            .await
            .expect("read the activity")
            .iter()
            .map(|row| row.try_get::<String>("", "s").expect("a session"))
            .collect::<Vec<_>>();
        Err(format!(
            "{count} commands did not queue behind the lock in 10 s; the sessions: {sessions:#?}"
        ))
    }

    /// Drops the sessions' state this transaction read last: PostgreSQL keeps what a
    /// transaction first reads of `pg_stat_activity` until it ends.
    async fn see_sessions_afresh(&self) {
        self.txn
            .execute_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT pg_stat_clear_snapshot()",
            ))
            .await
            .expect("clear the statistics snapshot");
    }

    pub async fn release(self) {
        self.txn.commit().await.expect("release the lock");
    }
}
