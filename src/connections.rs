//! The HTTP front's connections: accepting them, speaking HTTP/1.1 or HTTP/2 on each with
//! hyper, handing every request to the server's poem endpoint, and closing them gracefully
//! when the server stops.
//!
//! poem's own server hands hyper each connection through a boxed stream split in two halves:
//! every read and write takes the split's lock, and a stream that cannot write vectored makes
//! hyper copy each answer into its write buffer before it writes it. Serving the same endpoint
//! over the TCP stream itself spares both, and the routes, handlers and middleware stay
//! poem's. hyper's settings are its defaults, but for HTTP/2's concurrent streams on a
//! connection (200 here, where poem set no bound) and HTTP/1.1's header timeout (below).
//!
//! A connection is not held for a client that does not send: its first request's head must
//! arrive within the read timeout of its opening (whichever HTTP it speaks), and over HTTP/1.1
//! each later one within the read timeout of the answer before (hyper's header timeout, which
//! needs its timer), or the connection is closed. Without them a client could hold a
//! connection, its socket and its task for ever by sending nothing, or a byte at a time, and
//! enough such clients would leave no socket to accept with. An HTTP/2 connection, once it
//! has had a request, is not timed: hyper has no such timeout for it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use poem::Endpoint;
use poem::http::uri::Scheme;
use poem::web::{LocalAddr, RemoteAddr};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

/// How long the accept loop rests after the system refused it a connection for want of
/// resources (file descriptors, memory), rather than spin while none are freed.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(20);

/// How long connections may take.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// After the server is told to stop, for the requests begun to finish.
    pub grace: Duration,
    /// For a request's head to arrive, from the connection's opening or the answer before.
    pub read: Duration,
}

/// Serves `endpoint` on every connection `listener` accepts until `shutdown` resolves. Then
/// it accepts no more, lets each connection finish the requests it has begun (an idle
/// keep-alive connection closes at once), and after the grace period closes the connections
/// still open. A connection upgraded to a WebSocket is no longer one of them: its session is a
/// task of its own, which ends with its runtime.
pub async fn serve<E>(
    listener: TcpListener,
    endpoint: E,
    shutdown: impl Future<Output = ()>,
    timeouts: Timeouts,
) -> std::io::Result<()>
where
    E: Endpoint + 'static,
{
    let Timeouts { grace, read } = timeouts;
    let local_addr = listener.local_addr()?;
    let endpoint = Arc::new(endpoint);
    let mut http = auto::Builder::new(TokioExecutor::new());
    http.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(read);
    let http = Arc::new(http);
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, remote_addr)) => {
                    let peer = Peer { local_addr, remote_addr };
                    connections.spawn(serve_connection(
                        stream,
                        peer,
                        Arc::clone(&http),
                        Arc::clone(&endpoint),
                        read,
                        stopping.clone(),
                    ));
                }
                Err(error) => refused(error).await,
            },
            // Reaps finished connections, so that the set holds only open ones.
            Some(ended) = connections.join_next(), if !connections.is_empty() => {
                log_panic(ended);
            }
        }
    }
    drop(listener);
    stop.send_replace(true);
    if !connections.is_empty() {
        tracing::info!(
            open = connections.len(),
            grace_secs = grace.as_secs_f32(),
            "stopping: waiting for the connections' requests in flight"
        );
    }
    let drained = tokio::time::timeout(grace, async {
        while let Some(ended) = connections.join_next().await {
            log_panic(ended);
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            grace_secs = grace.as_secs_f32(),
            "connections still busy when the shutdown's grace period ended are closed"
        );
    }
    connections.shutdown().await;
    Ok(())
}

/// A connection's task that panicked: over HTTP/1 its request's handler did, and took the
/// connection with it (over HTTP/2 each request is a task of hyper's, whose panic ends that
/// task alone). A handler run by the operations' runtime answers a panic with an internal
/// error instead.
fn log_panic(ended: Result<(), tokio::task::JoinError>) {
    if let Err(error) = ended
        && error.is_panic()
    {
        tracing::error!(%error, "a connection's task panicked");
    }
}

/// Handles an accept that failed: an error of that one connection (its client gone before it
/// was accepted, a network error pending on it) is no news; a system out of resources (file
/// descriptors, memory) is, and is given time to free some.
async fn refused(error: std::io::Error) {
    use std::io::ErrorKind::{
        ConnectionAborted, ConnectionReset, HostUnreachable, Interrupted, NetworkDown,
        NetworkUnreachable, PermissionDenied, TimedOut,
    };
    if matches!(
        error.kind(),
        ConnectionAborted
            | ConnectionReset
            | HostUnreachable
            | Interrupted
            | NetworkDown
            | NetworkUnreachable
            | PermissionDenied
            | TimedOut
    ) {
        tracing::debug!(%error, "a connection failed before it was accepted");
    } else {
        tracing::warn!(%error, "cannot accept a connection");
        tokio::time::sleep(ACCEPT_BACKOFF).await;
    }
}

/// The two ends of a connection, which every request on it carries.
#[derive(Clone, Copy)]
struct Peer {
    local_addr: SocketAddr,
    remote_addr: SocketAddr,
}

/// The answers' body, as poem hands it to hyper.
type ResponseBody = BoxBody<Bytes, std::io::Error>;

/// Serves one connection until it ends, the server stops (`stopping`), or no request's head
/// has come `within` its opening.
async fn serve_connection<E: Endpoint + 'static>(
    stream: TcpStream,
    peer: Peer,
    http: Arc<auto::Builder<TokioExecutor>>,
    endpoint: Arc<E>,
    within: Duration,
    mut stopping: watch::Receiver<bool>,
) {
    let requested = Arc::new(Notify::new());
    let service = hyper::service::service_fn({
        let requested = Arc::clone(&requested);
        move |request: hyper::Request<Incoming>| {
            requested.notify_one();
            let endpoint = Arc::clone(&endpoint);
            async move {
                let request = poem::Request::from((
                    request,
                    LocalAddr(peer.local_addr.into()),
                    RemoteAddr(peer.remote_addr.into()),
                    Scheme::HTTP,
                ));
                let response = endpoint.get_response(request).await;
                Ok::<_, Infallible>(hyper::Response::<ResponseBody>::from(response))
            }
        }
    });
    let connection = http.serve_connection_with_upgrades(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let ended = tokio::select! {
        ended = connection.as_mut() => ended,
        () = stopped(&mut stopping) => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
        () = unrequested(&requested, within) => {
            tracing::debug!(remote_addr = %peer.remote_addr, "no request within the read timeout: connection closed");
            return;
        }
    };
    if let Err(error) = ended {
        // A client that hangs up mid-request or sends garbage ends here; nothing to act on.
        tracing::debug!(%error, remote_addr = %peer.remote_addr, "connection ended with an error");
    }
}

/// Resolves if no request is heard of `within` its start; never once one is.
async fn unrequested(requested: &Notify, within: Duration) {
    if tokio::time::timeout(within, requested.notified())
        .await
        .is_ok()
    {
        std::future::pending::<()>().await;
    }
}

/// Resolves once the server stops (or is gone).
async fn stopped(stopping: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns must not live across the connection's awaits.
    let _ = stopping.wait_for(|stopping| *stopping).await;
}
