//! The event pump: a loop of the scheduler's own that makes the event log readable. Each
//! round (`Db::pump_events`, one transaction) numbers committed events, records completed
//! batches and creates the webhook deliveries the events call for; then the deliveries are
//! pushed and readers of `GET /v1/events` are woken. On PostgreSQL it sleeps until the
//! outbox notifies it (`Db::wakeups`: every committed event does), looking on its own only
//! every [`LISTENING_FALLBACK`]; elsewhere a job's end wakes it (the `finished` topic) and it
//! looks every `webhooks.pump_interval_ms`. Any number of
//! schedulers may run it: rounds take turns on an advisory lock (PostgreSQL) or the single
//! writer (SQLite), so each event is numbered and dispatched once.

use std::sync::Arc;
use std::time::Duration;

use shared::config::Config;
use shared::db::{Db, PumpSettings};
use shared::domain::QueueName;
use shared::queue::Queue;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Most events numbered per round; a full round is followed by another at once.
const BATCH: u32 = 500;

/// How often the pump looks without a wake-up while it listens for them (a listening
/// connection that broke misses notifications until it is back).
pub const LISTENING_FALLBACK: Duration = Duration::from_secs(5);

/// The shortest time between two rounds' starts: wake-ups that arrive meanwhile are served by
/// one round (under load every commit of a job notifies; a round per commit would cost more
/// statements than the events it moves). Events wait at most this long for it.
const ROUND_GAP: Duration = Duration::from_millis(20);

pub struct EventPump {
    db: Db,
    queue: Queue,
    settings: PumpSettings,
    interval: Duration,
}

impl EventPump {
    pub fn new(config: &Config, db: Db, queue: Queue) -> EventPump {
        EventPump {
            db,
            queue,
            settings: PumpSettings {
                public_base_url: config.public_base_url(),
                max_attempts: config.queues.webhooks.max_attempts,
                limit: BATCH,
            },
            interval: Duration::from_millis(config.webhooks.pump_interval_ms),
        }
    }

    /// Pumps until shutdown. A failed round is logged and tried again; nothing is lost, as
    /// the events wait in the table.
    pub async fn run(self, wake_up: crate::wakeups::Wake, shutdown: CancellationToken) {
        let wake = Arc::new(Notify::new());
        let listener = {
            let (queue, wake, stop) = (self.queue.clone(), wake.clone(), shutdown.clone());
            tokio::spawn(async move {
                queue
                    .subscribe_finished(move |_, _| wake.notify_one(), |_| {}, stop)
                    .await;
            })
        };
        let idle = if wake_up.listening {
            LISTENING_FALLBACK
        } else {
            self.interval
        };
        loop {
            let started = tokio::time::Instant::now();
            let numbered = match self.round().await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "event pump round failed; retrying");
                    0
                }
            };
            if numbered as u32 == BATCH {
                continue;
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = wake.notified() => {}
                // A notification stored during the round wakes the next one at once.
                () = wake_up.outbox.notified() => {}
                () = tokio::time::sleep(idle) => {}
            }
            tokio::time::sleep_until(started + ROUND_GAP).await;
        }
        listener.abort();
    }

    /// One round: events numbered, deliveries pushed, readers woken; how many were numbered.
    pub async fn round(&self) -> Result<usize, anyhow::Error> {
        let pumped = self.db.pump_events(&self.settings).await?;
        if !pumped.deliveries.is_empty() {
            shared::metrics::jobs_submitted(
                shared::domain::JobKind::Webhook,
                pumped.deliveries.len() as u64,
            );
            if let Err(e) = self
                .queue
                .push_many(QueueName::Webhooks, &pumped.deliveries)
                .await
            {
                tracing::warn!(deliveries = pumped.deliveries.len(), error = %e, "deliveries not pushed; the rescuer will");
            }
        }
        if pumped.numbered > 0
            && let Err(e) = self.queue.publish_events(pumped.high_seq).await
        {
            tracing::debug!(error = %e, "events wake-up not published; readers re-read soon");
        }
        Ok(pumped.numbered)
    }
}
