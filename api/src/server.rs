//! The HTTP server loop: hyper's HTTP/1.1 connection with a header-read timeout (a client
//! that trickles its headers, slow-loris style, is disconnected) and a write timeout (a
//! client that stops reading a streamed answer, an event stream, an archive or a file, is
//! disconnected, and what the answer held is given back), graceful shutdown that drains
//! in-flight requests, and the per-request deadline every route runs under. `axum::serve`
//! offers neither timeout, hence this loop.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::error::ApiError;

/// How long shutdown waits for open connections to finish their requests.
const DRAIN: Duration = Duration::from_secs(30);

/// How long a connection's writes may wait on the client.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// For the request's headers to arrive.
    pub header_read: Duration,
    /// For any one write to make progress.
    pub write: Duration,
}

/// Serves `app` on `listener` until `shutdown` is cancelled, then drains open connections.
pub async fn run(
    listener: TcpListener,
    app: Router,
    timeouts: Timeouts,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(timeouts.header_read);
    let graceful = GracefulShutdown::new();
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin or stop serving.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let (stream, peer) = stream;
        let _ = stream.set_nodelay(true);
        // The peer's address, for the per-address rate limit of public routes.
        let service = TowerToHyperService::new(
            tower::ServiceBuilder::new()
                .map_request(
                    move |mut request: axum::http::Request<hyper::body::Incoming>| {
                        request
                            .extensions_mut()
                            .insert(axum::extract::ConnectInfo(peer));
                        request
                    },
                )
                .service(app.clone()),
        );
        let stream = WriteTimeout::new(stream, timeouts.write);
        let connection = http.serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // Errors here are the client's (reset, timeout while reading headers).
            let _ = connection.await;
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the drain period; closing them");
    }
    Ok(())
}

/// A connection whose writes fail with `TimedOut` once one has waited `limit` for the client
/// to read (its socket buffer full): hyper then drops the connection and the answer's body
/// with it (an event stream's place, an archive's writer). A write that makes progress starts
/// the clock again, so a slow reader is not cut off, only one that stopped.
pub(crate) struct WriteTimeout<S> {
    inner: S,
    limit: Duration,
    /// Running since a write first found the client not reading.
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<S> WriteTimeout<S> {
    pub(crate) fn new(inner: S, limit: Duration) -> Self {
        Self {
            inner,
            limit,
            stalled: None,
        }
    }

    /// What a write that returned `poll` means: progress resets the clock; waiting starts it,
    /// and past the limit it is an error.
    fn watch<T>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if poll.is_ready() {
            self.stalled = None;
            return poll;
        }
        let limit = self.limit;
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match stalled.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("the client read nothing for {} s", limit.as_secs()),
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for WriteTimeout<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for WriteTimeout<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.watch(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_flush(cx);
        self.watch(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.watch(cx, poll)
    }
}

/// The span of one request: method and path, never the query string (signed links carry
/// their signature there) nor headers (API keys).
///
/// With traces on it is an info span, the trace's server span: a child of the caller's
/// `traceparent` if one came, named by the route template once routing knows it
/// ([`record_metrics`]).
pub(crate) fn request_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    use tracing::field::Empty;
    if !shared::telemetry::enabled() {
        return tracing::debug_span!("request", method = %request.method(), path = %request.uri().path());
    }
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        otel.name = %request.method(),
        otel.kind = "server",
        otel.status_code = Empty,
        http.request.method = %request.method(),
        http.route = Empty,
        http.response.status_code = Empty,
    );
    shared::telemetry::continue_request_trace(&span, request.headers());
    span
}

