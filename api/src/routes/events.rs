//! `GET /v1/events`: the caller's job transitions (admins: everyone's) as server-sent
//! events, read from the event log past the client's cursor. Each event's `id` is its place
//! in the log, so a client that reconnects with `Last-Event-ID` gets exactly what it missed
//! (within `webhooks.events_retention_hours`), whichever API process it reaches. A stream
//! reads the log when the event pump says there is more (`EventFeed`), else every few
//! seconds; comments every 15 s keep proxies from closing it. Each read continues after the
//! highest number the previous one covered, matching or not, so a narrow filter does not
//! walk the log again on every wake. A stream ends after `limits.max_event_stream_secs`
//! (its last message an `id` alone: where to resume) and holds one of its key's stream
//! places while open (`long_lived.rs`).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures::Stream;
use serde::{Deserialize, Serialize};
use shared::db::{Db, Event, EventFilter};
use shared::domain::{JobId, JobKind};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiQuery, Caller, Keyed};
use crate::long_lived::Slot;
use crate::state::AppState;
use crate::views::bad_query;

/// Events read from the log at a time.
const PAGE: u32 = 500;
/// A stream reads the log this often even without a wake-up (one lost on the way).
const RECHECK: Duration = Duration::from_secs(5);
/// Comment lines this often keep idle connections open through proxies.
pub(crate) const HEARTBEAT: Duration = Duration::from_secs(15);

/// Which events; every filter is optional.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// Only this job's events.
    #[param(value_type = Option<uuid::Uuid>)]
    pub job: Option<String>,
    /// Only this batch's events (its jobs' transitions and `batch.completed`).
    pub batch: Option<String>,
    /// Only this workflow's events: its steps' transitions and `workflow.completed` / `workflow.failed`.
    #[param(value_type = Option<uuid::Uuid>)]
    pub workflow: Option<String>,
    /// Only jobs of this kind.
    #[param(schema_with = crate::schemas::job_kind)]
    pub kind: Option<String>,
    /// Start after this event, like the `Last-Event-ID` header (which wins); without either
    /// the stream starts with the next event. `0` replays everything still kept.
    #[param(minimum = 0)]
    pub after: Option<i64>,
}

/// One event as the stream's `data` carries it (the SSE `id` is `id`, its `event` is `type`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EventView {
    /// Its place in the event log; resume after it with `Last-Event-ID`.
    pub id: i64,
    /// `job.<status>` (`job.running`, `job.succeeded`, `job.failed`, `job.dead`,
    /// `job.cancelled`, `job.queued`, `job.waiting`), `batch.completed`,
    /// `certificate.revoked`, `workflow.completed` or `workflow.failed`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// When it happened, RFC 3339.
    pub at: String,
    pub job_id: Option<String>,
    pub batch_id: Option<String>,
    pub workflow_id: Option<String>,
    #[schema(schema_with = crate::schemas::job_kind_or_null)]
    pub kind: Option<String>,
    /// The job's status for `job.*` events, `revoked` or `completed` for the others.
    pub status: Option<String>,
    pub attempt: Option<i64>,
}

impl EventView {
    fn new(e: &Event) -> EventView {
        EventView {
            id: e.seq,
            event_type: e.event_type.clone(),
            at: e.at.to_rfc3339(),
            job_id: e.job_id.clone(),
            batch_id: e.batch_id.clone(),
            workflow_id: e.workflow_id.clone(),
            kind: e.kind.clone(),
            status: e.status.clone(),
            attempt: e.attempt,
        }
    }
}

/// A stream of the caller's job events (`text/event-stream`; admins: every key's). Each
/// event: `id` (resume with `Last-Event-ID`), `event` (its type) and `data` (an `EventView`).
/// A client that resumes from before the oldest event kept first gets an event `gap`. A
/// stream ends after `limits.max_event_stream_secs` (one hour by default), its last message
/// an `id` without data that moves the client's `Last-Event-ID` past what it read; the client
/// reconnects with it (`EventSource` does by itself). A key may have
/// `limits.max_event_streams_per_key` streams open on one server (`429 too_many_streams`).
/// The document describes each event of the stream as a `StreamEvent` (`openapi.rs`).
#[utoipa::path(get, path = "/v1/events", operation_id = "stream_events", tag = "events",
    params(EventQuery,
        ("Last-Event-ID" = Option<i64>, Header, minimum = 0, description = "Resume after this event")),
    responses(
        (status = 200, description = "Server-sent events: each a `StreamEvent` (`id`, `event`, and \
            `data` holding an `EventView` as JSON); comment lines every 15 s keep the connection open",
            content_type = "text/event-stream", body = EventView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 503, description = "Too many streams open on this process, or the database is away",
            body = ErrorBody)))]
pub async fn stream(
    Keyed { state, caller }: Keyed,
    ApiQuery(q): ApiQuery<EventQuery>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let events = open(state, caller, q, headers).await?;
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(HEARTBEAT)))
}

