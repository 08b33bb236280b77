//! OpenTelemetry traces read by an OTLP receiver: quire's API and a worker as separate
//! processes (PostgreSQL, Redis) export over OTLP HTTP/protobuf to a small collector on
//! loopback, written here from the `opentelemetry-proto` types. A certificate submitted with a
//! known `traceparent` must come back as one trace from the HTTP span through the attempt to
//! the render, and its notification email as a child of the attempt that created it; an email
//! whose SMTP server is down must show both its attempts in the trace of the request that
//! submitted it; the worker's JSON log lines carry the same ids.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::processes::{job_when, migrate_and_admin_key, quire, settings, spawn, wait_ready};

/// One span as received, with its resource's attributes.
#[derive(Debug, Clone)]
struct Received {
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    name: String,
    kind: i32,
    attributes: Vec<(String, String)>,
    resource: Vec<(String, String)>,
}

impl Received {
    fn attr(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn resource(&self, key: &str) -> Option<&str> {
        self.resource
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

fn text(attributes: &[KeyValue]) -> Vec<(String, String)> {
    attributes
        .iter()
        .map(|kv| {
            let value = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(AnyValue::StringValue(s)) => s.clone(),
                Some(AnyValue::IntValue(i)) => i.to_string(),
                Some(AnyValue::BoolValue(b)) => b.to_string(),
                Some(AnyValue::DoubleValue(d)) => d.to_string(),
                other => format!("{other:?}"),
            };
            (kv.key.clone(), value)
        })
        .collect()
}

/// The collector: `POST /v1/traces` with an `ExportTraceServiceRequest`, kept in memory.
async fn receiver() -> (String, Arc<Mutex<Vec<Received>>>) {
    let spans: Arc<Mutex<Vec<Received>>> = Arc::default();
    let kept = spans.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: Bytes| {
            let kept = kept.clone();
            async move {
                let request = ExportTraceServiceRequest::decode(body).expect("OTLP protobuf");
                let mut kept = kept.lock().unwrap();
                for resource_spans in request.resource_spans {
                    let resource = resource_spans
                        .resource
                        .map(|r| text(&r.attributes))
                        .unwrap_or_default();
                    for scope in resource_spans.scope_spans {
                        for span in scope.spans {
                            kept.push(Received {
                                trace_id: hex::encode(&span.trace_id),
                                span_id: hex::encode(&span.span_id),
                                parent_span_id: hex::encode(&span.parent_span_id),
                                name: span.name.clone(),
                                kind: span.kind,
                                attributes: text(&span.attributes),
                                resource: resource.clone(),
                            });
                        }
                    }
                }
                // An empty ExportTraceServiceResponse: everything accepted.
                (
                    [("content-type", "application/x-protobuf")],
                    Vec::<u8>::new(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, spans)
}

/// Waits until the spans received satisfy `done`, then returns them.
async fn spans_until(
    spans: &Mutex<Vec<Received>>,
    what: &str,
    done: impl Fn(&[Received]) -> bool,
) -> Vec<Received> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let seen = spans.lock().unwrap().clone();
        if done(&seen) {
            return seen;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: never received; spans: {:#?}",
            seen.iter()
                .map(|s| (&s.name, &s.trace_id, &s.span_id, &s.parent_span_id))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The spans of `trace` named `name`.
fn named(all: &[Received], trace: &str, name: &str) -> Vec<Received> {
    all.iter()
        .filter(|s| s.trace_id == trace && s.name == name)
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_job_is_one_trace_from_the_request_to_the_render() {
    let (collector, spans) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let database_url = fresh_postgres().await;
    let namespace = format!("t{}", uuid::Uuid::new_v4().simple());
    let (api_port, worker_port, smtp_port) = (free_port(), free_port(), free_port());
    let api = format!("http://127.0.0.1:{api_port}");
    let smtp_port = smtp_port.to_string();
    let env = settings(&[
        ("DATABASE_URL", database_url.as_str()),
        ("REDIS_URL", &test_redis_url()),
        ("QUIRE_REDIS_NAMESPACE", &namespace),
        ("QUIRE_DATA_DIR", dir.path().to_str().unwrap()),
        ("QUIRE_SECRETS__KEK", TEST_KEK),
        ("QUIRE_PUBLIC_BASE_URL", &api),
        ("QUIRE_BIND", &format!("127.0.0.1:{api_port}")),
        ("QUIRE_LOG_FORMAT", "json"),
        // Nothing listens there: every send fails on the refused connection and is retried.
        ("QUIRE_SMTP__HOST", "127.0.0.1"),
        ("QUIRE_SMTP__PORT", &smtp_port),
        ("QUIRE_SMTP__TLS", "none"),
        ("QUIRE_QUEUES__EMAILS__MAX_ATTEMPTS", "2"),
        ("QUIRE_RETRY__BASE_MS", "50"),
        ("QUIRE_RETRY__MAX_SECS", "1"),
        ("QUIRE_SHUTDOWN_GRACE_SECS", "1"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &collector),
        ("OTEL_SERVICE_NAME", "quire-under-test"),
        ("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=ci"),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ]);
    let key = migrate_and_admin_key(&env);
    let log = |name: &str| dir.path().join(format!("{name}.log"));
    let _api = spawn(quire(&env, &["api"]), &log("api"));
    // Its own health port (the API would serve one too, given the same setting).
    let mut worker = quire(&env, &["worker"]);
    worker.env("QUIRE_HEALTH_BIND", format!("127.0.0.1:{worker_port}"));
    let _worker = spawn(worker, &log("worker"));
    wait_ready(&format!("{api}/ready"), "api", &log("api")).await;
    let worker_ready = format!("http://127.0.0.1:{worker_port}/ready");
    wait_ready(&worker_ready, "worker", &log("worker")).await;

    // A certificate, submitted inside the caller's trace.
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller = "00f067aa0ba902b7";
    let response = reqwest::Client::new()
        .post(format!("{api}/v1/certificates"))
        .bearer_auth(&key)
        .header("traceparent", format!("00-{trace}-{caller}-01"))
        .json(&{
            let mut body = certificate("Traced Person");
            // Its notification email is a job the certificate's attempt creates.
            body["notify"] = json!({"email": "holder@example.com"});
            body
        })
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let answered = response
        .headers()
        .get("traceparent")
        .expect("the answer carries its traceparent")
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = response.json().await.unwrap();
    let id = body["id"].as_str().unwrap().to_owned();
    let job = job_when(&api, &key, &id, &["succeeded", "dead"]).await;
    assert_eq!(job["status"], "succeeded", "{job}");

    let in_trace = |all: &[Received], name: &str| named(all, trace, name);
    let seen = spans_until(&spans, "the certificate's spans", |all| {
        [
            "POST /v1/certificates",
            "job certificate",
            "render",
            "store",
            "job email",
        ]
        .iter()
        .all(|name| !in_trace(all, name).is_empty())
    })
    .await;
    let [server] = &in_trace(&seen, "POST /v1/certificates")[..] else {
        panic!("one server span: {seen:#?}")
    };
    assert_eq!(
        server.parent_span_id, caller,
        "the caller's span is its parent"
    );
    assert_eq!(server.kind, SpanKind::Server as i32);
    assert_eq!(server.attr("http.route"), Some("/v1/certificates"));
    assert_eq!(server.attr("http.response.status_code"), Some("202"));
    assert_eq!(server.resource("service.name"), Some("quire-under-test"));
    assert_eq!(server.resource("deployment.environment"), Some("ci"));
    assert_eq!(server.resource("quire.role"), Some("api"));
    assert_eq!(
        answered,
        format!("00-{trace}-{}-01", server.span_id),
        "the answer names the request's own span"
    );
    let [attempt] = &in_trace(&seen, "job certificate")[..] else {
        panic!("one attempt: {seen:#?}")
    };
    assert_eq!(attempt.parent_span_id, server.span_id, "across processes");
    assert_eq!(attempt.kind, SpanKind::Consumer as i32);
    assert_eq!(attempt.resource("quire.role"), Some("worker"));
    assert_eq!(attempt.attr("job_id"), Some(id.as_str()));
    assert_eq!(attempt.attr("kind"), Some("certificate"));
    assert_eq!(attempt.attr("attempt"), Some("1"));
    assert_eq!(attempt.attr("template"), Some("classic"));
    assert_eq!(attempt.attr("outcome"), Some("succeeded"));
    for step in ["render", "store"] {
        let [span] = &in_trace(&seen, step)[..] else {
            panic!("one {step} span: {seen:#?}")
        };
        assert_eq!(
            span.parent_span_id, attempt.span_id,
            "{step} is the attempt's child"
        );
    }
    // The notification continues the trace, as a child of the attempt that created it.
    let notification = &in_trace(&seen, "job email")[0];
    assert_eq!(notification.parent_span_id, attempt.span_id);
    assert_eq!(notification.attr("template"), Some("certificate_issued"));
    let render = &in_trace(&seen, "render")[0];
    assert_eq!(render.attr("pages"), Some("1"));
    assert!(render.attr("pdf_bytes").unwrap().parse::<u64>().unwrap() > 1000);

    // The worker's log lines of that attempt name the trace and the attempt's span.
    let worker_log = std::fs::read_to_string(log("worker")).unwrap();
    let line: Value = worker_log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["message"] == "job succeeded" && l["span"]["job_id"] == id.as_str())
        .unwrap_or_else(|| panic!("no JSON line of the job: {worker_log}"));
    assert_eq!(line["trace_id"], trace, "{line}");
    assert_eq!(line["span_id"], attempt.span_id.as_str(), "{line}");

    // An email whose server is down: two attempts, both in the submitting request's trace.
    let trace = "0af7651916cd43dd8448eb211c80319c";
    let in_trace = |all: &[Received], name: &str| named(all, trace, name);
    let response = reqwest::Client::new()
        .post(format!("{api}/v1/emails"))
        .bearer_auth(&key)
        .header("traceparent", format!("00-{trace}-b7ad6b7169203331-01"))
        .json(&json!({"to": ["ana@example.com"], "template": "generic",
                      "vars": {"subject": "Traced", "text": "Hello"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let body: Value = response.json().await.unwrap();
    let id = body["id"].as_str().unwrap().to_owned();
    let job = job_when(&api, &key, &id, &["succeeded", "dead"]).await;
    assert_eq!(job["status"], "dead", "{job}");
    assert_eq!(job["attempt"], 2, "{job}");
    let seen = spans_until(&spans, "both attempts of the email", |all| {
        in_trace(all, "job email").len() == 2 && in_trace(all, "send_email").len() == 2
    })
    .await;
    let [server] = &in_trace(&seen, "POST /v1/emails")[..] else {
        panic!("one server span: {seen:#?}")
    };
    let mut attempts = in_trace(&seen, "job email");
    attempts.sort_by_key(|a| a.attr("attempt").map(str::to_owned));
    for (n, (attempt, outcome)) in attempts.iter().zip(["failed", "dead"]).enumerate() {
        assert_eq!(attempt.parent_span_id, server.span_id, "attempt {}", n + 1);
        assert_eq!(attempt.attr("attempt"), Some((n + 1).to_string().as_str()));
        assert_eq!(attempt.attr("outcome"), Some(outcome));
        assert_eq!(attempt.attr("error_code"), Some("smtp_unavailable"));
        assert!(
            in_trace(&seen, "send_email")
                .iter()
                .any(|s| s.parent_span_id == attempt.span_id),
            "attempt {} has its send_email child",
            n + 1
        );
    }
}
