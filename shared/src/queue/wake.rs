//! Wake-ups: a push signals this process's consumers of its queue at once, and other
//! processes' consumers through Redis pub/sub (`listen_for_pushes`); the apalis poll strategy
//! and connection wrapper that make a wake-up never get lost in a fetch already in flight.

use super::*;

impl Queue {
    /// Forwards push notifications from other processes to this process's consumers of
    /// `queues`. Runs until dropped (consumers spawn it and abort it on shutdown); reconnects
    /// on its own. On SQLite there is nothing to listen to and it just waits.
    pub async fn listen_for_pushes(&self, queues: Vec<QueueName>) {
        let Backend::Redis(r) = &self.inner.backend else {
            return std::future::pending().await;
        };
        let channels: HashMap<String, QueueName> =
            queues.iter().map(|q| (r.wake_channel(*q), *q)).collect();
        let mut failures = 0u32;
        loop {
            match self.relay_wakeups(r, &channels).await {
                Ok(()) => failures = 0,
                Err(e) => {
                    failures += 1;
                    if failures <= 3 || failures.is_power_of_two() {
                        tracing::warn!(error = %e, "queue wake-up subscription failed; retrying");
                    }
                }
            }
            // Whatever was pushed while we were not subscribed is found by the next fetch.
            for q in &queues {
                self.inner.signals.notify(*q);
            }
            tokio::time::sleep(Duration::from_millis(
                500 * u64::from(failures.clamp(1, 10)),
            ))
            .await;
        }
    }

    /// One wake-up subscription's life; returns when the connection is lost.
    pub(super) async fn relay_wakeups(
        &self,
        r: &RedisBackend,
        channels: &HashMap<String, QueueName>,
    ) -> Result<(), QueueError> {
        let subscribed = || {
            tracing::debug!(channels = channels.len(), "subscribed to queue wake-ups");
            // Pushes made before the subscription was in place.
            for q in channels.values() {
                self.inner.signals.notify(*q);
            }
        };
        let deliver = |msg: &redis::Msg| {
            if let Some(q) = channels.get(msg.get_channel_name()) {
                self.inner.signals.notify(*q);
            }
        };
        let names: Vec<&String> = channels.keys().collect();
        r.relay(
            "queue wake-ups",
            &names,
            Duration::from_secs(15),
            subscribed,
            deliver,
        )
        .await
    }
}

/// A consumer's wake-up flag. `notify` counts a push (`generation`) and raises `pending`;
/// the poll strategy lowers `pending` when it lets the worker fetch.
#[derive(Default)]
pub(super) struct Signal {
    pub(super) pending: AtomicBool,
    pub(super) generation: AtomicU64,
    pub(super) waker: AtomicWaker,
}

impl Signal {
    pub(super) fn notify(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.redeliver();
    }

    pub(super) fn redeliver(&self) {
        self.pending.store(true, Ordering::SeqCst);
        self.waker.wake();
    }

    pub(super) fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }
}

/// The wake-up flags of this process's consumers, per queue.
#[derive(Default)]
pub(super) struct Signals {
    pub(super) by_queue: Mutex<HashMap<QueueName, Vec<Weak<Signal>>>>,
}

impl Signals {
    pub(super) fn subscribe(&self, queue: QueueName) -> Arc<Signal> {
        let signal = Arc::new(Signal::default());
        let mut map = self.by_queue.lock().unwrap_or_else(|e| e.into_inner());
        let list = map.entry(queue).or_default();
        list.retain(|s| s.strong_count() > 0);
        list.push(Arc::downgrade(&signal));
        signal
    }

    pub(super) fn notify(&self, queue: QueueName) {
        let live: Vec<Arc<Signal>> = {
            let map = self.by_queue.lock().unwrap_or_else(|e| e.into_inner());
            map.get(&queue)
                .map(|l| l.iter().filter_map(Weak::upgrade).collect())
                .unwrap_or_default()
        };
        for signal in live {
            signal.notify();
        }
    }
}

/// apalis poll strategy: let the worker fetch when a push was signalled, or every
/// `idle_poll` otherwise (delayed tasks, notifications lost while disconnected, pushes by
/// processes that cannot signal us).
pub struct WakeStrategy {
    pub(super) signal: Arc<Signal>,
    pub(super) idle_poll: Duration,
    pub(super) tick: Pin<Box<tokio::time::Sleep>>,
}

impl WakeStrategy {
    pub(super) fn new(signal: Arc<Signal>, idle_poll: Duration) -> Self {
        Self {
            signal,
            idle_poll,
            tick: Box::pin(tokio::time::sleep(idle_poll)),
        }
    }

    pub(super) fn rearm(&mut self) {
        let next = tokio::time::Instant::now() + self.idle_poll;
        self.tick.as_mut().reset(next);
    }
}

impl PollStrategy for WakeStrategy {
    fn poll_drive(&mut self, cx: &mut Context<'_>, _: &PollSnapshot) -> Poll<Option<()>> {
        self.signal.waker.register(cx.waker());
        if self.signal.pending.swap(false, Ordering::SeqCst) {
            self.rearm();
            return Poll::Ready(Some(()));
        }
        if self.tick.as_mut().poll(cx).is_ready() {
            self.rearm();
            return Poll::Ready(Some(()));
        }
        Poll::Pending
    }
}

/// The Redis connection of one consumer. apalis's `PollWith` lets the strategy's wake-up go
/// to whatever state the backend is in: a wake-up that arrives while a fetch is in flight is
/// consumed, the fetch (sent before the push) comes back empty and the task would wait for
/// the idle poll. So any command that overlaps a wake-up re-raises it when it completes,
/// which makes the worker fetch once more.
#[derive(Clone)]
pub struct SignalConn {
    pub(super) inner: RedisConn,
    pub(super) signal: Arc<Signal>,
}

impl ConnectionLike for SignalConn {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a redis::Cmd,
    ) -> redis::RedisFuture<'a, redis::Value> {
        let signal = self.signal.clone();
        let before = signal.generation();
        let request = self.inner.req_packed_command(cmd);
        Box::pin(async move {
            let reply = request.await;
            if signal.generation() != before {
                signal.redeliver();
            }
            reply
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        let signal = self.signal.clone();
        let before = signal.generation();
        let request = self.inner.req_packed_commands(pipeline, offset, count);
        Box::pin(async move {
            let reply = request.await;
            if signal.generation() != before {
                signal.redeliver();
            }
            reply
        })
    }

    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }
}
