//! Runtime configuration, read from flags and the environment by [`crate::cli`].

use std::net::SocketAddr;

use steerco_graphql::schema::Limits;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://steerco.db?mode=rwc";
pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";

/// What `steerco serve` needs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub addr: SocketAddr,
    /// Where people reach this server; used in links. Defaults to `http://{addr}`.
    pub public_url: String,
    /// Hides GraphiQL, introspection and field suggestions.
    pub production: bool,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    pub limits: Limits,
    /// How long in-flight requests may take to finish at shutdown.
    pub shutdown_grace: std::time::Duration,
    /// How long a client has to send a request's head (from its connection's opening, and
    /// over HTTP/1.1 from the answer before) and, again, its body; past it the connection is
    /// closed, or the request answered 408. Not zero.
    pub read_timeout: std::time::Duration,
    /// How long one operation may run; past it the operation is dropped (its transaction
    /// rolls back) and the caller gets `LIMIT_EXCEEDED`.
    pub request_timeout: std::time::Duration,
    /// Requests per caller; `None` for no limit.
    pub rate_limit: Option<crate::rate_limit::RateLimit>,
    /// How long a bearer token found usable is trusted without reading it again; zero reads
    /// it at every request. A token revoked through this server is refused at once whatever
    /// this is (see `steerco_graphql::service::token_memory`).
    pub token_memory: std::time::Duration,
    /// A bound on the processors' wake-up latency to hold while requests come; `None` asks
    /// for none (see [`crate::cpu_latency`]).
    pub cpu_latency: Option<crate::cpu_latency::CpuLatencyRequest>,
}

/// [`ServerConfig::read_timeout`] by default, in seconds: above the 60 s a proxy in front
/// commonly keeps an idle connection to its server, so that the proxy, not this server, closes
/// it, and never sends a request on a connection this server is closing.
pub const DEFAULT_READ_TIMEOUT_SECS: u64 = 75;

/// How long a server trusts a token it checked, by default: long enough that a caller's
/// requests in a burst read it once, short enough that what this server cannot see (another
/// server's revocation, a user made inactive in the database) takes effect before a person
/// could try the token again.
pub const DEFAULT_TOKEN_MEMORY: std::time::Duration =
    std::time::Duration::from_millis(DEFAULT_TOKEN_MEMORY_MS);

/// [`DEFAULT_TOKEN_MEMORY`] in milliseconds, as `serve --token-memory-ms` takes it.
pub const DEFAULT_TOKEN_MEMORY_MS: u64 = 1_000;

impl ServerConfig {
    /// Settings for a local server on `addr` (port 0 picks a free port).
    pub fn local(addr: SocketAddr) -> Self {
        Self {
            addr,
            public_url: format!("http://{addr}"),
            production: false,
            body_limit: 1024 * 1024,
            limits: Limits::default(),
            shutdown_grace: std::time::Duration::from_secs(30),
            read_timeout: std::time::Duration::from_secs(DEFAULT_READ_TIMEOUT_SECS),
            request_timeout: std::time::Duration::from_secs(30),
            rate_limit: None,
            token_memory: DEFAULT_TOKEN_MEMORY,
            cpu_latency: None,
        }
    }
}

/// A database URL fit for a log line: any password is replaced.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}{path}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_the_log() {
        assert_eq!(
            redact_url("postgres://steerco:s3cret@db:5432/steerco"),
            "postgres://steerco:***@db:5432/steerco"
        );
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1/x"),
            "postgres://postgres:***@127.0.0.1/x"
        );
        assert_eq!(
            redact_url("sqlite://steerco.db?mode=rwc"),
            "sqlite://steerco.db?mode=rwc"
        );
    }
}
