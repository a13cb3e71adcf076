//! The HTTP listener: HTTP/1 connections, plain or TLS, with a header-read timeout (which also closes idle
//! keep-alive connections), a body-read timeout, a cap on open connections, and graceful
//! shutdown. Without these, idle or slow ("slowloris") connections without a key could hold every
//! file descriptor and starve `/healthz` and ingest.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

/// How long a client may take to send a request's headers, and how long a keep-alive connection
/// may wait idle for its next request.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a request body may pause between two pieces of data.
pub const BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a whole request body may take to arrive (64 MiB at about 2 Mbit/s).
pub const BODY_TOTAL_TIMEOUT: Duration = Duration::from_secs(300);
/// The most connections open at once (fewer when the file-descriptor limit is lower).
pub const MAX_CONNECTIONS: usize = 4_096;
/// File descriptors kept for the log, the index, the projection and outbound calls.
const RESERVED_FILE_DESCRIPTORS: u64 = 512;
/// The fewest connections served, whatever the file-descriptor limit.
const MIN_CONNECTIONS: usize = 32;
/// The pause after a failed accept (out of file descriptors), so the loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// Raises this process's soft limit on open files to its hard limit and returns the connection
/// cap that leaves room for everything else vigil opens.
pub fn connection_cap() -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local struct.
    let soft = unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return MIN_CONNECTIONS.max(256);
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit.rlim_cur = limit.rlim_max;
            }
        }
        limit.rlim_cur
    };
    let room = soft.saturating_sub(RESERVED_FILE_DESCRIPTORS);
    usize::try_from(room)
        .unwrap_or(usize::MAX)
        .clamp(MIN_CONNECTIONS, MAX_CONNECTIONS)
}

/// Serves `app` on `listener` until `shutdown` completes, then lets the requests in progress
/// finish (connections close after their current response) and returns.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    max_connections: usize,
    tls: Option<Arc<crate::tls::Tls>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let slots = Arc::new(Semaphore::new(max_connections));
    let (closing, close) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        // At the cap, stop accepting: new connections wait in the kernel's backlog until an
        // open one ends (idle ones end after HEADER_READ_TIMEOUT).
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        // Each request knows the address it came from (for the sign-in events).
        let service = TowerToHyperService::new(tower::ServiceExt::map_request(
            app.clone(),
            move |mut request: axum::extract::Request<hyper::body::Incoming>| {
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                request
            },
        ));
        let close = close.clone();
        let acceptor = tls.as_ref().map(|tls| tls.acceptor());
        connections.spawn(async move {
            let _slot = slot;
            match acceptor {
                None => drive(stream, service, close).await,
                // The handshake gets the time a request's headers get.
                Some(acceptor) => {
                    match tokio::time::timeout(HEADER_READ_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => drive(stream, service, close).await,
                        Ok(Err(error)) => tracing::debug!(%error, "TLS handshake failed"),
                        Err(_) => tracing::debug!("TLS handshake timed out"),
                    }
                }
            }
        });
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    let _ = closing.send(true);
    while connections.join_next().await.is_some() {}
}

/// Serves one connection (plain or TLS) until it ends, or gracefully once `close` says so.
async fn drive<I, S>(io: I, service: TowerToHyperService<S>, mut close: watch::Receiver<bool>)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    S: tower::Service<
            axum::extract::Request<hyper::body::Incoming>,
            Response = axum::response::Response,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(error) = result {
                tracing::debug!(%error, "connection ended with an error");
            }
        }
        _ = close.changed() => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}

/// A request body that stopped arriving: no data for [`BODY_IDLE_TIMEOUT`], or not all of it
/// within [`BODY_TOTAL_TIMEOUT`].
#[derive(Debug, thiserror::Error)]
#[error("the request body stopped arriving: {0}")]
pub struct BodyReadTimeout(&'static str);

/// Middleware: the request body fails with [`BodyReadTimeout`] when it pauses longer than
/// [`BODY_IDLE_TIMEOUT`] or takes longer than [`BODY_TOTAL_TIMEOUT`] in all, so a client that
/// sends its headers and then trickles (or stops) cannot hold a request open.
pub async fn body_read_timeout(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use futures::StreamExt;
    let (parts, body) = request.into_parts();
    let deadline = tokio::time::Instant::now() + BODY_TOTAL_TIMEOUT;
    let data = body.into_data_stream();
    let timed = futures::stream::unfold(Some(data), move |data| async move {
        let mut data = data?;
        let idle = tokio::time::Instant::now() + BODY_IDLE_TIMEOUT;
        let timeout = if idle < deadline {
            (idle, "no data for 10 s")
        } else {
            (deadline, "not all of it within 300 s")
        };
        match tokio::time::timeout_at(timeout.0, data.next()).await {
            Ok(Some(piece)) => Some((piece, Some(data))),
            Ok(None) => None,
            Err(_) => Some((Err(axum::Error::new(BodyReadTimeout(timeout.1))), None)),
        }
    });
    let body = axum::body::Body::from_stream(timed);
    next.run(axum::extract::Request::from_parts(parts, body))
        .await
}

/// Whether `error` (a body rejection) comes from [`BodyReadTimeout`].
pub fn is_body_read_timeout(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if error.is::<BodyReadTimeout>() {
            return true;
        }
        cause = error.source();
    }
    false
}
