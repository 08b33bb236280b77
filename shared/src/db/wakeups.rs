//! Wake-ups from the database itself, so the scheduler's loops sleep while nothing happens
//! instead of polling. On PostgreSQL, triggers `NOTIFY` a channel when rows a loop waits for
//! are committed (migration 0020): `event_outbox` rows for the event pump, `scheduled` jobs for
//! the promoter. A notification is only a wake-up: the loop reads the table, and a timeout
//! still runs it now and then (a listening connection that broke misses notifications until
//! it is back). On SQLite (one process) there is no listener: waits only time out.

use std::time::Duration;

use super::pool::{DatabaseBackend, Db};

/// The channel `event_outbox` inserts notify.
pub const OUTBOX_CHANNEL: &str = "quire_outbox";
/// The channel inserts of `scheduled` jobs notify.
pub const SCHEDULED_CHANNEL: &str = "quire_scheduled";

/// A listening connection (or, on SQLite, none).
pub struct Wakeups {
    listener: Option<sqlx::postgres::PgListener>,
}

impl Db {
    /// Listens on `channels` (PostgreSQL); `None` on SQLite or when listening cannot start
    /// (the database is away: poll).
    pub async fn wakeups(&self, channels: &[&'static str]) -> Option<Wakeups> {
        if self.backend() != DatabaseBackend::Postgres {
            return None;
        }
        let url = self.url()?;
        let listening = async {
            let mut listener = sqlx::postgres::PgListener::connect(url.expose()).await?;
            listener.listen_all(channels.iter().copied()).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        match tokio::time::timeout(Duration::from_secs(3), listening).await {
            Ok(Ok(listener)) => Some(Wakeups {
                listener: Some(listener),
            }),
            Ok(Err(e)) => {
                tracing::warn!(error = %super::DbError::from(e).redacted(), "cannot listen for database wake-ups; polling");
                None
            }
            Err(_) => {
                tracing::warn!("listening for database wake-ups timed out; polling");
                None
            }
        }
    }
}

impl Wakeups {
    /// The channel of the next notification. `None` when the connection broke: it is made
    /// again at the next call, and notifications sent meanwhile are lost (the loops' own
    /// timeouts cover them).
    pub async fn recv(&mut self) -> Option<String> {
        let listener = self.listener.as_mut()?;
        match listener.try_recv().await {
            Ok(Some(n)) => Some(n.channel().to_owned()),
            Ok(None) => None,
            Err(e) => {
                tracing::debug!(error = %super::DbError::from(e).redacted(), "database wake-ups interrupted");
                tokio::time::sleep(Duration::from_secs(1)).await;
                None
            }
        }
    }
}
