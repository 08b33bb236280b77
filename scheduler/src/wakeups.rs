//! The database's wake-ups for this scheduler's loops: one listening connection for both
//! channels (each listening connection pays for every notification sent, whatever its
//! channel), relayed to the loop each is for. Without a listener (SQLite, or a database that
//! was away at start) `listening` is false and the loops poll as before.

use std::sync::Arc;

use shared::db::{Db, OUTBOX_CHANNEL, SCHEDULED_CHANNEL};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// What wakes the event pump and the promoter.
#[derive(Clone, Default)]
pub struct Wake {
    /// Whether the database notifies (else the loops poll).
    pub listening: bool,
    /// Events were committed to the outbox.
    pub outbox: Arc<Notify>,
    /// A job was scheduled.
    pub scheduled: Arc<Notify>,
}

impl Wake {
    /// Starts listening, relaying until `shutdown`.
    pub async fn start(db: &Db, shutdown: CancellationToken) -> Wake {
        let Some(mut wakeups) = db.wakeups(&[OUTBOX_CHANNEL, SCHEDULED_CHANNEL]).await else {
            return Wake::default();
        };
        let wake = Wake {
            listening: true,
            ..Wake::default()
        };
        let relay = wake.clone();
        tokio::spawn(async move {
            loop {
                let channel = tokio::select! {
                    () = shutdown.cancelled() => return,
                    channel = wakeups.recv() => channel,
                };
                match channel.as_deref() {
                    Some(OUTBOX_CHANNEL) => relay.outbox.notify_one(),
                    Some(SCHEDULED_CHANNEL) => relay.scheduled.notify_one(),
                    // Reconnected: whatever was sent meanwhile is unknown, so look.
                    _ => {
                        relay.outbox.notify_one();
                        relay.scheduled.notify_one();
                    }
                }
            }
        });
        wake
    }
}
