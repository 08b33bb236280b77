//! Files in S3-compatible object storage: a real server (`moto` in server mode, started by
//! deploy/test-services.sh at QUIRE_TEST_S3_URL), never a mock of the client. What is stored
//! is read back from the server with a client of the tests' own, not through quire.

use std::time::Duration;

use quire::{App, Roles};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use shared::config::{Config, Secret};

use crate::helpers::*;

fn s3_endpoint() -> String {
    std::env::var("QUIRE_TEST_S3_URL").unwrap_or_else(|_| "http://127.0.0.1:5055".into())
}

/// A new, empty bucket on the test server.
async fn fresh_bucket(endpoint: &str) -> String {
    let name = format!("quire-t-{}", uuid::Uuid::new_v4().simple());
    let response = reqwest::Client::new()
        .put(format!("{endpoint}/{name}"))
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!("the S3 server must be running at {endpoint} (deploy/test-services.sh starts it): {e}")
        });
    assert!(
        response.status().is_success(),
        "create bucket: {response:?}"
    );
    name
}

fn use_s3(c: &mut Config, endpoint: &str, bucket: &str) {
    c.storage_url = Some(format!("s3://{bucket}/files"));
    c.s3.endpoint = Some(endpoint.into());
    c.s3.allow_http = true;
    c.s3.region = Some("us-east-1".into());
    c.s3.access_key_id = Some("test".into());
    c.s3.secret_access_key = Some(Secret::new("test".into()));
    c.s3.timeout_secs = 3;
}