/// The events `caller` may read with `q`'s filters (also the dashboard's live updates).
pub(crate) async fn open(
    state: AppState,
    caller: Caller,
    q: EventQuery,
    headers: HeaderMap,
) -> Result<impl Stream<Item = Result<SseEvent, Infallible>> + Send + 'static, ApiError> {
    let filter = EventFilter {
        owner: caller.owner_filter().map(str::to_owned),
        job_id: q
            .job
            .map(|j| j.parse::<JobId>().map(|id| id.to_string()))
            .transpose()
            .map_err(|_| bad_query("job", "`job` is not a job id"))?,
        batch_id: q.batch,
        workflow_id: q
            .workflow
            .map(|w| w.parse::<JobId>().map(|id| id.to_string()))
            .transpose()
            .map_err(|_| bad_query("workflow", "`workflow` is not a workflow id"))?,
        kind: q
            .kind
            .map(|k| k.parse::<JobKind>().map(|k| k.as_str().to_owned()))
            .transpose()
            .map_err(|e| bad_query("kind", e))?,
    };
    // Checked even when the header below wins: a request is refused for any bad parameter.
    if q.after.is_some_and(|n| n < 0) {
        return Err(bad_query("after", "`after` must be 0 or more"));
    }
    let resume = match headers.get("last-event-id") {
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<i64>().ok())
                .filter(|n| *n >= 0)
                .ok_or_else(|| ApiError::BadRequest {
                    code: "invalid_header",
                    message: "`Last-Event-ID` must be an event id (a number)".into(),
                    field: Some("Last-Event-ID".into()),
                })?,
        ),
        None => q.after,
    };
    let slot = state.long_lived.streams.acquire(&caller.key_id)?;
    // Subscribed before the first read, so nothing numbered in between is missed.
    let wake = state.events.subscribe();
    let (low, high) = state.db.event_seq_bounds().await?;
    let cursor = resume.unwrap_or(high);
    let mut pending = VecDeque::new();
    if resume.is_some() && low > 0 && cursor.saturating_add(1) < low {
        pending.push_back((
            cursor,
            SseEvent::default().event("gap").data(
                serde_json::json!({ "oldest": low,
                    "message": "events before `oldest` are no longer kept; some were missed" })
                .to_string(),
            ),
        ));
    }
    let reader = Reader {
        db: state.db.clone(),
        filter,
        cursor,
        sent: cursor,
        pending,
        wake,
        closed: state.events.closed(),
        ends_at: tokio::time::Instant::now() + lifetime(&state),
        ended: false,
        _slot: slot,
    };
    Ok(futures::stream::unfold(reader, |mut r| async move {
        let event = r.next().await?;
        Some((Ok(event), r))
    }))
}

/// How long a stream stays open (`limits.max_event_stream_secs`).
pub(crate) fn lifetime(state: &AppState) -> Duration {
    Duration::from_secs(state.config.limits.max_event_stream_secs)
}

/// One stream's state: its cursor in the log and what it read but has not sent yet.
struct Reader {
    db: Db,
    filter: EventFilter,
    /// The log is read up to here (events that did not match included).
    cursor: i64,
    /// The client has every event up to here: the last `id` it was sent.
    sent: i64,
    pending: VecDeque<(i64, SseEvent)>,
    wake: tokio::sync::watch::Receiver<i64>,
    closed: tokio_util::sync::CancellationToken,
    ends_at: tokio::time::Instant,
    ended: bool,
    _slot: Slot,
}

impl Reader {
    /// The next event to send; `None` ends the stream (its lifetime is over, or the process
    /// stops serving).
    async fn next(&mut self) -> Option<SseEvent> {
        loop {
            if self.ended {
                return None;
            }
            if tokio::time::Instant::now() >= self.ends_at {
                return self.end();
            }
            if let Some((seq, e)) = self.pending.pop_front() {
                self.sent = self.sent.max(seq);
                return Some(e);
            }
            match self.db.events_after(self.cursor, &self.filter, PAGE).await {
                Ok(read) => {
                    for e in &read.events {
                        let data =
                            serde_json::to_string(&EventView::new(e)).expect("an event serializes");
                        self.pending.push_back((
                            e.seq,
                            SseEvent::default()
                                .id(e.seq.to_string())
                                .event(e.event_type.clone())
                                .data(data),
                        ));
                    }
                    // Past what this read covered, matching or not: a filter that matches
                    // little does not walk the same stretch of the log on the next wake.
                    self.cursor = self.cursor.max(read.covered);
                    if !read.events.is_empty() {
                        continue;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "event stream read failed; retrying"),
            }
            tokio::select! {
                () = self.closed.cancelled() => return None,
                () = tokio::time::sleep_until(self.ends_at) => {}
                changed = self.wake.changed() => {
                    if changed.is_err() {
                        tokio::time::sleep(RECHECK).await;
                    }
                }
                () = tokio::time::sleep(RECHECK) => {}
            }
        }
    }

    /// The stream's last message: when everything read was sent, an `id` alone, so the
    /// client resumes after the part of the log this stream covered (matching or not);
    /// otherwise nothing (it resumes after the last event it got).
    fn end(&mut self) -> Option<SseEvent> {
        self.ended = true;
        (self.pending.is_empty() && self.cursor > self.sent)
            .then(|| SseEvent::default().id(self.cursor.to_string()))
    }
}
