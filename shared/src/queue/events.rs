//! Events between processes: `publish`/`subscribe` over Redis pub/sub (or, on SQLite, an
//! in-process broadcast of this handle's own events), and the cancel topic on top of them.

use super::*;

impl Queue {
    /// Broadcasts `message` on `topic` to every process subscribed through
    /// [`Queue::subscribe`]. With SQLite every role shares one process: the message goes to
    /// the subscribers of this same `Queue` handle, at once, and reaches no other process.
    pub async fn publish(&self, topic: &str, message: &str) -> Result<(), QueueError> {
        let Backend::Redis(r) = &self.inner.backend else {
            // No subscriber yet is not an error: there is simply nobody to tell.
            let _ = self.inner.local.send(LocalEvent {
                topic: topic.to_owned(),
                message: message.to_owned(),
            });
            return Ok(());
        };
        let mut conn = r.conn.clone();
        let mut cmd = redis::cmd("PUBLISH");
        cmd.arg(r.event_channel(topic)).arg(message);
        tokio::time::timeout(PUSH_TIMEOUT, cmd.query_async::<i64>(&mut conn))
            .await
            .map_err(|_| QueueError::Unavailable("Redis publish timed out".into()))?
            .map_err(|e| redis_error(&e, "publishing an event", &r.secrets))?;
        Ok(())
    }

    /// Whether events cross processes (Redis) or stay in this one (SQLite).
    pub fn has_event_channel(&self) -> bool {
        matches!(self.inner.backend, Backend::Redis(_))
    }

    /// Delivers every message published on `topic` to `on_message` until `stop` is cancelled,
    /// resubscribing after connection loss. `on_state(true)` runs once subscribed,
    /// `on_state(false)` when the subscription is lost (messages may have been missed
    /// meanwhile). With SQLite it receives what this same handle publishes.
    pub async fn subscribe(
        &self,
        topic: &str,
        on_message: impl Fn(&str) + Send + Sync,
        on_state: impl Fn(bool) + Send + Sync,
        stop: tokio_util::sync::CancellationToken,
    ) {
        let Backend::Redis(r) = &self.inner.backend else {
            return self
                .subscribe_local(topic, on_message, on_state, stop)
                .await;
        };
        let channel = r.event_channel(topic);
        let channels = [&channel];
        let mut backoff = Duration::from_millis(200);
        loop {
            let session = r.relay(
                "events",
                &channels,
                Duration::from_secs(5),
                || on_state(true),
                |msg: &redis::Msg| on_message(&msg.get_payload::<String>().unwrap_or_default()),
            );
            let result: Result<(), QueueError> = tokio::select! {
                _ = stop.cancelled() => return,
                result = session => result,
            };
            on_state(false);
            if let Err(e) = result {
                tracing::warn!(topic, error = %e, "event subscription lost; resubscribing");
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    /// [`Queue::subscribe`] without Redis: this handle's own events.
    pub(super) async fn subscribe_local(
        &self,
        topic: &str,
        on_message: impl Fn(&str) + Send + Sync,
        on_state: impl Fn(bool) + Send + Sync,
        stop: tokio_util::sync::CancellationToken,
    ) {
        use tokio::sync::broadcast::error::RecvError;
        let mut events = self.inner.local.subscribe();
        on_state(true);
        loop {
            let event = tokio::select! {
                _ = stop.cancelled() => return,
                event = events.recv() => event,
            };
            match event {
                Ok(event) if event.topic == topic => on_message(&event.message),
                Ok(_) => {}
                // Some were dropped: report it like a lost Redis subscription, then go on.
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(topic, missed, "in-process events missed");
                    on_state(false);
                    on_state(true);
                }
                // `self` holds the sender, so this cannot happen while we run.
                Err(RecvError::Closed) => return,
            }
        }
    }

    /// Asks the worker running `job_id`, wherever it is, to stop at its next safe point.
    /// Only a signal: the request itself is the row's `cancel_requested_at`, which the
    /// worker's heartbeat also reads, so a lost message delays the cancel but loses nothing.
    pub async fn publish_cancel(&self, job_id: JobId) -> Result<(), QueueError> {
        self.publish(CANCEL_TOPIC, &job_id.to_string()).await
    }

    /// Tells processes with clients waiting on `job_id` (`GET /v1/jobs/{id}?wait=`, or its
    /// batch's) that it reached an end state. Only a wake-up: waiters read the row, and one
    /// that misses the message reads it again within seconds anyway.
    pub async fn publish_finished(
        &self,
        job_id: JobId,
        batch_id: Option<&str>,
    ) -> Result<(), QueueError> {
        let message = match batch_id {
            Some(batch) => format!("{job_id} {batch}"),
            None => job_id.to_string(),
        };
        self.publish(FINISHED_TOPIC, &message).await
    }

    /// Hands every message of [`Queue::publish_finished`] to `on_finished` (job id, batch
    /// id) until `stop`; `on_state` as for [`Queue::subscribe`].
    pub async fn subscribe_finished(
        &self,
        on_finished: impl Fn(JobId, Option<&str>) + Send + Sync,
        on_state: impl Fn(bool) + Send + Sync,
        stop: tokio_util::sync::CancellationToken,
    ) {
        let on_message = |message: &str| {
            let (job, batch) = match message.split_once(' ') {
                Some((job, batch)) => (job, Some(batch)),
                None => (message, None),
            };
            match job.parse() {
                Ok(id) => on_finished(id, batch),
                Err(_) => tracing::warn!(message, "ignoring a finished event that is not a job id"),
            }
        };
        self.subscribe(FINISHED_TOPIC, on_message, on_state, stop)
            .await;
    }

    /// Hands every cancel request published by [`Queue::publish_cancel`] to `on_cancel`
    /// until `stop`; `on_state` as for [`Queue::subscribe`].
    pub async fn subscribe_cancels(
        &self,
        on_cancel: impl Fn(JobId) + Send + Sync,
        on_state: impl Fn(bool) + Send + Sync,
        stop: tokio_util::sync::CancellationToken,
    ) {
        let on_message = |message: &str| match message.parse() {
            Ok(id) => on_cancel(id),
            Err(_) => tracing::warn!(message, "ignoring a cancel request that is not a job id"),
        };
        self.subscribe(CANCEL_TOPIC, on_message, on_state, stop)
            .await;
    }

    /// Tells readers of the event log (`GET /v1/events`) that events up to `seq` can be read.
    /// Only a wake-up: readers query the log, and re-read every few seconds anyway.
    pub async fn publish_events(&self, seq: i64) -> Result<(), QueueError> {
        self.publish(EVENTS_TOPIC, &seq.to_string()).await
    }

    /// Hands every [`Queue::publish_events`] to `on_seq` until `stop`; `on_state` as for
    /// [`Queue::subscribe`].
    pub async fn subscribe_events(
        &self,
        on_seq: impl Fn(i64) + Send + Sync,
        on_state: impl Fn(bool) + Send + Sync,
        stop: tokio_util::sync::CancellationToken,
    ) {
        let on_message = |message: &str| {
            if let Ok(seq) = message.parse() {
                on_seq(seq);
            }
        };
        self.subscribe(EVENTS_TOPIC, on_message, on_state, stop)
            .await;
    }
}

/// The topic of numbered events (see `publish_events`).
const EVENTS_TOPIC: &str = "events";
