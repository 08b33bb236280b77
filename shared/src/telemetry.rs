//! Structured logging and OpenTelemetry traces.
//!
//! Logs: the level comes from `RUST_LOG` (default `info`), the format from configuration. Job
//! spans carry the job id, kind and attempt, so every line of a job says which job it is.
//!
//! Traces are on when the standard `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, and exported over OTLP HTTP/protobuf by a
//! batch processor on its own thread; `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`,
//! `OTEL_TRACES_SAMPLER` and `OTEL_BSP_*` are read by the SDK as the specification says. Off,
//! nothing of OpenTelemetry is installed: the request span stays at debug level as before and
//! no context is extracted, stored or injected.
//!
//! A trace follows a job across processes through the job row: the submit request's span
//! context is stored with the job as a W3C `traceparent` ([`current_traceparent`], read by
//! `NewJob::of`), and each attempt's span is made its child ([`continue_trace`]). A job a job
//! creates (a notification email) stores the creating attempt's context, so it continues the
//! same trace.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::LogFormat;

static ENABLED: AtomicBool = AtomicBool::new(false);

/// The propagator of W3C trace context (`traceparent`, `tracestate`).
fn propagator() -> &'static TraceContextPropagator {
    static PROPAGATOR: OnceLock<TraceContextPropagator> = OnceLock::new();
    PROPAGATOR.get_or_init(TraceContextPropagator::new)
}

/// Whether traces are exported by this process.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Flushes and stops the trace exporter when the process ends.
#[must_use = "traces are flushed when this is shut down"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Sends the spans still buffered (bounded: the exporter's own timeout).
    pub fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(e) = provider.shutdown_with_timeout(Duration::from_secs(5))
        {
            tracing::warn!(error = %e, "traces not flushed at shutdown");
        }
    }
}

/// Whether the environment asks for traces: an OTLP endpoint is set and the SDK is not
/// disabled (`OTEL_SDK_DISABLED=true`, `OTEL_TRACES_EXPORTER=none`).
fn traces_wanted() -> bool {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    let is = |name: &str, value: &str| {
        std::env::var(name).is_ok_and(|v| v.trim().eq_ignore_ascii_case(value))
    };
    (set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
        && !is("OTEL_SDK_DISABLED", "true")
        && !is("OTEL_TRACES_EXPORTER", "none")
}

/// Installs the global subscriber: logs in `format`, and, for a serving process (`role`
/// given) whose environment asks for them, traces. Must run inside the Tokio runtime (the
/// exporter sends on it). A second call (tests) installs nothing.
pub fn init(format: LogFormat, role: Option<&str>) -> Telemetry {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,apalis=warn,apalis_core=warn"));
    let provider = match role.filter(|_| traces_wanted()).map(tracer_provider) {
        Some(Ok(p)) => Some(p),
        Some(Err(e)) => {
            // Before any subscriber: say it on stderr and run without traces.
            eprintln!("quire: traces are off: the OTLP exporter cannot be built: {e}");
            None
        }
        None => None,
    };
    let otel = provider.as_ref().map(|p| {
        // Our own spans only (the HTTP server's, jobs', rendering's), whatever RUST_LOG says
        // for the log lines: dependencies' spans would be noise in every trace.
        let ours = Targets::new()
            .with_target("api", LevelFilter::INFO)
            .with_target("worker", LevelFilter::INFO)
            .with_target("scheduler", LevelFilter::INFO)
            .with_target("shared", LevelFilter::INFO)
            .with_target("quire", LevelFilter::INFO);
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer("quire"))
            .with_tracked_inactivity(false)
            // A span starts when its context is first read, not when first entered: the
            // request span is named by its route template only once routing has run.
            .with_context_activation(false)
            .with_filter(ours)
    });
    // Colour codes only for a person at a terminal: a log file or collector gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout())
        && std::env::var_os("NO_COLOR").is_none();
    let fmt = tracing_subscriber::fmt::layer()
        .with_target(false)
        .with_ansi(ansi);
    let fmt = match format {
        LogFormat::Text => fmt.boxed(),
        LogFormat::Json => fmt
            .json()
            .flatten_event(true)
            .map_event_format(WithTraceIds)
            .boxed(),
    };
    let installed = tracing_subscriber::registry()
        .with(fmt.with_filter(filter))
        .with(otel)
        .try_init()
        .is_ok();
    if installed && provider.is_some() {
        ENABLED.store(true, Ordering::Relaxed);
    }
    Telemetry {
        provider: provider.filter(|_| installed),
    }
}

