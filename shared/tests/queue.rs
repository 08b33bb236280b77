//! `shared::queue::Queue` against real backends: Redis at `QUIRE_TEST_REDIS_URL` (default
//! `redis://127.0.0.1:6379`; these tests fail, never skip, when it is not reachable) and SQLite
//! in temporary directories. Consumption is tested in `worker/tests/integration/consumer.rs`.

use std::path::PathBuf;
use std::time::Duration;

use shared::domain::{JobId, QueueName};
use shared::queue::{Queue, QueueError};

fn redis_url() -> String {
    std::env::var("QUIRE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

fn temp_dir() -> PathBuf {
    std::env::temp_dir().join(format!("quire-queue-test-{:016x}", rand::random::<u64>()))
}

#[tokio::test]
async fn redis_queue_checks_and_pushes() {
    let namespace = format!("quire-test-{:016x}", rand::random::<u64>());
    let queue = Queue::redis(&redis_url(), &namespace)
        .await
        .unwrap_or_else(|e| panic!("Redis must be reachable at {}: {e}", redis_url()));
    assert_eq!(queue.backend_name(), "redis");
    queue.check().await.unwrap();
    queue
        .push(QueueName::Emails, JobId::new(), None)
        .await
        .unwrap();
    queue
        .push(
            QueueName::Emails,
            JobId::new(),
            Some(Duration::from_secs(30)),
        )
        .await
        .unwrap();
    let ids: Vec<JobId> = (0..1200).map(|_| JobId::new()).collect();
    queue.push_many(QueueName::Emails, &ids).await.unwrap();
    queue.push_many(QueueName::Emails, &[]).await.unwrap();

    // apalis puts every push in its scheduled set; the due ones are moved to the active list
    // right away (see the module docs), so only the delayed one waits there.
    let mut conn = redis::Client::open(redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let scheduled: usize = redis::cmd("ZCARD")
        .arg(format!("{namespace}:emails:scheduled"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(scheduled, 1);
    let active: usize = redis::cmd("LLEN")
        .arg(format!("{namespace}:emails:active"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(active, 1201);
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{namespace}:*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    let _: i64 = redis::cmd("DEL")
        .arg(&keys)
        .query_async(&mut conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn unreachable_redis_is_unavailable_and_hides_the_password() {
    let err = Queue::redis("redis://:sup3r-s3cret@127.0.0.1:1/0", "quire")
        .await
        .expect_err("nothing listens on port 1");
    let text = err.to_string();
    assert!(matches!(err, QueueError::Unavailable(_)), "{err:?}");
    assert!(!text.contains("sup3r-s3cret"), "password leaked: {text}");
    assert!(!format!("{err:?}").contains("sup3r-s3cret"));
}

#[tokio::test]
async fn bad_namespace_or_url_is_refused() {
    assert!(matches!(
        Queue::redis(&redis_url(), "has space").await,
        Err(QueueError::Other(_))
    ));
    let err = Queue::redis("http://:pw-123@host", "quire")
        .await
        .unwrap_err();
    assert!(!err.to_string().contains("pw-123"), "{err}");
}

#[tokio::test]
async fn sqlite_queue_checks_pushes_and_reopens() {
    let dir = temp_dir();
    let path = dir.join("nested").join("queue.db");
    let queue = Queue::sqlite(&path).await.unwrap();
    assert_eq!(queue.backend_name(), "sqlite");
    queue.check().await.unwrap();
    queue
        .push(QueueName::Reports, JobId::new(), None)
        .await
        .unwrap();
    let ids: Vec<JobId> = (0..50).map(|_| JobId::new()).collect();
    queue.push_many(QueueName::Reports, &ids).await.unwrap();
    assert_eq!(queue.purge_completed(QueueName::Reports).await.unwrap(), 0);
    drop(queue);
    // Opening again finds its own migrations and accepts the file.
    let again = Queue::sqlite(&path).await.unwrap();
    again.check().await.unwrap();
    drop(again);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn sqlite_queue_refuses_the_application_database() {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
    let dir = temp_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("app.db");
    let pool = SqlitePoolOptions::new()
        .connect_with(
            SqliteConnectOptions::new()
                .filename(&path)
                .create_if_missing(true),
        )
        .await
        .unwrap();
    sqlx::query("CREATE TABLE jobs (id TEXT PRIMARY KEY, status TEXT NOT NULL)")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    let err = Queue::sqlite(&path)
        .await
        .expect_err("app.db must be refused");
    assert!(matches!(err, QueueError::Other(_)), "{err:?}");
    assert!(err.to_string().contains("queue.db"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}
