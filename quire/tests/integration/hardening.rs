//! Security round 3: what a target URL shows in logs and errors, where webhooks may go, what
//! the dashboard's delete keeps, per-address limits for IPv6, who may read `/metrics`, secrets
//! at rest, and bounded DNS lookups.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;
use crate::processes::{migrate_and_admin_key, quire, settings, spawn, wait_ready};

const WAIT: Duration = Duration::from_secs(60);

/// A webhook target's path and query may hold the receiver's secret: the delivery log, the
/// delivery job's error and the worker's WARN lines show only its scheme, host and port,
/// while its owner still reads the whole URL.
#[tokio::test]
async fn a_target_url_shows_only_scheme_host_and_port_in_logs_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let api = free_port();
    let base = format!("http://127.0.0.1:{api}");
    let env = settings(&[
        ("QUIRE_DATA_DIR", dir.path().to_str().unwrap()),
        ("QUIRE_BIND", &format!("127.0.0.1:{api}")),
        ("QUIRE_WEBHOOKS__ALLOW_HTTP", "true"),
        ("QUIRE_WEBHOOKS__ALLOW_NETWORKS", "127.0.0.0/8"),
        ("QUIRE_WEBHOOKS__PUMP_INTERVAL_MS", "50"),
        ("QUIRE_QUEUES__WEBHOOKS__MAX_ATTEMPTS", "2"),
        ("QUIRE_WEBHOOKS__RETRY__BASE_MS", "50"),
        ("QUIRE_WEBHOOKS__RETRY__MAX_SECS", "1"),
        ("RUST_LOG", "warn"),
    ]);
    let key = migrate_and_admin_key(&env);
    let log = dir.path().join("quire.log");
    let _quire = spawn(quire(&env, &["run"]), &log);
    wait_ready(&format!("{base}/ready"), "quire", &log).await;

    // A loopback port nothing listens on.
    let port = free_port();
    let target = format!("http://127.0.0.1:{port}/hooks/s3cretpath?token=s3cretquery");
    let client = reqwest::Client::new();
    let created: Value = client
        .post(format!("{base}/v1/webhooks"))
        .bearer_auth(&key)
        .json(&json!({ "url": target, "events": ["job.succeeded"] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let hook = created["id"].as_str().unwrap().to_owned();
    let submitted = client
        .post(format!("{base}/v1/certificates"))
        .bearer_auth(&key)
        .json(&certificate("Quiet Receiver"))
        .send()
        .await
        .unwrap();
    assert_eq!(submitted.status(), StatusCode::ACCEPTED);

    // Both attempts fail to connect; the delivery dies.
    let deadline = tokio::time::Instant::now() + WAIT;
    let delivery = loop {
        let page: Value = client
            .get(format!("{base}/v1/webhooks/{hook}/deliveries"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if let Some(d) = page["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["status"] == "dead")
        {
            break d.clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "{page}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let shown = format!("http://127.0.0.1:{port}");
    let error = delivery["error"].as_str().unwrap();
    assert!(
        error.contains(&shown) && !error.contains("s3cret"),
        "delivery log: {error}"
    );
    // The owner's own view of the endpoint and delivery keeps the URL whole.
    assert_eq!(delivery["url"], target.as_str());
    let job: Value = client
        .get(format!(
            "{base}/v1/jobs/{}",
            delivery["id"].as_str().unwrap()
        ))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let message = job["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&shown) && !message.contains("s3cret"),
        "job error: {job}"
    );
    let lines = std::fs::read_to_string(&log).unwrap();
    assert!(
        lines.contains("attempt failed; will retry") && lines.contains(&shown),
        "the WARN line of the failed attempt: {lines}"
    );
    assert!(!lines.contains("s3cret"), "{lines}");
}

/// A key and its id.
async fn key_with_id(app: &TestApp, name: &str) -> (String, String) {
    let created = app.db.create_key(name, false).await.unwrap();
    (created.secret.expose().clone(), created.key.id)
}

/// Where a webhook may point: globally reachable addresses only (the IPv6 forms of internal
/// IPv4 addresses and the special-purpose blocks the deny-list let through are refused), on
/// an allowed port; and a key given networks of its own reaches them, another key does not.
#[tokio::test]
async fn webhook_targets_are_public_addresses_on_allowed_ports_or_a_key_s_own_networks() {
    use quire::Roles;
    let rx = crate::receiver::Receiver::start().await;
    let port: u16 = host_port(&rx.url)
        .rsplit_once(':')
        .unwrap()
        .1
        .parse()
        .unwrap();
    let app = TestApp::spawn_with(Backend::Embedded, &[Roles::ALL], move |c| {
        c.webhooks.allow_http = true;
        c.webhooks.allowed_ports = format!("443, {port}");
        c.webhooks.pump_interval_ms = 50;
    })
    .await;
    let (plain, _) = key_with_id(&app, "plain").await;
    let (trusted, trusted_id) = key_with_id(&app, "trusted").await;
    let loopback = shared::webhooks::Networks::parse("127.0.0.0/8").unwrap();
    assert!(
        app.db
            .set_key_allow_networks(&trusted_id, &loopback)
            .await
            .unwrap()
    );
    let create = |key: String, url: String| {
        let app = &app;
        async move {
            app.post(
                &key,
                "/v1/webhooks",
                &json!({ "url": url, "events": ["job.succeeded"] }),
            )
            .await
        }
    };
    for url in [
        "https://[::7f00:1]/hook",                // IPv4-compatible loopback
        "https://[::a9fe:a9fe]/latest/meta-data", // IPv4-compatible metadata
        "https://[64:ff9b:1::a9fe:a9fe]/",        // local-use NAT64
        "https://[2002:a9fe:a9fe::1]/",           // 6to4 of the metadata address
        "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", // Teredo of 127.0.0.1
        "https://[fec0::1]/hook",                 // site-local
        "https://192.0.0.170/hook",               // IETF protocol assignments
    ] {
        for key in [&plain, &trusted] {
            let (status, body) = error_of(create(key.clone(), url.to_owned()).await).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {body}");
            assert_eq!(body["code"], "forbidden_target", "{url}: {body}");
        }
    }
    let (status, body) =
        error_of(create(plain.clone(), "https://example.com:22/hook".into()).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "invalid_url", "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("webhooks.allowed_ports"),
        "{body}"
    );

    // Loopback: not for the plain key (webhook or callback), yes for the trusted one.
    let (status, body) = error_of(create(plain.clone(), rx.url.clone()).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "forbidden_target", "{body}");
    let mut with_callback = certificate("Called Back");
    with_callback["callback_url"] = json!(rx.url);
    let (status, body) = error_of(app.submit(&plain, &with_callback).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        create(trusted.clone(), rx.url.clone()).await.status(),
        StatusCode::CREATED
    );
    let id = app.submit_ok(&trusted, &with_callback).await;
    // The endpoint's job.succeeded and the callback: both delivered to loopback.
    let got = rx.wait_for(2, WAIT).await;
    assert!(
        got.iter().all(|d| d.json()["data"]["id"] == id.as_str()),
        "{got:?}"
    );
    app.stop().await;
}

/// A DNS server on loopback that never answers: it records the name of every query (UDP)
/// and holds every TCP connection open.
struct SilentDns {
    addr: std::net::SocketAddr,
    queries: std::sync::Arc<std::sync::Mutex<Vec<(String, tokio::time::Instant)>>>,
}

impl SilentDns {
    async fn start() -> SilentDns {
        // A free UDP port whose TCP twin is free too (another test may hold it: try again).
        let (udp, addr, tcp) = loop {
            let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let addr = udp.local_addr().unwrap();
            match tokio::net::TcpListener::bind(addr).await {
                Ok(tcp) => break (udp, addr, tcp),
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => continue,
                Err(e) => panic!("binding {addr}: {e}"),
            }
        };
        let queries = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = queries.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 1500];
            while let Ok((n, _)) = udp.recv_from(&mut buf).await {
                let name = question_name(&buf[..n]);
                seen.lock()
                    .unwrap()
                    .push((name, tokio::time::Instant::now()));
            }
        });
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = tcp.accept().await {
                held.push(socket);
            }
        });
        SilentDns { addr, queries }
    }

    fn queries(&self) -> Vec<(String, tokio::time::Instant)> {
        self.queries.lock().unwrap().clone()
    }
}

/// The question's name of a DNS query (labels from byte 12).
fn question_name(packet: &[u8]) -> String {
    let mut labels = Vec::new();
    let mut at = 12;
    while at < packet.len() && packet[at] != 0 {
        let len = packet[at] as usize;
        let end = (at + 1 + len).min(packet.len());
        labels.push(String::from_utf8_lossy(&packet[at + 1..end]).into_owned());
        at = end;
    }
    labels.join(".").to_ascii_lowercase()
}

/// A `callback_url` whose name servers never answer: each lookup ends at
/// `webhooks.lookup_timeout_ms` (the request is answered then, and the query is dropped:
/// nothing is asked again), and no more than `webhooks.max_lookups` run at once; the others
/// wait their turn within the same time, then are told to come back (503).
#[tokio::test]
async fn target_lookups_end_at_their_timeout_and_are_bounded_per_process() {
    let dns = SilentDns::start().await;
    let nameserver = dns.addr.to_string();
    let app = TestApp::spawn_with(Backend::Embedded, &[quire::Roles::API], move |c| {
        c.webhooks.nameservers = nameserver;
        c.webhooks.lookup_timeout_ms = 1_000;
        c.webhooks.max_lookups = 2;
    })
    .await;
    let key = app.new_key("slow-dns").await;
    let started = tokio::time::Instant::now();
    let answers = futures::future::join_all((0..6).map(|i| {
        let mut body = certificate(&format!("Unanswered {i}"));
        body["callback_url"] = json!(format!("https://cb-{i}.unanswered.test/hook"));
        let (app, key) = (&app, &key);
        async move {
            let (status, error) = error_of(app.submit(key, &body).await).await;
            (status, error, started.elapsed())
        }
    }))
    .await;
    for (status, error, took) in &answers {
        assert!(
            *took < Duration::from_millis(1_800),
            "answered after {took:?}: {status} {error}"
        );
        match *status {
            StatusCode::UNPROCESSABLE_ENTITY => {
                assert_eq!(error["field"], "callback_url", "{error}");
                assert!(
                    error["message"].as_str().unwrap().contains("timed out"),
                    "{error}"
                );
            }
            StatusCode::SERVICE_UNAVAILABLE => {}
            other => panic!("{other}: {error}"),
        }
    }
    let timed_out = answers
        .iter()
        .filter(|(s, ..)| *s == StatusCode::UNPROCESSABLE_ENTITY)
        .count();
    assert!(timed_out >= 2, "the first two lookups ran to their timeout");
    // Two lookups at once: in the first 900 ms, queries of two names only.
    let queries = dns.queries();
    let first = queries.first().expect("the server was asked").1;
    let mut early: Vec<&String> = queries
        .iter()
        .filter(|(_, at)| *at < first + Duration::from_millis(900))
        .map(|(name, _)| name)
        .collect();
    early.sort();
    early.dedup();
    assert_eq!(early.len(), 2, "lookups at once: {queries:?}");
    // Ended: nothing more is asked once the requests were answered.
    let asked = queries.len();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(dns.queries().len(), asked, "{:?}", dns.queries());
    app.stop().await;
}

/// The public per-address limit counts an IPv6 client by its /64: new addresses of one
/// prefix share a bucket, another prefix has its own.
#[tokio::test]
async fn the_public_limit_counts_an_ipv6_client_by_its_64() {
    let app = TestApp::spawn_with(Backend::Embedded, &[quire::Roles::API], |c| {
        c.rate_limit.public_per_address = 3;
        c.rate_limit.window_secs = 60;
        c.rate_limit.trust_forwarded_for = true;
    })
    .await;
    let verify_from = |address: String| {
        let app = &app;
        async move {
            app.client
                .get(app.url("/v1/verify/ABCD-EFGH-JKLM"))
                .header("x-forwarded-for", address)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    for host in 1..=3 {
        let status = verify_from(format!("2001:db8:7:1::{host}")).await;
        assert_ne!(status, StatusCode::TOO_MANY_REQUESTS, "address {host}");
    }
    // A fourth address of the same /64: the same client.
    assert_eq!(
        verify_from("2001:db8:7:1:dead:beef:0:4".into()).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Another /64 is another client.
    assert_ne!(
        verify_from("2001:db8:7:2::1".into()).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    app.stop().await;
}

/// `/metrics` on the API's public port: not served by default (Prometheus scrapes the
/// health port, which the API process serves too when `health_bind` is set); with
/// `metrics.token` the token is required; `metrics.public` opens it.
#[tokio::test]
async fn metrics_on_the_api_port_need_the_token_unless_opened() {
    use quire::Roles;
    let scrape = |url: String, token: Option<&'static str>| async move {
        let mut request = reqwest::Client::new().get(url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.text().await.unwrap())
    };
    let app = TestApp::spawn_with(Backend::Embedded, &[Roles::API], |c| {
        c.health_bind = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let (status, body) = scrape(app.url("/metrics"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let health = app.apps[0]
        .health_addr
        .expect("the API serves its health port");
    let (status, body) = scrape(format!("http://{health}/metrics"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("quire_"), "{body}");
    app.stop().await;

    let app = TestApp::spawn_with(Backend::Embedded, &[Roles::API], |c| {
        c.metrics.token = Some(shared::config::Secret::new("m3trics-token".into()));
    })
    .await;
    let (status, _) = scrape(app.url("/metrics"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = scrape(app.url("/metrics"), Some("wrong")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = scrape(app.url("/metrics"), Some("m3trics-token")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("quire_"), "{body}");
    app.stop().await;

    let app = TestApp::spawn_with(Backend::Embedded, &[Roles::API], |c| {
        c.metrics.public = true;
    })
    .await;
    let (status, body) = scrape(app.url("/metrics"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("quire_"), "{body}");
    app.stop().await;
}

/// The raw text of one column of the embedded database (what a copy of `app.db` shows).
async fn stored(app: &TestApp, sql: &str) -> Vec<String> {
    use sqlx::Connection as _;
    let path = app.config.data_dir.join("app.db");
    let mut db = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_all(&mut db)
        .await
        .unwrap()
}

/// Webhook secrets, callback secrets, the link-signing key and the credential-signing key
/// are stored sealed under the key-encryption key (here the embedded deployment's own key
/// file, mode 0600): the database holds none of them in the clear, yet deliveries are signed
/// with the secret the owner was shown. Secrets stored in the clear before are still used, and sealed at the next
/// start.
#[tokio::test]
async fn stored_secrets_are_sealed_and_older_plaintext_ones_sealed_at_start() {
    use crate::receiver::{Receiver, verified_by_reference};
    use quire::Roles;
    let rx = Receiver::start().await;
    let mut app = TestApp::spawn_with(Backend::Embedded, &[Roles::ALL], |c| {
        c.webhooks.allow_http = true;
        c.webhooks.allow_networks = "127.0.0.0/8".into();
        c.webhooks.pump_interval_ms = 50;
    })
    .await;
    let key = app.new_key("sealed").await;
    let created: Value = app
        .post(
            &key,
            "/v1/webhooks",
            &json!({ "url": rx.url, "events": ["job.succeeded"] }),
        )
        .await
        .json()
        .await
        .unwrap();
    let secret = created["secret"].as_str().unwrap().to_owned();
    let callback: Value = app
        .json_at(Some(&key), app.url("/v1/webhooks/callback-secret").as_str())
        .await;
    let callback = callback["secret"].as_str().unwrap().to_owned();
    let links = shared::links::LinkSigner::load(&app.db).await.unwrap();
    shared::credentials::Issuer::load(&app.db, &app.base)
        .await
        .unwrap();

    let sealed = [
        stored(&app, "SELECT secret FROM webhooks").await,
        stored(
            &app,
            "SELECT callback_secret FROM api_keys WHERE callback_secret IS NOT NULL",
        )
        .await,
        stored(
            &app,
            "SELECT value FROM settings WHERE name = 'download_link_key'",
        )
        .await,
        stored(
            &app,
            "SELECT value FROM settings WHERE name = 'credential_signing_key'",
        )
        .await,
    ]
    .concat();
    assert_eq!(sealed.len(), 4, "{sealed:?}");
    for value in &sealed {
        assert!(value.starts_with("enc:v1:"), "{value}");
        assert!(
            !value.contains(&secret) && !value.contains(&callback),
            "{value}"
        );
    }
    let key_file = app.config.data_dir.join("secrets.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    // Signed with the secret shown, which only the key file opens.
    app.submit_ok(&key, &certificate("Sealed Delivery")).await;
    let got = rx.wait_for(1, WAIT).await;
    assert!(
        verified_by_reference(&secret, &got),
        "signed with the shown secret"
    );
    let job = shared::domain::JobId::new();
    let url = links.url(&app.base, job);
    assert!(url.contains("sig="), "{url}");

    // A secret written in the clear (before sealing existed) still signs, and the next
    // start seals it.
    let legacy = shared::webhooks::new_secret();
    {
        use sqlx::Connection as _;
        let path = app.config.data_dir.join("app.db");
        let mut db = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        sqlx::query("UPDATE webhooks SET secret = $1")
            .bind(&legacy)
            .execute(&mut db)
            .await
            .unwrap();
    }
    app.submit_ok(&key, &certificate("Legacy Delivery")).await;
    let got = rx.wait_for(2, WAIT).await;
    assert!(
        verified_by_reference(&legacy, &got[1..]),
        "the plaintext secret signs"
    );
    app.apps.remove(0).stop().await.unwrap();
    app.add(Roles::ALL).await;
    app.base = format!("http://{}", app.apps[0].addr.unwrap());
    app.db = app.apps[0].db.clone();
    app.wait_until_ready().await;
    let resealed = stored(&app, "SELECT secret FROM webhooks").await;
    assert!(
        resealed[0].starts_with("enc:v1:") && !resealed[0].contains(&legacy),
        "{resealed:?}"
    );
    app.submit_ok(&key, &certificate("Resealed Delivery")).await;
    let got = rx.wait_for(3, WAIT).await;
    assert!(
        verified_by_reference(&legacy, &got[2..]),
        "the same secret, sealed"
    );
    app.stop().await;
}

/// PostgreSQL: a serving process without `secrets.kek` does not start (exit 2, naming the
/// setting); with it, secrets are stored sealed.
#[tokio::test]
async fn postgres_deployments_need_a_key_encryption_key() {
    let database_url = fresh_postgres().await;
    let dir = tempfile::tempdir().unwrap();
    let env = settings(&[
        ("DATABASE_URL", database_url.as_str()),
        ("REDIS_URL", &test_redis_url()),
        ("QUIRE_DATA_DIR", dir.path().to_str().unwrap()),
        ("QUIRE_BIND", "127.0.0.1:0"),
    ]);
    // `migrate` and `keys` touch no secret and run without it.
    migrate_and_admin_key(&env);
    let out = quire(&env, &["api"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("secrets.kek") && said.contains("openssl rand"),
        "{said}"
    );

    let app = TestApp::spawn(Backend::Production).await;
    let key = app.new_key("sealed-pg").await;
    let created: Value = app
        .post(
            &key,
            "/v1/webhooks",
            &json!({ "url": "https://93.184.216.34/hook", "events": ["*"] }),
        )
        .await
        .json()
        .await
        .unwrap();
    let secret = created["secret"].as_str().unwrap();
    use sqlx::Connection as _;
    let mut pg = sqlx::PgConnection::connect(app.config.database_url.as_ref().unwrap().expose())
        .await
        .unwrap();
    let stored: String = sqlx::query_scalar("SELECT secret FROM webhooks")
        .fetch_one(&mut pg)
        .await
        .unwrap();
    assert!(
        stored.starts_with("enc:v1:") && !stored.contains(secret),
        "{stored}"
    );
    app.stop().await;
}