fn tracer_provider(role: &str) -> anyhow::Result<SdkTracerProvider> {
    use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_http_client(OtlpClient::new()?)
        .build()?;
    let mut resource = opentelemetry_sdk::Resource::builder();
    let named = std::env::var("OTEL_SERVICE_NAME").is_ok_and(|v| !v.is_empty())
        || std::env::var("OTEL_RESOURCE_ATTRIBUTES").is_ok_and(|v| v.contains("service.name="));
    if !named {
        resource = resource.with_service_name("quire");
    }
    let resource = resource
        .with_attribute(opentelemetry::KeyValue::new(
            "service.version",
            env!("CARGO_PKG_VERSION"),
        ))
        .with_attribute(opentelemetry::KeyValue::new("quire.role", role.to_owned()))
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

/// The OTLP exporter's HTTP client: our reqwest (0.12; the exporter's own client would add
/// reqwest 0.13 and a second TLS stack). The batch processor exports from its own thread,
/// outside the runtime, so each request runs as a task on the runtime that built it.
#[derive(Debug)]
struct OtlpClient {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

impl OtlpClient {
    fn new() -> anyhow::Result<OtlpClient> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| anyhow::anyhow!("no Tokio runtime to export on"))?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(OtlpClient { client, runtime })
    }
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for OtlpClient {
    async fn send_bytes(
        &self,
        request: http::Request<bytes::Bytes>,
    ) -> Result<http::Response<bytes::Bytes>, opentelemetry_http::HttpError> {
        let request = reqwest::Request::try_from(request.map(reqwest::Body::from))?;
        let client = self.client.clone();
        let sent = self.runtime.spawn(async move {
            let response = client.execute(request).await?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, headers, body))
        });
        let (status, headers, body) = sent.await??;
        let mut response = http::Response::new(body);
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        Ok(response)
    }
}

/// The current span's trace context when traces are on and it is a valid one.
fn current_context() -> Option<opentelemetry::Context> {
    if !enabled() {
        return None;
    }
    let cx = tracing::Span::current().context();
    cx.span().span_context().is_valid().then_some(cx)
}

/// Makes `span` (not yet entered) a child of `cx` when that is a valid trace context.
fn adopt_parent(span: &tracing::Span, cx: opentelemetry::Context) {
    if cx.span().span_context().is_valid() {
        let _ = span.set_parent(cx);
    }
}

/// The current span's context as a W3C `traceparent`, to store with a job it creates (`None`
/// when traces are off or there is no valid context).
pub fn current_traceparent() -> Option<String> {
    let cx = current_context()?;
    let mut carrier = std::collections::HashMap::new();
    propagator().inject_context(&cx, &mut carrier);
    carrier.remove("traceparent")
}

/// Makes `span` (not yet entered) a child of the context in `traceparent`, a job row's: the
/// attempt continues the trace of the request that submitted the job. An absent or malformed
/// value leaves it a root.
pub fn continue_trace(span: &tracing::Span, traceparent: Option<&str>) {
    let Some(value) = traceparent.filter(|_| enabled()) else {
        return;
    };
    let carrier = std::collections::HashMap::from([("traceparent".to_owned(), value.to_owned())]);
    adopt_parent(span, propagator().extract(&carrier));
}

/// Makes `span` (not yet entered) a child of the caller's context in the request's
/// `traceparent` header, if any; without one it starts a new trace.
pub fn continue_request_trace(span: &tracing::Span, headers: &http::HeaderMap) {
    if enabled() {
        adopt_parent(span, propagator().extract(&HeaderExtractor(headers)));
    }
}

/// Adds the current span's `traceparent` to a response, so a caller that sent none learns
/// the trace its request started.
pub fn inject_traceparent(headers: &mut http::HeaderMap) {
    if let Some(cx) = current_context() {
        propagator().inject_context(&cx, &mut HeaderInjector(headers));
    }
}

/// The trace and span id of the current span, as hex (when traces are on).
fn current_ids() -> Option<(String, String)> {
    let cx = current_context()?;
    let span = cx.span();
    let sc = span.span_context();
    Some((sc.trace_id().to_string(), sc.span_id().to_string()))
}

/// The JSON log format with `trace_id` and `span_id` of the event's span added, so a log line
/// leads to its trace.
struct WithTraceIds<F>(F);

impl<S, N, F> FormatEvent<S, N> for WithTraceIds<F>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let Some((trace_id, span_id)) = current_ids() else {
            return self.0.format_event(ctx, writer, event);
        };
        let mut line = String::new();
        self.0.format_event(ctx, Writer::new(&mut line), event)?;
        // The inner format writes one JSON object and a line break: the ids go before its `}`.
        let end = line.trim_end().len();
        match line[..end].strip_suffix('}') {
            Some(object) => write!(
                writer,
                "{object},\"trace_id\":\"{trace_id}\",\"span_id\":\"{span_id}\"}}{}",
                &line[end..]
            ),
            None => writer.write_str(&line),
        }
    }
}
