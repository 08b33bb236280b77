use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use quire::{App, Roles};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use shared::config::{Config, Secret};
use shared::db::Db;
use sqlx::Connection;
use tempfile::TempDir;
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite database and queue in a temporary data directory.
    Embedded,
    /// A fresh PostgreSQL database and a random Redis namespace.
    Production,
}

pub fn test_database_url() -> String {
    std::env::var("QUIRE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

pub fn test_redis_url() -> String {
    std::env::var("QUIRE_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Creates an empty PostgreSQL database for one test; fails loudly when PostgreSQL is absent.
pub async fn fresh_postgres() -> String {
    let admin = test_database_url();
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap_or_else(|e| {
        panic!("PostgreSQL must be running for the production tests (QUIRE_TEST_DATABASE_URL={admin}): {e}")
    });
    // Its creation time in the name: the test command drops those left over by earlier runs
    // (deploy/test-services.sh), so a machine that runs the tests every day keeps its disk.
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let name = format!("quire_t_{secs}_{}", uuid::Uuid::new_v4().simple());
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
    format!("{base}/{name}")
}

pub fn base_config(dir: &TempDir) -> Config {
    let mut config = Config {
        data_dir: dir.path().to_path_buf(),
        bind: "127.0.0.1:0".parse().unwrap(),
        database_max_connections: 8,
        ..Config::default()
    };
    // Rescue often: tests of lost messages wait seconds, not tens.
    config.rescue.interval_ms = 250;
    config.rescue.stale_after_secs = 2;
    config.retry.base_ms = 50;
    config.retry.max_secs = 1;
    // Tests poll as fast as they like; the limits' own tests (limits.rs) turn them on.
    config.rate_limit.per_key = 0;
    config.rate_limit.public_per_address = 0;
    // Template checks and previews render in a child process: this build's quire binary.
    config.sandbox.program = Some(env!("CARGO_BIN_EXE_quire").into());
    config
}

pub async fn production_config(dir: &TempDir) -> Config {
    let mut config = base_config(dir);
    config.database_url = Some(Secret::new(fresh_postgres().await));
    config.redis_url = Some(Secret::new(test_redis_url()));
    config.redis_namespace = format!("t{}", uuid::Uuid::new_v4().simple());
    config.secrets.kek = Some(Secret::new(TEST_KEK.into()));
    config
}

/// The key-encryption key of the production tests (PostgreSQL wants one): 32 bytes, base64.
pub const TEST_KEK: &str = "cXVpcmUtdGVzdC1rZXktZW5jcnlwdGlvbi1rZXkhISE=";

pub struct TestApp {
    pub base: String,
    /// The admin key created on first start.
    pub admin: String,
    pub client: reqwest::Client,
    pub db: Db,
    pub config: Config,
    pub apps: Vec<App>,
    pub dir: TempDir,
}

impl TestApp {
    /// API + worker + scheduler in one process.
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, &[Roles::ALL], |_| {}).await
    }

    /// Starts one app per entry of `roles` (the first applies migrations and creates the
    /// admin key), all sharing one database, queue and data directory.
    pub async fn spawn_with(
        backend: Backend,
        roles: &[Roles],
        tweak: impl FnOnce(&mut Config),
    ) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let mut config = match backend {
            Backend::Embedded => base_config(&dir),
            Backend::Production => production_config(&dir).await,
        };
        tweak(&mut config);
        Self::spawn_config(config, dir, roles).await
    }

    pub async fn spawn_config(config: Config, dir: TempDir, roles: &[Roles]) -> TestApp {
        // Silent unless asked: TEST_LOG=1 (with RUST_LOG for the level) shows the app's logs.
        if std::env::var_os("TEST_LOG").is_some() {
            let _ = shared::telemetry::init(shared::config::LogFormat::Text, None);
        }
        let mut apps = Vec::new();
        let mut admin = None;
        let mut base = None;
        for (i, roles) in roles.iter().enumerate() {
            let app = App::start(config.clone(), *roles, i == 0)
                .await
                .expect("app starts");
            if let Some(key) = &app.first_admin_key {
                admin = Some(key.expose().clone());
            }
            if let Some(addr) = app.addr {
                base.get_or_insert(format!("http://{addr}"));
            }
            apps.push(app);
        }
        let db = apps[0].db.clone();
        let app = TestApp {
            base: base.expect("one app runs the API"),
            admin: admin.expect("admin key created"),
            client: reqwest::Client::new(),
            db,
            config,
            apps,
            dir,
        };
        app.wait_until_ready().await;
        app
    }

    /// Waits for `/ready` (a process with a worker is ready once its consumers run), as a
    /// deployment's readiness probe would before sending traffic.
    pub async fn wait_until_ready(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let response = self.client.get(self.url("/ready")).send().await.unwrap();
            if response.status() == StatusCode::OK {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "never ready: {}",
                response.text().await.unwrap()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Starts one more app (e.g. a worker) on the same configuration.
    pub async fn add(&mut self, roles: Roles) {
        let app = App::start(self.config.clone(), roles, false)
            .await
            .expect("app starts");
        self.apps.push(app);
    }

    /// Inserts a certificate job row for `key`'s owner directly, without pushing its id: a
    /// job whose queue message was lost, or one whose payload the API would not accept.
    /// The owner id of `key`, learnt through a normal submission.
    pub async fn owner_of(&self, key: &str) -> String {
        let first = self.submit_ok(key, &certificate("Owner Probe")).await;
        self.db
            .get_job(first.parse().unwrap(), None)
            .await
            .unwrap()
            .unwrap()
            .owner_id
    }

    /// Inserts and pushes a `probe` job owned by `key` (the API cannot submit one); its id.
    pub async fn insert_probe(
        &self,
        key: &str,
        probe: shared::jobs::Probe,
        max_attempts: u32,
    ) -> String {
        let owner = self.owner_of(key).await;
        let job = shared::db::NewJob::probe(&owner, probe, max_attempts);
        self.db.insert_job(&job).await.unwrap();
        self.queue_push(job.id).await;
        job.id.to_string()
    }

    pub async fn insert_certificate_row(
        &self,
        key: &str,
        template: &str,
        run_at: shared::domain::Timestamp,
    ) -> shared::domain::JobId {
        let owner = self.owner_of(key).await;
        let id = shared::domain::JobId::new();
        let payload = json!({
            "template": template, "recipient_name": "Direct Row", "course_name": "Recovery",
            "issued_on": "2026-11-21", "issuer_name": null, "verification_code": "AAAA-BBBB-CCCC",
        });
        let job = shared::db::NewJob {
            id,
            kind: shared::domain::JobKind::Certificate,
            owner_id: owner,
            max_attempts: 5,
            run_at,
            payload,
            idempotency_key: None,
            request_hash: None,
            idempotency_window: None,
            batch_id: None,
            trace_parent: None,
            priority: shared::domain::Priority::Normal,
            weight: 1,
            callback_url: None,
        };
        self.db.insert_job(&job).await.unwrap();
        id
    }

    /// Pushes a job id inserted directly into the database.
    pub async fn queue_push(&self, id: shared::domain::JobId) {
        let row = self
            .db
            .get_job(id, None)
            .await
            .unwrap()
            .expect("row exists");
        self.apps[0]
            .queue
            .push(row.queue, id, None)
            .await
            .expect("push");
    }

    pub async fn stop(self) {
        for app in self.apps {
            app.stop().await.expect("clean stop");
        }
    }

    pub async fn new_key(&self, name: &str) -> String {
        self.db
            .create_key(name, false)
            .await
            .unwrap()
            .secret
            .expose()
            .clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn submit(&self, key: &str, body: &Value) -> Response {
        self.client
            .post(self.url("/v1/certificates"))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// A rescuer on the test's database and queue, for single passes.
    pub fn rescuer(&self) -> scheduler::rescuer::Rescuer {
        scheduler::rescuer::Rescuer::new(
            Arc::new(self.config.clone()),
            self.db.clone(),
            self.apps[0].queue.clone(),
        )
    }

    /// What a worker's handlers get, on this app's database, queue and data directory: for
    /// tests that run a handler or the executor themselves.
    pub fn job_context(&self) -> worker::jobs::JobContext {
        worker::jobs::JobContext::new(
            Arc::new(self.config.clone()),
            self.db.clone(),
            self.apps[0].queue.clone(),
            Arc::new(worker::render::Engine::new().unwrap()),
            self.apps[0].storage.clone(),
        )
        .unwrap()
    }

    /// POSTs JSON to any path with a key.
    pub async fn post(&self, key: &str, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// POSTs JSON to a submission path and expects 202; returns the job id.
    pub async fn post_ok(&self, key: &str, path: &str, body: &Value) -> String {
        let response = self.post(key, path, body).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }

    /// Submits and expects 202; returns the job id.
    pub async fn submit_ok(&self, key: &str, body: &Value) -> String {
        let response = self.submit(key, body).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }

    pub async fn get(&self, key: &str, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
    }

    /// GET any URL (this app's or another's), with a key or none, as JSON.
    pub async fn json_at(&self, key: Option<&str>, url: impl reqwest::IntoUrl) -> Value {
        let mut request = self.client.get(url);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        request.send().await.unwrap().json().await.unwrap()
    }

    pub async fn job(&self, key: &str, id: &str) -> Value {
        let response = self.get(key, &format!("/v1/jobs/{id}")).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    /// Polls the job until its status is one of `statuses` (or 60 s pass).
    pub async fn wait_for(&self, key: &str, id: &str, statuses: &[&str]) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let job = self.job(key, id).await;
            if statuses.contains(&job["status"].as_str().unwrap()) {
                return job;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "job never reached {statuses:?}: {job}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Number of job rows the owner has (admin sees all).
    pub async fn count_jobs(&self, key: &str) -> usize {
        let page: Value = self
            .get(key, "/v1/jobs?limit=200")
            .await
            .json()
            .await
            .unwrap();
        page["jobs"].as_array().unwrap().len()
    }
}

/// This build's `quire` binary with no quire setting from the test's environment: only what
/// the test sets.
pub fn quire_binary() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_quire"));
    for (name, _) in std::env::vars() {
        if name.starts_with("QUIRE_") || name == "DATABASE_URL" || name == "REDIS_URL" {
            cmd.env_remove(name);
        }
    }
    cmd
}

pub fn certificate(name: &str) -> Value {
    json!({"recipient_name": name, "course_name": "Advanced Typesetting", "issuer_name": "Quire Academy", "issued_on": "2026-11-21"})
}

/// A small real JPEG photo.
pub fn jpeg_photo() -> Vec<u8> {
    let img = image::RgbImage::from_fn(120, 160, |x, y| {
        image::Rgb([(x * 2) as u8, (y + 40) as u8, 150])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut out, image::ImageFormat::Jpeg)
        .unwrap();
    out.into_inner()
}

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// HTML text with the entities minijinja's escaping writes turned back into characters.
pub fn html_unescape(html: &str) -> String {
    html.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

pub fn pdf_text(pdf: &[u8]) -> String {
    pdf_extract::extract_text_from_mem(pdf).expect("the PDF parses and has text")
}

pub async fn error_of(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let body: Value = response.json().await.expect("error bodies are JSON");
    assert_eq!(
        body["error"]["status"].as_u64(),
        Some(status.as_u16() as u64),
        "{body}"
    );
    assert!(
        body["error"]["code"].is_string() && body["error"]["message"].is_string(),
        "{body}"
    );
    (status, body["error"].clone())
}

/// A TCP forwarder to a real service that a test can cut, to simulate the service going down
/// (every connection dropped, new ones refused) and coming back.
pub struct Proxy {
    pub addr: SocketAddr,
    down: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Proxy {
    pub async fn start(target: &str) -> Proxy {
        let target = target.to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let down = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let (d, c) = (down.clone(), conns.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if d.load(Ordering::SeqCst) {
                    continue; // dropped: the client sees the connection closed
                }
                let target = target.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                c.lock().unwrap().push(task.abort_handle());
            }
        });
        Proxy { addr, down, conns }
    }

    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
        if down {
            for conn in self.conns.lock().unwrap().drain(..) {
                conn.abort();
            }
        }
    }
}

/// `host:port` of a service URL such as `redis://127.0.0.1:6379` or `postgres://u@h:5432/db`.
/// A TCP port nothing listens on (for a process to bind, or a server that is not there).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn host_port(url: &str) -> String {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let rest = rest.rsplit_once('@').map(|(_, r)| r).unwrap_or(rest);
    rest.split(['/', '?']).next().unwrap().to_owned()
}
