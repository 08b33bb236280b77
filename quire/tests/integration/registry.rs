//! Verification (QR code, JSON, HTML), revocation and expiry, the registries, images and bulk
//! issue.

use std::io::Read;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::*;
use crate::pdf::qr_codes_in_pdf;

async fn verification(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.new_key("issuer").await;
    let mut body = certificate("Verity Holder");
    body["expires_on"] = json!("2099-12-31");
    body["is_public"] = json!(true);
    let id = app.submit_ok(&key, &body).await;
    let pdf = app.pdf_of(&key, &id).await;

    // The QR code on the page leads to the verification endpoint.
    let codes = qr_codes_in_pdf(&pdf);
    assert_eq!(codes.len(), 1, "{codes:?}");
    let url = &codes[0];
    assert!(url.starts_with(&app.url("/v1/verify/")), "{url}");
    let verified: Value = app.json_at(None, url).await;
    assert_eq!(verified["status"], "valid", "{verified}");
    assert_eq!(verified["recipient_name"], "Verity Holder");
    assert_eq!(verified["course_name"], "Advanced Typesetting");
    assert_eq!(verified["issuer_name"], "Quire Academy");
    assert_eq!(verified["issued_on"], "2026-11-21");
    assert_eq!(verified["expires_on"], "2099-12-31");
    assert_eq!(verified["sha256"], hex::encode(Sha256::digest(&pdf)));
    let code = verified["code"].as_str().unwrap().to_owned();
    assert!(pdf_text(&pdf).contains(&code), "the code is printed too");

    // "Add to LinkedIn": LinkedIn's form, filled in with this certificate.
    let linkedin = verified["linkedin_url"].as_str().unwrap().to_owned();
    let parsed = reqwest::Url::parse(&linkedin).unwrap();
    assert_eq!(
        (parsed.host_str(), parsed.path()),
        (Some("www.linkedin.com"), "/profile/add")
    );
    let query: std::collections::HashMap<String, String> =
        parsed.query_pairs().into_owned().collect();
    for (name, value) in [
        ("startTask", "CERTIFICATION_NAME"),
        ("name", "Advanced Typesetting"),
        ("organizationName", "Quire Academy"),
        ("issueYear", "2026"),
        ("issueMonth", "11"),
        ("expirationYear", "2099"),
        ("expirationMonth", "12"),
        ("certId", code.as_str()),
        ("certUrl", url.as_str()),
    ] {
        assert_eq!(
            query.get(name).map(String::as_str),
            Some(value),
            "{name}: {linkedin}"
        );
    }
    let view: Value = app
        .get(&key, &format!("/v1/certificates/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["linkedin_url"], linkedin.as_str(), "{view}");

    // People scanning the code get a page; names are escaped.
    let page = app
        .client
        .get(app.url(&format!("/verify/{code}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Verity Holder") && html.contains("valid"),
        "{html}"
    );
    let button = format!("href=\"{linkedin}\"");
    assert!(
        html_unescape(&html).contains(&button) && html.contains("Add to LinkedIn"),
        "{html}"
    );
    let browser = app
        .client
        .get(url)
        .header("accept", "text/html,application/xhtml+xml")
        .send()
        .await
        .unwrap();
    assert!(browser.text().await.unwrap().contains("<!doctype html>"));

    // Unknown codes: 404 without a key, JSON or HTML.
    let (status, _) = error_of(
        app.client
            .get(app.url("/v1/verify/ZZZZ-ZZZZ-ZZZZ"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let missing = app
        .client
        .get(app.url("/verify/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    // Revocation: owner (or admin) only, reason required, once.
    let other = app.new_key("other").await;
    let revoke = |key: String, body: Value| {
        let client = app.client.clone();
        let url = app.url(&format!("/v1/certificates/{id}/revoke"));
        async move {
            client
                .post(url)
                .bearer_auth(key)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(
        revoke(other, json!({"reason": "x"})).await.status(),
        StatusCode::NOT_FOUND
    );
    let (status, error) = error_of(revoke(key.clone(), json!({"reason": "  "})).await).await;
    assert_eq!(
        (status, error["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("reason"))
    );
    let revoked = revoke(key.clone(), json!({"reason": "Issued in error <b>"})).await;
    assert_eq!(revoked.status(), StatusCode::OK);
    let (status, error) = error_of(revoke(key.clone(), json!({"reason": "again"})).await).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::CONFLICT, Some("already_revoked"))
    );
    let verified: Value = app.json_at(None, url).await;
    assert_eq!(verified["status"], "revoked");
    assert_eq!(verified["revocation_reason"], "Issued in error <b>");
    // A revoked certificate is not offered for a profile.
    assert_eq!(verified["linkedin_url"], Value::Null, "{verified}");
    let html = app
        .client
        .get(app.url(&format!("/verify/{code}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Issued in error &lt;b&gt;"),
        "escaped: {html}"
    );

    // Expiry: a certificate whose date has passed verifies as expired.
    let mut old = certificate("Past Holder");
    old["issued_on"] = json!("2020-01-01");
    old["expires_on"] = json!("2021-01-01");
    let old_id = app.submit_ok(&key, &old).await;
    app.pdf_of(&key, &old_id).await;
    let view: Value = app
        .get(&key, &format!("/v1/certificates/{old_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["status"], "expired", "{view}");
    let verified: Value = app
        .json_at(None, view["verify_url"].as_str().unwrap())
        .await;
    assert_eq!(verified["status"], "expired");
    let mut backwards = certificate("Backwards");
    backwards["expires_on"] = json!("2000-01-01");
    let (_, error) = error_of(app.submit(&key, &backwards).await).await;
    assert_eq!(error["field"], "expires_on");
    app.stop().await;
}

#[tokio::test]
async fn embedded_verification_qr_revocation_expiry() {
    verification(Backend::Embedded).await;
}

#[tokio::test]
async fn production_verification_qr_revocation_expiry() {
    verification(Backend::Production).await;
}

async fn registries(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.new_key("alice").await;
    let bob = app.new_key("bob").await;
    let mut ids = Vec::new();
    for (i, name) in [
        "Ada Lovelace",
        "Alan Turing",
        "Grace Hopper",
        "Ada Yonath",
        "Edsger Dijkstra",
    ]
    .iter()
    .enumerate()
    {
        let mut body = certificate(name);
        body["issued_on"] = json!(format!("2026-0{}-15", i + 1));
        body["is_public"] = json!(i % 2 == 0);
        body["template"] = json!(if i < 3 { "classic" } else { "modern" });
        ids.push(app.submit_ok(&alice, &body).await);
    }
    let bobs = app.submit_ok(&bob, &certificate("Bob's Own")).await;
    for id in &ids {
        app.wait_for(&alice, id, &["succeeded"]).await;
    }
    app.wait_for(&bob, &bobs, &["succeeded"]).await;

    let list = |key: String, query: &'static str| {
        let app = &app;
        async move {
            let response = app.get(&key, &format!("/v1/certificates{query}")).await;
            assert_eq!(response.status(), StatusCode::OK, "{query}");
            let page: Value = response.json().await.unwrap();
            page
        }
    };
    let names = |page: &Value| -> Vec<String> {
        page["certificates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["recipient_name"].as_str().unwrap().to_owned())
            .collect()
    };
    // Own only, newest first; admins see everyone's.
    let page = list(alice.clone(), "").await;
    assert_eq!(names(&page).len(), 5);
    assert_eq!(names(&page)[0], "Edsger Dijkstra");
    assert_eq!(page["certificates"][0]["status"], "valid");
    assert_eq!(names(&list(app.admin.clone(), "").await).len(), 6);
    assert_eq!(names(&list(bob.clone(), "").await), vec!["Bob's Own"]);

    // Filters.
    assert_eq!(names(&list(alice.clone(), "?recipient=ADA").await).len(), 2);
    assert_eq!(
        names(&list(alice.clone(), "?template=modern").await).len(),
        2
    );
    assert_eq!(
        names(
            &list(
                alice.clone(),
                "?issued_from=2026-02-01&issued_to=2026-03-31"
            )
            .await
        ),
        vec!["Grace Hopper", "Alan Turing"]
    );
    assert_eq!(
        names(&list(alice.clone(), "?status=revoked").await).len(),
        0
    );
    assert_eq!(names(&list(alice.clone(), "?status=valid").await).len(), 5);
    // Sorted by issue date, oldest first, two per page, following the cursor.
    let mut seen = Vec::new();
    let mut query = "/v1/certificates?sort=issued_on&limit=2".to_owned();
    loop {
        let page: Value = app.get(&alice, &query).await.json().await.unwrap();
        seen.extend(names(&page));
        match page["next_cursor"].as_str() {
            Some(c) => query = format!("/v1/certificates?sort=issued_on&limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(
        seen,
        vec![
            "Ada Lovelace",
            "Alan Turing",
            "Grace Hopper",
            "Ada Yonath",
            "Edsger Dijkstra"
        ]
    );
    for bad in [
        "?status=nope",
        "?sort=name",
        "?limit=0",
        "?issued_from=May",
        "?cursor=xyz",
    ] {
        let (status, error) =
            error_of(app.get(&alice, &format!("/v1/certificates{bad}")).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {error}");
        assert!(error["field"].is_string(), "{error}");
    }

    // The public registry needs no key and shows only public, issued ones, without files.
    let public: Value = app.json_at(None, app.url("/v1/certificates/public")).await;
    assert_eq!(
        names(&public),
        vec!["Edsger Dijkstra", "Grace Hopper", "Ada Lovelace"]
    );
    assert!(public["certificates"][0]["file"].is_null());
    assert!(public["certificates"][0]["sha256"].is_string());
    app.stop().await;
}

#[tokio::test]
async fn embedded_registries() {
    registries(Backend::Embedded).await;
}

#[tokio::test]
async fn production_registries() {
    registries(Backend::Production).await;
}

/// The registry query is planned on an index on PostgreSQL, and one listing is one query,
/// whatever the page size: counted as Execute messages through a proxy in front of the
/// database.
#[tokio::test]
async fn registry_listing_is_one_indexed_query() {
    use shared::db::{CertificateFilter, CertificateSort};
    let dir = tempfile::tempdir().unwrap();
    let mut config = production_config(&dir).await;
    let direct = config.database_url.clone().unwrap();
    // Migrate and seed directly, then serve the API through the counting proxy.
    let setup = TestApp::spawn_config(
        config.clone(),
        tempfile::tempdir().unwrap(),
        &[quire::Roles::ALL],
    )
    .await;
    let key = setup.new_key("counted").await;
    let mut ids = Vec::new();
    for i in 0..30 {
        ids.push(
            setup
                .submit_ok(&key, &certificate(&format!("Person {i}")))
                .await,
        );
    }
    for id in &ids {
        setup.wait_for(&key, id, &["succeeded"]).await;
    }
    // 20,000 other owners' certificates, so the planner's choice means something.
    let pool = pg(direct.expose()).await;
    sqlx::raw_sql(
        "INSERT INTO jobs (id, kind, queue, owner_id, status, attempt, max_attempts, run_at, \
           payload, created_at, updated_at) \
         SELECT 'fake-' || g, 'certificate', 'certificates', 'owner-' || (g % 50), 'succeeded', \
           1, 3, 0, '{}', g, g FROM generate_series(1, 20000) g; \
         INSERT INTO certificates (job_id, owner_id, template_id, template_version, \
           template_name, verification_code, recipient_name, recipient_key, course_name, \
           issued_on, is_public, created_at) \
         SELECT 'fake-' || g, 'owner-' || (g % 50), 't', 1, 'classic', 'CODE-' || g, \
           'Name ' || g, 'name ' || g, 'C', to_char(date '2026-01-01' + (g % 300), 'YYYY-MM-DD'), \
           (g % 2)::bigint, g FROM generate_series(1, 20000) g; \
         ANALYZE;",
    )
    .execute(&pool)
    .await
    .unwrap();
    for (filter, sort) in [
        (
            CertificateFilter {
                owner_id: Some("owner-7".into()),
                ..Default::default()
            },
            CertificateSort::CreatedDesc,
        ),
        (
            CertificateFilter {
                owner_id: Some("owner-7".into()),
                ..Default::default()
            },
            CertificateSort::IssuedAsc,
        ),
        (
            CertificateFilter {
                public_only: true,
                ..Default::default()
            },
            CertificateSort::CreatedDesc,
        ),
        (CertificateFilter::default(), CertificateSort::IssuedDesc),
    ] {
        let plan = setup
            .db
            .explain_list_certificates(&filter, sort, 50)
            .await
            .unwrap();
        assert!(
            plan.contains("Index Scan") || plan.contains("Index Only Scan"),
            "{filter:?} {sort:?}:\n{plan}"
        );
        assert!(
            !plan.contains("Sort  ("),
            "sorted by an index, not in memory:\n{plan}"
        );
    }
    // The public recipient search (no key needed) is an infix match that a trigram index
    // serves (the planner picks it once walking the public rows in order costs more; here it
    // is made to show it can).
    let mut conn = pool.acquire().await.unwrap();
    sqlx::raw_sql("SET enable_seqscan = off; SET enable_indexscan = off")
        .execute(&mut *conn)
        .await
        .unwrap();
    let plan: Vec<String> = sqlx::query_scalar(
        "EXPLAIN SELECT job_id FROM certificates WHERE recipient_key LIKE '%name 1234%'",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    let plan = plan.join("\n");
    assert!(plan.contains("certificates_recipient_trgm"), "{plan}");
    setup.stop().await;

    let proxy = CountingProxy::start(&host_port(direct.expose())).await;
    // Plain text (Debian's PostgreSQL offers TLS), so the proxy can read the messages.
    let mut proxied = direct
        .expose()
        .replace(&host_port(direct.expose()), &proxy.addr);
    proxied.push_str(if proxied.contains('?') {
        "&sslmode=disable"
    } else {
        "?sslmode=disable"
    });
    config.database_url = Some(shared::config::Secret::new(proxied));
    let app = quire::App::start(config, quire::Roles::API, false)
        .await
        .unwrap();
    let base = format!("http://{}", app.addr.unwrap());
    let client = reqwest::Client::new();
    let get = |query: String| {
        client
            .get(format!("{base}/v1/certificates{query}"))
            .bearer_auth(&key)
            .send()
    };
    // Warm the key cache (kept once the process hears of changes, a moment after it
    // starts), then count.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let before = proxy.executes();
        get("?limit=1".into()).await.unwrap();
        if proxy.executes() - before == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the key is never cached"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    for limit in [1, 10, 30] {
        let before = proxy.executes();
        let page: Value = get(format!("?limit={limit}"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(page["certificates"].as_array().unwrap().len(), limit);
        assert_eq!(
            proxy.executes() - before,
            1,
            "queries for a page of {limit}"
        );
    }
    app.stop().await.unwrap();
    drop(dir);
}

async fn pg(url: &str) -> sqlx::PgPool {
    sqlx::PgPool::connect(url).await.unwrap()
}

async fn images(backend: Backend) {
    // API only until the stored inputs are checked (the worker removes them when done).
    let mut app = TestApp::spawn_with(backend, &[quire::Roles::API], |_| {}).await;
    let key = app.new_key("pics").await;
    let encode = |format: image::ImageFormat, alpha: bool| {
        let mut out = std::io::Cursor::new(Vec::new());
        if alpha {
            image::RgbaImage::from_fn(40, 50, |x, _| image::Rgba([200, 10, 10, (x * 5) as u8]))
                .write_to(&mut out, format)
                .unwrap();
        } else {
            image::RgbImage::from_fn(40, 50, |x, y| image::Rgb([x as u8 * 5, y as u8 * 4, 90]))
                .write_to(&mut out, format)
                .unwrap();
        }
        out.into_inner()
    };
    // JPEG, PNG (opaque: converted to JPEG), PNG with transparency, WebP: all render.
    let mut jobs = Vec::new();
    for (format, alpha) in [
        (image::ImageFormat::Jpeg, false),
        (image::ImageFormat::Png, false),
        (image::ImageFormat::Png, true),
        (image::ImageFormat::WebP, false),
    ] {
        let mut body = certificate("Picture Person");
        body["template"] = json!("signature");
        body["photo"] = json!(b64(&encode(format, alpha)));
        body["signature"] = json!(b64(&encode(format, alpha)));
        jobs.push((format, alpha, app.submit_ok(&key, &body).await));
    }
    for (format, alpha, id) in &jobs {
        let stored = std::fs::read(app.dir.path().join("inputs").join(id).join("photo")).unwrap();
        let expected = if *format == image::ImageFormat::Png && !alpha {
            image::ImageFormat::Jpeg
        } else {
            *format
        };
        assert_eq!(
            image::guess_format(&stored).unwrap(),
            expected,
            "{format:?} alpha={alpha}"
        );
    }
    app.add(quire::Roles::WORKER).await;
    for (format, alpha, id) in &jobs {
        let job = app.wait_for(&key, id, &["succeeded", "dead"]).await;
        assert_eq!(
            job["status"], "succeeded",
            "{format:?} alpha={alpha}: {job}"
        );
    }
    // Bad images are 422 at submission, naming the field; nothing is queued.
    let before = app.count_jobs(&key).await;
    let mut truncated = encode(image::ImageFormat::Png, false);
    truncated.truncate(truncated.len() / 2);
    let gif = {
        let mut out = std::io::Cursor::new(Vec::new());
        image::RgbImage::new(4, 4)
            .write_to(&mut out, image::ImageFormat::Gif)
            .unwrap();
        out.into_inner()
    };
    for (field, bytes, code) in [
        ("photo", truncated, "corrupt_image"),
        ("signature", gif, "unsupported_image"),
    ] {
        let mut body = certificate("Broken Picture");
        body[field] = json!(b64(&bytes));
        let (status, error) = error_of(app.submit(&key, &body).await).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
        assert_eq!(
            (error["code"].as_str(), error["field"].as_str()),
            (Some(code), Some(field)),
            "{error}"
        );
    }
    let mut huge = certificate("Huge");
    let wide = {
        let mut out = std::io::Cursor::new(Vec::new());
        image::GrayImage::new(20_000, 2)
            .write_to(&mut out, image::ImageFormat::Png)
            .unwrap();
        out.into_inner()
    };
    huge["photo"] = json!(b64(&wide));
    let (_, error) = error_of(app.submit(&key, &huge).await).await;
    assert_eq!(error["code"], "image_dimensions", "{error}");
    assert_eq!(app.count_jobs(&key).await, before);
    app.stop().await;
}

#[tokio::test]
async fn embedded_images() {
    images(Backend::Embedded).await;
}

#[tokio::test]
async fn production_images() {
    images(Backend::Production).await;
}

async fn batches(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.new_key("bulk").await;
    let post = |body: reqwest::Body, content_type: &'static str, query: &'static str| {
        let app = &app;
        let key = key.clone();
        async move {
            app.client
                .post(app.url(&format!("/v1/certificates/batch{query}")))
                .bearer_auth(key)
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap()
        }
    };
    // Any bad row rejects the whole batch, every bad row listed with its number and field.
    let rows: Vec<Value> = (0..20)
        .map(|i| match i {
            3 => json!({"recipient_name": "", "course_name": "C"}),
            7 => json!({"recipient_name": "Seven", "course_name": "C", "issued_on": "7/7/2026"}),
            _ => json!({"recipient_name": format!("Row {i}"), "course_name": "Bulk Course"}),
        })
        .collect();
    let body = json!({"template": "classic", "rows": rows});
    let (status, error) =
        error_of(post(body.to_string().into(), "application/json", "").await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    let listed: Vec<(u64, String)> = error["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row"].as_u64().unwrap(),
                e["field"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        vec![(4, "recipient_name".into()), (8, "issued_on".into())]
    );
    assert_eq!(app.count_jobs(&key).await, 0, "nothing accepted");

    // CSV: header row = field names; template fields as extra columns.
    let csv = "recipient_name,course_name,issued_on,grade\nAda,Math,2026-01-02,A\n\"Turing, Alan\",CS,,B\nGrace,Navy,2026-03-04,\n";
    let response = post(csv.into(), "text/csv", "?template=classic").await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let batch: Value = response.json().await.unwrap();
    assert_eq!(batch["total"], 3);
    let id = batch["id"].as_str().unwrap().to_owned();
    // Not complete yet, or already: either way the archive answers accordingly.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        let status: Value = app
            .get(&key, &format!("/v1/batches/{id}"))
            .await
            .json()
            .await
            .unwrap();
        if status["complete"] == true {
            break status;
        }
        let early = app.get(&key, &format!("/v1/batches/{id}/archive")).await;
        if early.status() != StatusCode::CONFLICT {
            // Only because the batch completed between the two requests.
            assert_eq!(early.status(), StatusCode::OK);
            let now: Value = app
                .json_at(Some(&key), app.url(&format!("/v1/batches/{id}")))
                .await;
            assert_eq!(now["complete"], true, "archive served early: {now}");
        }
        assert!(tokio::time::Instant::now() < deadline, "{status}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(status["counts"]["succeeded"], 3, "{status}");
    assert_eq!(status["progress"], 1.0);
    let page: Value = app
        .get(&key, &format!("/v1/certificates?batch={id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["certificates"].as_array().unwrap().len(), 3);

    let response = app.get(&key, &format!("/v1/batches/{id}/archive")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/zip");
    let zip_bytes = response.bytes().await.unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes.to_vec())).expect("a ZIP");
    assert_eq!(zip.len(), 4, "3 PDFs and the manifest");
    let mut texts = Vec::new();
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).unwrap();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        if entry.name().ends_with(".pdf") {
            texts.push(pdf_text(&bytes));
        } else {
            let manifest = String::from_utf8(bytes).unwrap();
            assert!(manifest.contains("Turing, Alan"), "{manifest}");
        }
    }
    for name in ["Ada", "Turing, Alan", "Grace"] {
        assert!(texts.iter().any(|t| t.contains(name)), "{name} missing");
    }

    // Other owners see nothing of it.
    let other = app.new_key("other").await;
    assert_eq!(
        app.get(&other, &format!("/v1/batches/{id}")).await.status(),
        StatusCode::NOT_FOUND
    );
    // Bad uploads.
    let (status, error) = error_of(post("[]".into(), "application/json", "").await).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_body"))
    );
    let (status, _) = error_of(post("{".into(), "application/json", "").await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, error) = error_of(
        post(
            json!({"rows": []}).to_string().into(),
            "application/json",
            "",
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("empty_batch"))
    );
    let (status, _) = error_of(post("a,b\n1\n".into(), "text/csv", "").await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, error) = error_of(
        post(
            "recipient_name,course_name,nope\nA,B,C\n".into(),
            "text/csv",
            "",
        )
        .await,
    )
    .await;
    assert_eq!(error["errors"][0]["field"], "fields.nope", "{error}");
    app.stop().await;
}

#[tokio::test]
async fn embedded_batches() {
    batches(Backend::Embedded).await;
}

#[tokio::test]
async fn production_batches() {
    batches(Backend::Production).await;
}

/// A TCP forwarder to PostgreSQL that counts the statements clients execute: the extended
/// protocol's Execute ('E') messages plus simple Query ('Q') messages, client to server.
struct CountingProxy {
    addr: String,
    count: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl CountingProxy {
    async fn start(target: &str) -> CountingProxy {
        use std::sync::atomic::Ordering;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let target = target.to_owned();
        let counter = count.clone();
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                let server = tokio::net::TcpStream::connect(&target).await.unwrap();
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
                });
                let counter = counter.clone();
                tokio::spawn(async move {
                    // Untyped start-up messages (SSLRequest, StartupMessage), then typed ones.
                    let mut started = false;
                    let mut pending: Vec<u8> = Vec::new();
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = match client_read.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        if server_write.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                        pending.extend_from_slice(&buf[..n]);
                        loop {
                            let header = if started { 5 } else { 4 };
                            if pending.len() < header {
                                break;
                            }
                            let at = if started { 1 } else { 0 };
                            let len = u32::from_be_bytes(pending[at..at + 4].try_into().unwrap())
                                as usize;
                            let total = len + at;
                            if pending.len() < total {
                                break;
                            }
                            if started {
                                if matches!(pending[0], b'E' | b'Q') {
                                    counter.fetch_add(1, Ordering::SeqCst);
                                }
                            } else {
                                let code = u32::from_be_bytes(pending[4..8].try_into().unwrap());
                                // 3.0 StartupMessage: typed messages follow.
                                if code == 196_608 {
                                    started = true;
                                }
                            }
                            pending.drain(..total);
                        }
                    }
                });
            }
        });
        CountingProxy { addr, count }
    }

    fn executes(&self) -> usize {
        self.count.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Where a 10,000-row batch's acceptance time goes (`TEST_LOG=1` shows the breakdown);
/// `bench --mode batch` is the measurement.
#[tokio::test]
#[ignore = "a measurement, not a check"]
async fn batch_acceptance_breakdown() {
    for backend in [Backend::Production, Backend::Embedded] {
        batch_acceptance(backend).await;
    }
}

async fn batch_acceptance(backend: Backend) {
    let app = TestApp::spawn_with(backend, &[quire::Roles::API], |_| {}).await;
    let key = app.new_key("bulk").await;
    let mut csv = String::from("recipient_name,course_name\n");
    for i in 0..10_000 {
        csv.push_str(&format!("Recipient Número {i},Bulk Course\n"));
    }
    let started = std::time::Instant::now();
    let response = app
        .client
        .post(app.url("/v1/certificates/batch"))
        .bearer_auth(&key)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    eprintln!("{backend:?}: accepted in {:?}", started.elapsed());
    app.stop().await;
}
