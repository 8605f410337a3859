//! The HTTP surface: health, content types, limits, GraphiQL, production mode.

use serde_json::{Value, json};

use crate::support::{TestApp, error_code};

async fn post(
    app: &TestApp,
    token: Option<&str>,
    content_type: &str,
    body: String,
) -> (u16, Value) {
    let mut request = app
        .client
        .post(format!("{}/graphql", app.base_url))
        .header("content-type", content_type)
        .body(body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn health_reports_the_database() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(format!("{}/health", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-request-id"));
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({ "status": "ok", "database": "up" })
    );

    app.state.db.pool().clone().close().await.unwrap();
    let response = app
        .client
        .get(format!("{}/health", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.json::<Value>().await.unwrap()["database"], "down");
}

#[tokio::test]
async fn only_json_posts_are_executed() {
    let app = TestApp::spawn().await;
    let user = app.user("Anna Berg", false).await;
    let create = json!({ "query": "mutation { projectCreate(input: { code: \"CRM-1\", name: \"x\" }) { project { id } } }" });
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let (status, _) = post(&app, Some(&user.token), content_type, create.to_string()).await;
        assert_eq!(status, 415, "{content_type}");
    }
    let (status, body) = post(
        &app,
        Some(&user.token),
        "application/json",
        "{not json".into(),
    )
    .await;
    assert_eq!((status, error_code(&body)), (400, Some("BAD_REQUEST")));
    // GET never executes operations.
    let response = app
        .client
        .get(format!("{}/graphql?query={{me{{email}}}}", app.base_url))
        .bearer_auth(&user.token)
        .send()
        .await
        .unwrap();
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert_eq!(app.count("project").await, 0);
}

#[tokio::test]
async fn batches_run_up_to_ten_operations() {
    let app = TestApp::spawn().await;
    let user = app.user("Anna Berg", false).await;
    let op = json!({ "query": "{ me { email } }" });
    let (status, body) = post(
        &app,
        Some(&user.token),
        "application/json",
        json!([op, op]).to_string(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body.as_array().map(Vec::len), Some(2));
    assert_eq!(body[1]["data"]["me"]["email"], user.email);
    // A batch of one, after whitespace, is answered as a list of one.
    let (status, body) = post(
        &app,
        Some(&user.token),
        "application/json",
        format!(" \r\n\t{}", json!([op])),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body.as_array().map(Vec::len), Some(1), "{body}");
    assert_eq!(body[0]["data"]["me"]["email"], user.email);
    let eleven: Vec<_> = (0..11).map(|_| op.clone()).collect();
    let (status, body) = post(
        &app,
        Some(&user.token),
        "application/json",
        json!(eleven).to_string(),
    )
    .await;
    assert_eq!((status, error_code(&body)), (400, Some("LIMIT_EXCEEDED")));
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let app = TestApp::spawn_with(|config| config.body_limit = 4096).await;
    let user = app.user("Anna Berg", false).await;
    let padding = " ".repeat(5000);
    let body = format!("{{\"query\": \"{{ me {{ email }} }}{padding}\"}}");
    let (status, body) = post(&app, Some(&user.token), "application/json", body).await;
    assert_eq!((status, error_code(&body)), (413, Some("LIMIT_EXCEEDED")));
}

#[tokio::test]
async fn deep_and_costly_queries_are_refused_before_they_run() {
    let app = TestApp::spawn().await;
    let user = app.user("Anna Berg", false).await;
    let mut deep = String::from("email");
    for _ in 0..20 {
        deep = format!("projects {{ edges {{ node {{ members {{ user {{ {deep} }} }} }} }} }}");
    }
    let response = app
        .gql(
            Some(&user.token),
            &format!("{{ me {{ email }} {deep} }}"),
            json!({}),
        )
        .await;
    assert_eq!(error_code(&response), Some("LIMIT_EXCEEDED"), "{response}");
    let costly = "{ a: projects(first: 100) { edges { node { members { user { apiTokens { name } } } } } }
                    b: projects(first: 100) { edges { node { members { user { apiTokens { name } } } } } } }";
    let response = app.gql(Some(&user.token), costly, json!({})).await;
    assert_eq!(error_code(&response), Some("LIMIT_EXCEEDED"), "{response}");
}

/// The server remembers the documents it has parsed and the queries that passed its checks;
/// what passed with some variables is checked again with others, and answers the same each
/// time.
#[tokio::test]
async fn a_query_seen_before_is_checked_again_with_other_variables() {
    let app = TestApp::spawn().await;
    let user = app.user("Anna Berg", false).await;
    let costly = "query Costly($n: Int) {
        a: projects(first: $n) { edges { node { members { user { apiTokens { name } } } } } }
        b: projects(first: $n) { edges { node { members { user { apiTokens { name } } } } } } }";
    let first = app.gql(Some(&user.token), costly, json!({ "n": 1 })).await;
    assert!(first.get("errors").is_none(), "{first}");
    let again = app.gql(Some(&user.token), costly, json!({ "n": 1 })).await;
    assert_eq!(again, first);
    assert!(again["extensions"]["analyzer"]["complexity"].as_u64() > Some(0));
    let response = app
        .gql(Some(&user.token), costly, json!({ "n": 100 }))
        .await;
    assert_eq!(error_code(&response), Some("LIMIT_EXCEEDED"), "{response}");
    let response = app
        .gql(Some(&user.token), costly, json!({ "n": "many" }))
        .await;
    assert_eq!(
        error_code(&response),
        Some("GRAPHQL_VALIDATION_FAILED"),
        "{response}"
    );
    let again = app.gql(Some(&user.token), costly, json!({ "n": 1 })).await;
    assert_eq!(again, first);
}

/// A mutation is validated in full, against its variables, by the check before it runs (and
/// not again as it runs): one whose variables do not fit is refused and changes nothing, one
/// that fits runs and reports the cost and depth the check found, like a query.
#[tokio::test]
async fn a_mutation_checked_before_it_runs_reports_its_cost_and_refuses_bad_variables() {
    let app = TestApp::spawn().await;
    let user = app.user("Anna Berg", false).await;
    let create = "mutation($input: ProjectCreateInput!) {
        projectCreate(input: $input) { project { code } userErrors { code } } }";
    let before = app.count("project").await;
    for input in [
        json!({ "code": "CRM-1" }),
        json!({ "code": "CRM-1", "name": 7 }),
        json!({ "code": "CRM-1", "name": "CRM", "unknown": true }),
    ] {
        let response = app
            .gql(Some(&user.token), create, json!({ "input": input }))
            .await;
        assert_eq!(
            error_code(&response),
            Some("GRAPHQL_VALIDATION_FAILED"),
            "{response}"
        );
        assert!(response["data"].is_null(), "{response}");
    }
    assert_eq!(app.count("project").await, before);
    let input = json!({ "input": { "code": "CRM-1", "name": "CRM rollout" } });
    let response = app.gql(Some(&user.token), create, input).await;
    assert!(response.get("errors").is_none(), "{response}");
    assert_eq!(
        response["data"]["projectCreate"]["project"]["code"],
        "CRM-1"
    );
    let analyzer = &response["extensions"]["analyzer"];
    assert!(analyzer["depth"].as_u64() > Some(0), "{response}");
    assert!(analyzer["complexity"].as_u64() > Some(0), "{response}");
    assert_eq!(app.count("project").await, before + 1);
}