/// The keys under `prefix` in `bucket`, as the server lists them (ListObjectsV2).
async fn keys(endpoint: &str, bucket: &str, prefix: &str) -> Vec<String> {
    let response = reqwest::get(format!("{endpoint}/{bucket}?list-type=2&prefix={prefix}"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "listing {prefix}");
    let xml = response.text().await.unwrap();
    assert!(xml.contains("<ListBucketResult"), "{xml}");
    xml.split("<Key>")
        .skip(1)
        .filter_map(|s| s.split_once("</Key>").map(|(k, _)| k.to_owned()))
        .collect()
}

async fn object(endpoint: &str, bucket: &str, key: &str) -> Vec<u8> {
    use object_store::ObjectStoreExt as _;
    let client = object_store::aws::AmazonS3Builder::new()
        .with_endpoint(endpoint)
        .with_bucket_name(bucket)
        .with_region("us-east-1")
        .with_access_key_id("test")
        .with_secret_access_key("test")
        .with_allow_http(true)
        .build()
        .unwrap();
    let path = object_store::path::Path::from(key);
    let got = client
        .get(&path)
        .await
        .unwrap_or_else(|e| panic!("{key}: {e}"));
    got.bytes().await.unwrap().to_vec()
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Every file under `dir`, recursively (what a process wrote to its own disk).
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}

/// Production (PostgreSQL, Redis) with the API and the worker on data directories of their
/// own: the photo, the PDF, the batch archive's PDFs and the outbox all go through the bucket.
#[tokio::test]
async fn production_shares_no_disk_between_api_and_worker() {
    let endpoint = s3_endpoint();
    let bucket = fresh_bucket(&endpoint).await;
    let mut app = TestApp::spawn_with(Backend::Production, &[Roles::API], |c| {
        use_s3(c, &endpoint, &bucket)
    })
    .await;
    let worker_dir = tempfile::tempdir().unwrap();
    let mut worker_config = app.config.clone();
    worker_config.data_dir = worker_dir.path().to_path_buf();
    app.apps.push(
        App::start(worker_config, Roles::WORKER, false)
            .await
            .expect("worker starts"),
    );
    let key = app.new_key("s3").await;

    let mut body = certificate("Ada Storage Lovelace");
    body["photo"] = json!(b64(&jpeg_photo()));
    let id = app.submit_ok(&key, &body).await;
    let job = app.wait_for(&key, &id, &["succeeded", "dead"]).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let row = app
        .db
        .get_job(id.parse().unwrap(), None)
        .await
        .unwrap()
        .unwrap();
    let result = row.result.unwrap();
    let file = result["file"].as_str().unwrap();
    let stored = object(&endpoint, &bucket, &format!("files/{file}")).await;
    assert_eq!(
        sha256(&stored),
        result["sha256"],
        "the row's sha256 is the object's"
    );
    assert_eq!(stored.len() as u64, result["bytes"].as_u64().unwrap());
    assert!(pdf_text(&stored).contains("Ada Storage Lovelace"));
    // The photo's object goes with the finished job, gathered into a bulk delete.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !keys(&endpoint, &bucket, &format!("files/inputs/{id}"))
        .await
        .is_empty()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the finished job's photo is still stored"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Downloads stream from the bucket: whole, one range, the last bytes, past the end, HEAD
    // and a matching ETag.
    let url = app.url(&format!("/v1/jobs/{id}/file"));
    let get = |range: Option<&str>| {
        let mut request = app.client.get(&url).bearer_auth(&key);
        if let Some(range) = range {
            request = request.header("range", range);
        }
        request.send()
    };
    let whole = get(None).await.unwrap();
    assert_eq!(whole.status(), StatusCode::OK);
    let etag = whole.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(etag, format!("\"{}\"", result["sha256"].as_str().unwrap()));
    assert_eq!(whole.headers()["accept-ranges"], "bytes");
    assert!(
        whole.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert_eq!(whole.bytes().await.unwrap().to_vec(), stored);
    let first = get(Some("bytes=0-99")).await.unwrap();
    assert_eq!(first.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        first.headers()["content-range"],
        format!("bytes 0-99/{}", stored.len()).as_str()
    );
    assert_eq!(first.bytes().await.unwrap().to_vec(), stored[..100]);
    let last = get(Some("bytes=-10")).await.unwrap();
    assert_eq!(last.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        last.bytes().await.unwrap().to_vec(),
        stored[stored.len() - 10..]
    );
    let past = get(Some(&format!("bytes={}-", stored.len())))
        .await
        .unwrap();
    assert_eq!(past.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(
        past.headers()["content-range"],
        format!("bytes */{}", stored.len()).as_str()
    );
    let head = app
        .client
        .head(&url)
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(
        head.headers()["content-length"],
        stored.len().to_string().as_str()
    );
    assert!(head.bytes().await.unwrap().is_empty());
    let cached = app
        .client
        .get(&url)
        .bearer_auth(&key)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);

    // An email with the PDF attached, through the file transport: the outbox is in the bucket.
    let email = app
        .post_ok(
            &app.admin,
            "/v1/emails",
            &json!({"to": ["ana@example.com"], "template": "generic",
                    "vars": {"subject": "Stored", "text": "Attached"}, "attachments": [id]}),
        )
        .await;
    let email_job = app
        .wait_for(&app.admin, &email, &["succeeded", "dead"])
        .await;
    assert_eq!(email_job["status"], "succeeded", "{email_job}");
    let outbox = keys(&endpoint, &bucket, "files/mail/").await;
    assert_eq!(outbox.len(), 1, "{outbox:?}");
    let eml = String::from_utf8(object(&endpoint, &bucket, &outbox[0]).await).unwrap();
    assert!(
        eml.contains(&format!("{id}.pdf")),
        "the attachment is in the message"
    );

    // A batch's archive is assembled from the bucket.
    let csv = "recipient_name,course_name\nAda,Math\nAlan,CS\nGrace,Navy\n";
    let batch: Value = app
        .client
        .post(app.url("/v1/certificates/batch?template=classic"))
        .bearer_auth(&key)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let batch_id = batch["id"].as_str().unwrap().to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let status = app
            .json_at(Some(&key), app.url(&format!("/v1/batches/{batch_id}")))
            .await;
        if status["complete"] == true {
            assert_eq!(status["counts"]["succeeded"], 3, "{status}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{status}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let archive = app
        .get(&key, &format!("/v1/batches/{batch_id}/archive"))
        .await;
    assert_eq!(archive.status(), StatusCode::OK);
    let bytes = archive.bytes().await.unwrap().to_vec();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a ZIP");
    assert_eq!(zip.len(), 4, "3 PDFs and the manifest");
    let mut manifest = String::new();
    std::io::Read::read_to_string(&mut zip.by_name("manifest.csv").unwrap(), &mut manifest)
        .unwrap();
    for line in manifest.lines().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        let mut pdf = Vec::new();
        std::io::Read::read_to_end(&mut zip.by_name(fields[0]).unwrap(), &mut pdf).unwrap();
        assert_eq!(sha256(&pdf), fields[3], "{line}");
    }

    // Neither process wrote a file of a job to its own disk.
    for dir in [app.dir.path(), worker_dir.path()] {
        let written = files_under(dir);
        assert!(
            written.iter().all(|p| !["inputs", "outputs", "mail"]
                .iter()
                .any(|d| p.starts_with(dir.join(d)))),
            "{written:?}"
        );
    }
    app.stop().await;
}

/// With `s3.presign_downloads_secs`, a download is a redirect to a presigned URL that works
/// without any credentials and serves the same bytes.
#[tokio::test]
async fn downloads_can_redirect_to_presigned_urls() {
    let endpoint = s3_endpoint();
    let bucket = fresh_bucket(&endpoint).await;
    let app = TestApp::spawn_with(Backend::Embedded, &[Roles::ALL], |c| {
        use_s3(c, &endpoint, &bucket);
        c.s3.presign_downloads_secs = 60;
    })
    .await;
    let key = app.new_key("presign").await;
    let id = app.submit_ok(&key, &certificate("Presigned Person")).await;
    app.wait_for(&key, &id, &["succeeded"]).await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = no_redirects
        .get(app.url(&format!("/v1/jobs/{id}/file")))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.contains("X-Amz-Signature="), "{location}");
    let pdf = reqwest::get(&location).await.unwrap();
    assert_eq!(pdf.status(), StatusCode::OK);
    let pdf = pdf.bytes().await.unwrap();
    let job = app.job(&key, &id).await;
    let row = app
        .db
        .get_job(id.parse().unwrap(), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sha256(&pdf), row.result.unwrap()["sha256"], "{job}");
    app.stop().await;
}

/// A wrong bucket or an endpoint that is not there stops start-up with one line naming the
/// setting, before anything is accepted.
#[tokio::test]
async fn wrong_storage_settings_stop_start_up_naming_the_setting() {
    let endpoint = s3_endpoint();
    let dir = tempfile::tempdir().unwrap();
    let mut config = base_config(&dir);
    use_s3(&mut config, &endpoint, "quire-no-such-bucket");
    let e = App::start(config.clone(), Roles::ALL, true)
        .await
        .err()
        .expect("refused");
    let line = format!("{e:#}");
    assert!(
        line.contains("storage_url") && line.contains("bucket does not exist"),
        "{line}"
    );
    assert!(!line.contains('\n'), "{line}");

    config.s3.endpoint = Some(format!("http://127.0.0.1:{}", free_port()));
    config.s3.timeout_secs = 1;
    let e = App::start(config, Roles::ALL, true)
        .await
        .err()
        .expect("refused");
    let line = format!("{e:#}");
    assert!(
        line.contains("storage_url") && line.contains("s3.endpoint"),
        "{line}"
    );
}

/// Object storage going away: `/ready` names it, a submission that must store a photo is a
/// 503 with `Retry-After` (nothing accepted), a download is a 503, and a render attempt that
/// cannot store its PDF fails as retryable and succeeds once the store is back.
#[tokio::test]
async fn an_object_storage_outage_is_retried_and_loses_nothing() {
    let endpoint = s3_endpoint();
    let bucket = fresh_bucket(&endpoint).await;
    let proxy = Proxy::start(&host_port(&endpoint)).await;
    let through_proxy = format!("http://{}", proxy.addr);
    let app = TestApp::spawn_with(Backend::Embedded, &[Roles::ALL], |c| {
        use_s3(c, &through_proxy, &bucket);
        c.s3.timeout_secs = 2;
        c.queues.certificates.max_attempts = 100;
    })
    .await;
    let key = app.new_key("outage").await;
    let done = app.submit_ok(&key, &certificate("Before Outage")).await;
    app.wait_for(&key, &done, &["succeeded"]).await;

    proxy.set_down(true);
    let ready = app.client.get(app.url("/ready")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["down"], json!(["storage"]), "{ready}");

    let mut with_photo = certificate("Photo In Outage");
    with_photo["photo"] = json!(b64(&jpeg_photo()));
    let before = app.count_jobs(&key).await;
    let refused = app.submit(&key, &with_photo).await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(refused.headers().contains_key("retry-after"));
    let (_, error) = error_of(refused).await;
    assert_eq!(error["code"], "unavailable", "{error}");
    assert_eq!(app.count_jobs(&key).await, before, "nothing accepted");

    let download = app.get(&key, &format!("/v1/jobs/{done}/file")).await;
    assert_eq!(download.status(), StatusCode::SERVICE_UNAVAILABLE);

    // Accepted (no file to store yet); its attempts fail to store the PDF and are retried.
    let waiting = app.submit_ok(&key, &certificate("Waits For Storage")).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let job = app.job(&key, &waiting).await;
        if job["attempt"].as_u64().unwrap_or(0) >= 2 {
            assert_ne!(job["status"], "succeeded", "{job}");
            assert_eq!(job["error"]["code"], "storage_failed", "{job}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{job}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    proxy.set_down(false);
    let job = app.wait_for(&key, &waiting, &["succeeded", "dead"]).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    let download = app.get(&key, &format!("/v1/jobs/{waiting}/file")).await;
    assert_eq!(download.status(), StatusCode::OK);
    assert!(pdf_text(&download.bytes().await.unwrap()).contains("Waits For Storage"));
    app.stop().await;
}

/// Cleanup removes the objects with the rows. A cleanup that stopped after deleting rows but
/// before their objects (simulated: the rows deleted as cleanup's transaction does, then
/// nothing) leaves no row without its object, and the next run removes what it left.
#[tokio::test]
async fn cleanup_removes_objects_and_finishes_an_interrupted_run() {
    let endpoint = s3_endpoint();
    let bucket = fresh_bucket(&endpoint).await;
    let app = TestApp::spawn_with(Backend::Embedded, &[Roles::ALL], |c| {
        use_s3(c, &endpoint, &bucket);
        c.cleanup.retention.certificate.succeeded_days = 1;
    })
    .await;
    let key = app.new_key("cleanup").await;
    let mut ids = Vec::new();
    for name in ["Interrupted Cleanup", "Normal Cleanup"] {
        let id = app.submit_ok(&key, &certificate(name)).await;
        app.wait_for(&key, &id, &["succeeded"]).await;
        let id: shared::domain::JobId = id.parse().unwrap();
        app.db
            .backdate_finished_for_test(
                id,
                shared::domain::Timestamp::now().plus_millis(-2 * 24 * 3600 * 1000),
            )
            .await
            .unwrap();
        ids.push(id);
    }
    let outputs = || keys(&endpoint, &bucket, "files/outputs/");
    assert_eq!(outputs().await.len(), 2);
    // The first run "crashed" right after its transaction.
    let gone = app
        .db
        .delete_jobs(&ids[..1], shared::domain::JobStatus::Succeeded, None)
        .await
        .unwrap();
    assert_eq!(gone.0, ids[..1]);
    assert_eq!(outputs().await.len(), 2, "its object is still there");
    assert_eq!(app.db.pending_file_deletions(10).await.unwrap().len(), 1);

    let run = app
        .post_ok(&app.admin, "/v1/schedules/cleanup/run", &Value::Null)
        .await;
    let job = app.wait_for(&app.admin, &run, &["succeeded", "dead"]).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["summary"]["deleted"], 1, "{job}");
    assert_eq!(job["summary"]["files_removed"], 2, "{job}");
    assert_eq!(outputs().await, Vec::<String>::new());
    assert!(app.db.pending_file_deletions(10).await.unwrap().is_empty());
    app.stop().await;
}

/// What a CDN in front of quire needs: verification answers with an ETag and a short public
/// max-age (a matching `If-None-Match` is a 304, revoking changes the ETag at once), and the
/// page's stylesheet under a content-hashed name cached for a year.
#[tokio::test]
async fn verification_and_assets_are_cdn_ready() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let key = app.new_key("cdn").await;
    let id = app.submit_ok(&key, &certificate("Cached Holder")).await;
    app.wait_for(&key, &id, &["succeeded"]).await;
    let certificate: Value = app
        .json_at(Some(&key), app.url(&format!("/v1/certificates/{id}")))
        .await;
    let code = certificate["verification_code"]
        .as_str()
        .unwrap()
        .to_owned();
    let verify = app.url(&format!("/v1/verify/{code}"));
    let ask = |etag: Option<String>| {
        let mut request = app.client.get(&verify);
        if let Some(etag) = etag {
            request = request.header("if-none-match", etag);
        }
        request.send()
    };
    let first = ask(None).await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(first.headers()["cache-control"], "public, max-age=60");
    assert_eq!(first.headers()["vary"], "Accept");
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let again = ask(Some(etag.clone())).await.unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(again.headers()["etag"], etag.as_str());

    let revoked = app
        .post(
            &key,
            &format!("/v1/certificates/{id}/revoke"),
            &json!({"reason": "reissued"}),
        )
        .await;
    assert_eq!(revoked.status(), StatusCode::OK);
    let after = ask(Some(etag.clone())).await.unwrap();
    assert_eq!(
        after.status(),
        StatusCode::OK,
        "the old ETag is stale at once"
    );
    assert_ne!(after.headers()["etag"], etag.as_str());
    assert_eq!(after.json::<Value>().await.unwrap()["status"], "revoked");

    let page = app
        .client
        .get(app.url(&format!("/verify/{code}")))
        .send()
        .await
        .unwrap();
    assert!(page.headers().contains_key("etag"));
    let html = page.text().await.unwrap();
    let stylesheet = html
        .split("href=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();
    assert!(
        stylesheet.starts_with("/assets/verify.") && stylesheet.ends_with(".css"),
        "{stylesheet}"
    );
    let css = app.client.get(app.url(&stylesheet)).send().await.unwrap();
    assert_eq!(css.status(), StatusCode::OK);
    assert_eq!(
        css.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert!(
        css.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    assert!(css.text().await.unwrap().contains(".badge"));
    let stale = app
        .client
        .get(app.url("/assets/verify.000000000000.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

/// A `Storage` on a fresh bucket of the test S3 server, as a process would connect to it.
async fn s3_storage() -> (String, String, shared::storage::Storage) {
    let endpoint = s3_endpoint();
    let bucket = fresh_bucket(&endpoint).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = base_config(&dir);
    use_s3(&mut config, &endpoint, &bucket);
    let storage = shared::storage::Storage::connect(&config).await.unwrap();
    (endpoint, bucket, storage)
}

/// An object above the multipart threshold goes up in parts and comes back whole, with the
/// sha256 of what was sent.
#[tokio::test]
async fn large_objects_go_up_in_parts() {
    let (endpoint, bucket, storage) = s3_storage().await;
    let big: Vec<u8> = (0..20 * 1024 * 1024 + 123)
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    let job = shared::domain::JobId::new();
    let stored = storage
        .write_output("owner", job, 1, big.clone().into())
        .await
        .unwrap();
    assert_eq!(stored.sha256, sha256(&big));
    let back = object(&endpoint, &bucket, &format!("files/{}", stored.relative)).await;
    assert_eq!(sha256(&back), stored.sha256);
    assert_eq!(back.len(), big.len());
}

/// Finished jobs' inputs in object storage are removed together (bulk `DeleteObjects`), and
/// a flush (a worker's shutdown) returns only once every removal asked for is done; another
/// job's inputs stay.
#[tokio::test]
async fn gathered_input_removals_are_done_by_the_flush() {
    let (endpoint, bucket, storage) = s3_storage().await;
    let jobs: Vec<_> = (0..30).map(|_| shared::domain::JobId::new()).collect();
    let names = ["photo".to_owned(), "signature".to_owned()];
    for job in &jobs {
        for name in &names {
            storage
                .write_input(*job, name, jpeg_photo().into())
                .await
                .unwrap();
        }
    }
    assert_eq!(keys(&endpoint, &bucket, "files/inputs/").await.len(), 60);
    for job in &jobs[..29] {
        storage.remove_inputs_read(*job, &names).await.unwrap();
    }
    storage.flush_deletes().await;
    let left = keys(&endpoint, &bucket, "files/inputs/").await;
    assert_eq!(
        left,
        vec![
            format!("files/inputs/{}/photo", jobs[29]),
            format!("files/inputs/{}/signature", jobs[29])
        ]
    );
}

/// Inputs nothing will read are swept by the cleanup: those of a succeeded job (its worker
/// was killed before removing them) and those of no job once older than
/// `cleanup.orphan_inputs_after_secs`; a dead job's (it may be retried) and a fresh rowless
/// one's (a submission in progress) stay. On the data directory and on object storage.
async fn cleanup_sweeps_inputs_nothing_will_read(s3: Option<(String, String)>) {
    let app = TestApp::spawn_with(Backend::Embedded, &[Roles::ALL], |c| {
        if let Some((endpoint, bucket)) = &s3 {
            use_s3(c, endpoint, bucket);
        }
        c.cleanup.orphan_inputs_after_secs = 5;
    })
    .await;
    let put = |job: String| {
        let (s3, dir) = (s3.clone(), app.dir.path().to_owned());
        async move {
            match s3 {
                Some((endpoint, bucket)) => {
                    let url = format!("{endpoint}/{bucket}/files/inputs/{job}/photo");
                    let sent = reqwest::Client::new().put(url).body(jpeg_photo()).send();
                    assert!(sent.await.unwrap().status().is_success());
                }
                None => {
                    std::fs::create_dir_all(dir.join(format!("inputs/{job}"))).unwrap();
                    std::fs::write(dir.join(format!("inputs/{job}/photo")), jpeg_photo()).unwrap();
                }
            }
        }
    };
    let stored = || {
        let (s3, dir) = (s3.clone(), app.dir.path().to_owned());
        async move {
            let mut jobs: Vec<String> = match s3 {
                Some((endpoint, bucket)) => keys(&endpoint, &bucket, "files/inputs/")
                    .await
                    .iter()
                    .map(|k| k.split('/').nth(2).unwrap().to_owned())
                    .collect(),
                None => match std::fs::read_dir(dir.join("inputs")) {
                    Ok(entries) => entries
                        .map(|e| e.unwrap().file_name().into_string().unwrap())
                        .collect(),
                    Err(_) => Vec::new(),
                },
            };
            jobs.sort();
            jobs
        }
    };
    let key = app.new_key("sweep").await;
    let succeeded = app.submit_ok(&key, &certificate("Left Behind")).await;
    app.wait_for(&key, &succeeded, &["succeeded"]).await;
    let dead = app
        .insert_certificate_row(&key, "retired", shared::domain::Timestamp::now())
        .await;
    app.queue_push(dead).await;
    app.wait_for(&key, &dead.to_string(), &["dead"]).await;
    let rowless = shared::domain::JobId::new().to_string();
    for job in [&succeeded, &dead.to_string(), &rowless] {
        put(job.clone()).await;
    }
    let run_cleanup = || async {
        let run = app
            .post_ok(&app.admin, "/v1/schedules/cleanup/run", &Value::Null)
            .await;
        let job = app.wait_for(&app.admin, &run, &["succeeded", "dead"]).await;
        assert_eq!(job["status"], "succeeded", "{job}");
        job
    };
    let job = run_cleanup().await;
    assert_eq!(job["summary"]["inputs_swept"], 1, "{job}");
    let mut kept = vec![dead.to_string(), rowless.clone()];
    kept.sort();
    assert_eq!(stored().await, kept, "the succeeded job's inputs went");
    // The rowless inputs pass their age (five seconds here: a slow first run must not
    // reach it).
    tokio::time::sleep(Duration::from_millis(5100)).await;
    let job = run_cleanup().await;
    assert_eq!(job["summary"]["inputs_swept"], 1, "{job}");
    assert_eq!(
        stored().await,
        vec![dead.to_string()],
        "the dead job keeps its inputs"
    );
    app.stop().await;
}

#[tokio::test]
async fn cleanup_sweeps_inputs_nothing_will_read_on_disk() {
    cleanup_sweeps_inputs_nothing_will_read(None).await;
}

#[tokio::test]
async fn cleanup_sweeps_inputs_nothing_will_read_in_s3() {
    let endpoint = s3_endpoint();
    let bucket = fresh_bucket(&endpoint).await;
    cleanup_sweeps_inputs_nothing_will_read(Some((endpoint, bucket))).await;
}