/// Counts every routed request by route template, method and status, with its latency
/// (`quire_http_requests_total`, `quire_http_request_duration_seconds`). A route layer, so
/// the template is known; unknown paths are not counted (they would name raw paths). With
/// traces on, it also names the request's span by its route and answers its `traceparent`.
pub(crate) async fn record_metrics(
    matched: Option<axum::extract::MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let started = tokio::time::Instant::now();
    let method = request.method().clone();
    let traced = shared::telemetry::enabled();
    if traced && let Some(route) = &matched {
        // Before the handler: the span's name is fixed once anything reads its context.
        let span = tracing::Span::current();
        span.record("otel.name", format!("{method} {}", route.as_str()));
        span.record("http.route", route.as_str());
    }
    let mut response = next.run(request).await;
    let status = response.status();
    if let Some(route) = matched {
        shared::metrics::http_request(
            route.as_str(),
            method.as_str(),
            status.as_u16(),
            started.elapsed(),
        );
        if traced {
            let span = tracing::Span::current();
            span.record("http.response.status_code", status.as_u16());
            if status.is_server_error() {
                span.record("otel.status_code", "ERROR");
            }
            // The caller learns the trace its request is part of (a new one if it sent none).
            shared::telemetry::inject_traceparent(response.headers_mut());
        }
    }
    response
}

/// Stops a request that runs past its deadline with the JSON error (503). Applies until the
/// response starts: a long download streams on.
pub(crate) async fn deadline(
    State(limit): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout {
            secs: limit.as_secs(),
        }
        .into_response(),
    }
}

#[cfg(test)]
mod write_timeout_tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::WriteTimeout;

    const LIMIT: Duration = Duration::from_millis(300);

    #[tokio::test]
    async fn a_client_that_stops_reading_is_cut_off() {
        let (server, mut client) = tokio::io::duplex(1024);
        let mut server = WriteTimeout::new(server, LIMIT);
        let started = tokio::time::Instant::now();
        let chunk = [0u8; 512];
        let error = loop {
            if let Err(e) = server.write_all(&chunk).await {
                break e;
            }
        };
        assert_eq!(error.kind(), std::io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= LIMIT, "{:?}", started.elapsed());
        // What was written is still there for the client; it simply took too long.
        let mut got = vec![0u8; 1024];
        client.read_exact(&mut got).await.unwrap();
    }

    #[tokio::test]
    async fn a_slow_reader_is_not() {
        let (server, mut client) = tokio::io::duplex(1024);
        let mut server = WriteTimeout::new(server, LIMIT);
        let reader = tokio::spawn(async move {
            let mut buf = vec![0u8; 256];
            let mut total = 0;
            // 256 bytes at a time with pauses: slower than the writer, never stopped for long.
            while total < 8 * 1024 {
                tokio::time::sleep(LIMIT / 6).await;
                total += client.read(&mut buf).await.unwrap();
            }
        });
        server.write_all(&[0u8; 8 * 1024]).await.unwrap();
        reader.await.unwrap();
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Debug;
    use std::sync::{Arc, Mutex};

    use tracing::field::{Field, Visit};
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::{Context, SubscriberExt};

    use super::request_span;

    /// Every field of every new span, as `name=value`.
    struct Fields(Arc<Mutex<Vec<String>>>);

    struct Collect<'a>(&'a mut Vec<String>);

    impl Visit for Collect<'_> {
        fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
            self.0.push(format!("{}={value:?}", field.name()));
        }
    }

    impl<S: tracing::Subscriber> Layer<S> for Fields {
        fn on_new_span(
            &self,
            attrs: &tracing::span::Attributes<'_>,
            _: &tracing::span::Id,
            _: Context<'_, S>,
        ) {
            attrs.record(&mut Collect(&mut self.0.lock().unwrap()));
        }
    }

    #[test]
    fn request_spans_leave_out_the_query_string() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let subscriber = tracing_subscriber::registry().with(Fields(seen.clone()));
        tracing::subscriber::with_default(subscriber, || {
            let request = axum::http::Request::builder()
                .uri("/v1/files/abc?expires=1&sig=deadbeef")
                .body(axum::body::Body::empty())
                .unwrap();
            let _span = request_span(&request);
        });
        let seen = seen.lock().unwrap().join(" ");
        assert!(seen.contains("/v1/files/abc"), "{seen}");
        assert!(!seen.contains("deadbeef"), "{seen}");
    }
}