#[tokio::test]
async fn alias_overloading_is_refused_before_anything_runs() {
    let app = TestApp::spawn().await;
    let user = app.user("Anna Berg", false).await;
    let aliased = |n: usize| {
        let fields: Vec<String> = (0..n).map(|i| format!("a{i}: me {{ email }}")).collect();
        format!("{{ {} }}", fields.join(" "))
    };
    let response = app.gql(Some(&user.token), &aliased(30), json!({})).await;
    assert!(response.get("errors").is_none(), "{response}");
    assert_eq!(response["data"]["a29"]["email"], user.email);
    let response = app.gql(Some(&user.token), &aliased(31), json!({})).await;
    assert_eq!(error_code(&response), Some("LIMIT_EXCEEDED"), "{response}");
    assert!(
        response.get("data").is_none_or(Value::is_null),
        "{response}"
    );
    // Aliases hidden in a fragment count too.
    let fragment = format!(
        "{{ me {{ ...F }} }} fragment F on User {{ {} }}",
        (0..31)
            .map(|i| format!("e{i}: email"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let response = app.gql(Some(&user.token), &fragment, json!({})).await;
    assert_eq!(error_code(&response), Some("LIMIT_EXCEEDED"), "{response}");
}

#[tokio::test]
async fn invalid_documents_get_a_code_and_no_internals() {
    let app = TestApp::spawn().await;
    let user = app.user("Anna Berg", false).await;
    let response = app
        .gql(Some(&user.token), "{ me { nosuchfield } }", json!({}))
        .await;
    assert_eq!(error_code(&response), Some("GRAPHQL_VALIDATION_FAILED"));
    let response = app.gql(Some(&user.token), "{ me {", json!({})).await;
    assert_eq!(error_code(&response), Some("GRAPHQL_VALIDATION_FAILED"));
}

#[tokio::test]
async fn development_mode_serves_graphiql_and_introspection() {
    let app = TestApp::spawn().await;
    let page = app
        .client
        .get(format!("{}/graphql", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("graphiql"));
    let response = app
        .gql(None, "{ __schema { queryType { name } } }", json!({}))
        .await;
    assert_eq!(
        response["data"]["__schema"]["queryType"]["name"],
        "QueryRoot"
    );
}

#[tokio::test]
async fn production_mode_hides_graphiql_introspection_and_suggestions() {
    let app = TestApp::spawn_with(|config| config.production = true).await;
    let user = app.user("Anna Berg", false).await;
    let page = app
        .client
        .get(format!("{}/graphql", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 405);
    let response = app
        .gql(
            Some(&user.token),
            "{ __schema { queryType { name } } }",
            json!({}),
        )
        .await;
    assert!(
        response["data"].is_null() || response["data"]["__schema"].is_null(),
        "{response}"
    );
    let response = app
        .gql(Some(&user.token), "{ me { emial } }", json!({}))
        .await;
    let message = response["errors"][0]["message"].as_str().unwrap();
    assert!(!message.contains("Did you mean"), "{message}");
}

/// Documents that break a limit or do not validate are answered before the token is looked
/// up: a caller with a valid token costs the database nothing by sending them, alone or in a
/// batch. A batch with one operation that may run is executed as before.
#[tokio::test]
async fn abusive_documents_cost_no_sql_even_with_a_valid_token() {
    let app = TestApp::spawn().await;
    let user = app.user("Anna Berg", false).await;
    let mut deep = String::from("email");
    for _ in 0..20 {
        deep = format!("projects {{ edges {{ node {{ members {{ user {{ {deep} }} }} }} }} }}");
    }
    let aliases: Vec<String> = (0..31).map(|i| format!("a{i}: me {{ email }}")).collect();
    let abusive = [
        (format!("{{ {deep} }}"), "LIMIT_EXCEEDED"),
        (format!("{{ {} }}", aliases.join(" ")), "LIMIT_EXCEEDED"),
        (
            "{ projects(first: 100000000) { edges { node { members { user { apiTokens { name } } } } } } }".to_owned(),
            "LIMIT_EXCEEDED",
        ),
        // A huge page of a cheap selection is within the complexity limit (a page costs at
        // most a full one): its size is refused for itself.
        (
            "{ projects(first: 100000000) { edges { node { id name } } } }".to_owned(),
            "LIMIT_EXCEEDED",
        ),
        (
            format!("{{ project(code: \"{}\") {{ id }} }}", "X".repeat(10_001)),
            "LIMIT_EXCEEDED",
        ),
        ("{ me { noSuchField } }".to_owned(), "GRAPHQL_VALIDATION_FAILED"),
        ("{ me { email ".to_owned(), "GRAPHQL_VALIDATION_FAILED"),
    ];
    for (document, code) in &abusive {
        let before = app.statements.total();
        let response = app.gql(Some(&user.token), document, json!({})).await;
        assert_eq!(error_code(&response), Some(*code), "{response}");
        assert_eq!(app.statements.total(), before, "SQL for {document:.80}");
    }
    let refused_batch: Vec<Value> = abusive
        .iter()
        .map(|(document, _)| json!({ "query": document }))
        .collect();
    let before = app.statements.total();
    let (status, body) = post(
        &app,
        Some(&user.token),
        "application/json",
        json!(refused_batch).to_string(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body.as_array().map(Vec::len), Some(abusive.len()));
    assert_eq!(app.statements.total(), before, "SQL for a refused batch");
    // One operation that may run: the token is read and that operation answered.
    let mixed = json!([{ "query": abusive[0].0 }, { "query": "{ me { email } }" }]);
    let (status, body) = post(
        &app,
        Some(&user.token),
        "application/json",
        mixed.to_string(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(error_code(&body[0]), Some("LIMIT_EXCEEDED"), "{body}");
    assert_eq!(body[1]["data"]["me"]["email"], user.email, "{body}");
    assert!(app.statements.total() > before);
}

/// A server told to bound the processors' wake-up latency writes the bound when requests
/// come, to the device it was given (a file standing in for `/dev/cpu_dma_latency` here), and
/// one that cannot open its device serves all the same.
#[tokio::test]
async fn a_latency_bound_is_asked_for_when_requests_come() {
    use steerco::cpu_latency::CpuLatencyRequest;
    let dir = tempfile::tempdir().unwrap();
    let device = dir.path().join("cpu_dma_latency");
    std::fs::write(&device, b"").unwrap();
    let request = CpuLatencyRequest {
        bound_us: 0,
        device: device.clone(),
    };
    let app = TestApp::spawn_with(|config| config.cpu_latency = Some(request)).await;
    assert!(
        std::fs::read(&device).unwrap().is_empty(),
        "nothing before a request"
    );
    let answer = app.gql(None, "{ __typename }", json!({})).await;
    assert_eq!(answer["data"]["__typename"], "QueryRoot");
    assert_eq!(std::fs::read(&device).unwrap(), 0i32.to_ne_bytes());

    let unopened = CpuLatencyRequest {
        bound_us: 0,
        device: dir.path().join("missing").join("cpu_dma_latency"),
    };
    let app = TestApp::spawn_with(|config| config.cpu_latency = Some(unopened)).await;
    let answer = app.gql(None, "{ __typename }", json!({})).await;
    assert_eq!(answer["data"]["__typename"], "QueryRoot");
}

/// A server of `app`'s state with a shutdown of the test's own and `grace` to stop in,
/// answering HTTP on a runtime of its own as `steerco serve` does.
struct Stoppable {
    addr: std::net::SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    running: tokio::task::JoinHandle<std::io::Result<()>>,
    _front: steerco::server::FrontRuntime,
}

impl Stoppable {
    async fn start(app: &TestApp, grace: std::time::Duration) -> Self {
        use steerco::config::ServerConfig;
        use steerco::server::{BoundServer, FrontRuntime};
        let mut config = ServerConfig::local("127.0.0.1:0".parse().unwrap());
        config.shutdown_grace = grace;
        let server = BoundServer::bind(config, app.state.clone()).await.unwrap();
        let addr = server.local_addr();
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let front = FrontRuntime::start().unwrap();
        let running = front.spawn(server, async {
            let _ = stopped.await;
        });
        Self {
            addr,
            stop,
            running,
            _front: front,
        }
    }

    /// Tells the server to stop and waits, at most `within`, for it to have stopped.
    async fn stop_within(self, within: std::time::Duration) {
        self.stop.send(()).unwrap();
        tokio::time::timeout(within, self.running)
            .await
            .expect("the server stops in time")
            .unwrap()
            .unwrap();
    }
}

/// The head of a POST of `{ __typename }` whose body is `length` bytes long, sent before the
/// body is: the server answers `100 Continue` when the handler first reads the body, so a
/// client that has read it knows the request has begun.
fn typename_post_head(length: usize) -> String {
    format!(
        "POST /graphql HTTP/1.1\r\nhost: steerco.test\r\ncontent-type: application/json\r\n\
         content-length: {length}\r\nexpect: 100-continue\r\n\r\n"
    )
}

const TYPENAME_BODY: &str = r#"{"query":"{ __typename }"}"#;

/// Opens a connection to `addr` and sends a request's head, and waits until the server has
/// begun the request (it asks for the body).
async fn begin_request(addr: std::net::SocketAddr) -> tokio::net::TcpStream {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(typename_post_head(TYPENAME_BODY.len()).as_bytes())
        .await
        .unwrap();
    const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";
    let mut interim = [0; CONTINUE.len()];
    soon(
        "the server asks for the body",
        stream.read_exact(&mut interim),
    )
    .await
    .unwrap();
    assert_eq!(interim, CONTINUE);
    stream
}

/// Reads a whole HTTP/1.1 answer sent with `connection: close`, until the server hangs up.
async fn read_until_closed(stream: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut answer = Vec::new();
    soon("the server hangs up", stream.read_to_end(&mut answer))
        .await
        .unwrap();
    String::from_utf8(answer).unwrap()
}

/// What `work` gives, which the test expects within ten seconds (`what`, if not).
async fn soon<T>(what: &str, work: impl Future<Output = T>) -> T {
    tokio::time::timeout(std::time::Duration::from_secs(10), work)
        .await
        .expect(what)
}

/// Told to stop, the server accepts no new connection, answers the request it has begun,
/// closes that connection after it, and closes idle keep-alive connections at once: it stops
/// long before its grace period (60 s) would end.
#[tokio::test]
async fn a_stopping_server_finishes_the_requests_it_has_begun() {
    use tokio::io::AsyncWriteExt;
    let app = TestApp::spawn().await;
    let server = Stoppable::start(&app, std::time::Duration::from_secs(60)).await;

    // An idle keep-alive connection, which has had its answer.
    let client = reqwest::Client::new();
    let idle = client
        .post(format!("http://{}/graphql", server.addr))
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(idle.status(), 200);

    let mut begun = begin_request(server.addr).await;
    let addr = server.addr;
    let stopping = tokio::spawn(server.stop_within(std::time::Duration::from_secs(10)));
    // The accept loop is gone once a connection is refused.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while tokio::net::TcpStream::connect(addr).await.is_ok() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "new connections are still accepted"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(
        !stopping.is_finished(),
        "the begun request holds the server"
    );

    begun.write_all(TYPENAME_BODY.as_bytes()).await.unwrap();
    let answer = read_until_closed(&mut begun).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("connection: close"), "{answer}");
    assert!(
        answer.contains(r#"{"data":{"__typename":"QueryRoot"}"#),
        "{answer}"
    );
    stopping.await.unwrap();
}

/// A connection still busy when the grace period ends is closed then, not before, and the
/// server stops.
#[tokio::test]
async fn a_stopping_server_closes_what_is_still_busy_after_its_grace_period() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let grace = std::time::Duration::from_millis(300);
    let app = TestApp::spawn().await;
    let server = Stoppable::start(&app, grace).await;
    let mut stalled = begin_request(server.addr).await;
    stalled.write_all(b"{").await.unwrap();

    let asked = std::time::Instant::now();
    let stopping = tokio::spawn(server.stop_within(std::time::Duration::from_secs(10)));
    let mut byte = [0; 1];
    let early = tokio::time::timeout(
        std::time::Duration::from_millis(100),
        stalled.read(&mut byte),
    )
    .await;
    assert!(early.is_err(), "closed before the grace period: {early:?}");
    stopping.await.unwrap();
    assert!(
        asked.elapsed() >= grace,
        "stopped after {:?}",
        asked.elapsed()
    );
    // Closed without an answer: an end of stream, or a reset.
    let mut rest = Vec::new();
    let closed = soon("the server hangs up", stalled.read_to_end(&mut rest)).await;
    match closed {
        Ok(_) => assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest)),
        Err(error) => assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset),
    }
}

/// A client that does not send its request in time is not waited for: a connection with no
/// request, or with half a head, is closed once the read timeout has passed, and so is a
/// keep-alive connection left idle after its answer; a body sent too slowly is answered 408.
#[tokio::test]
async fn a_client_that_does_not_send_in_time_is_not_waited_for() {
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpStream;
    let app = TestApp::spawn_with(|config| {
        config.read_timeout = std::time::Duration::from_millis(300);
    })
    .await;
    let addr: std::net::SocketAddr = app.base_url["http://".len()..].parse().unwrap();

    let mut silent = TcpStream::connect(addr).await.unwrap();
    assert_eq!(read_until_closed(&mut silent).await, "");

    let mut halting = TcpStream::connect(addr).await.unwrap();
    let half_a_head = "POST /graphql HTTP/1.1\r\nhost: steerco.test\r\n";
    halting.write_all(half_a_head.as_bytes()).await.unwrap();
    assert_eq!(read_until_closed(&mut halting).await, "");

    // Answered in full, then left idle.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST /graphql HTTP/1.1\r\nhost: steerco.test\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n{TYPENAME_BODY}",
        TYPENAME_BODY.len()
    );
    idle.write_all(request.as_bytes()).await.unwrap();
    let answer = read_until_closed(&mut idle).await;
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.contains(r#""__typename":"QueryRoot""#), "{answer}");

    let mut trickling = TcpStream::connect(addr).await.unwrap();
    let head = "POST /graphql HTTP/1.1\r\nhost: steerco.test\r\ncontent-type: application/json\r\n\
                content-length: 100\r\n\r\n{\"query\":";
    trickling.write_all(head.as_bytes()).await.unwrap();
    let answer = read_until_closed(&mut trickling).await;
    assert!(
        answer.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "{answer}"
    );
    assert!(answer.contains(r#""code":"LIMIT_EXCEEDED""#), "{answer}");

    // Sent in time, a request is answered as ever.
    let answer = app.gql(None, "{ __typename }", json!({})).await;
    assert_eq!(answer["data"]["__typename"], "QueryRoot");
}

/// The read timeout bounds the client's sending, not the server's answering: a first request
/// that waits longer than it for a lock is answered, and its connection kept.
#[tokio::test]
async fn a_request_slower_to_answer_than_the_read_timeout_is_answered() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let read_timeout = std::time::Duration::from_millis(300);
    let app = TestApp::spawn_with(|config| config.read_timeout = read_timeout).await;
    let pm = app.user("Anna Berg", false).await;
    let id = app.project(&pm, "CRM-1").await;
    let (_, project_id) = steerco_graphql::schema::id::decode_any(&id).unwrap();
    let body = json!({
        "query": "mutation($id: ID!) { projectUpdate(input: { id: $id, expectedVersion: 1, name: \"Renamed\" }) { project { name } userErrors { code } } }",
        "variables": { "id": id },
    })
    .to_string();
    let request = format!(
        "POST /graphql HTTP/1.1\r\nhost: steerco.test\r\ncontent-type: application/json\r\n\
         authorization: Bearer {}\r\ncontent-length: {}\r\n\r\n{body}",
        pm.token,
        body.len()
    );

    // The command waits behind a write of the test's own.
    let postgres_lock = if app.database.postgres {
        Some(crate::support::HeldLock::project(&app, project_id).await)
    } else {
        None
    };
    let sqlite_turn = if app.database.postgres {
        None
    } else {
        Some(
            steerco_graphql::service::begin_write(&app.state.writer)
                .await
                .unwrap(),
        )
    };
    let mut stream = tokio::net::TcpStream::connect(&app.base_url["http://".len()..])
        .await
        .unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    tokio::time::sleep(read_timeout * 3).await;
    if let Some(lock) = postgres_lock {
        lock.release().await;
    }
    drop(sqlite_turn);

    let mut answer = Vec::new();
    let mut chunk = [0; 4096];
    while !String::from_utf8_lossy(&answer).contains("Renamed") {
        let read = soon("the answer", stream.read(&mut chunk)).await.unwrap();
        assert!(read > 0, "closed: {}", String::from_utf8_lossy(&answer));
        answer.extend_from_slice(&chunk[..read]);
    }
    assert!(answer.starts_with(b"HTTP/1.1 200 OK\r\n"));
}
