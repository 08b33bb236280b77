//! Open Badges 3.0 credentials, checked as a third party would: `deploy/credential-check.py`
//! verifies each served VC-JWT with jwcrypto against the DID document quire serves, validates
//! it against the Open Badges 3.0 data model (`deploy/openbadges-credential.schema.json`),
//! sees a changed byte rejected, and reads its bit in the served status list; a revocation
//! through the API flips that bit and no other.

use std::path::Path;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, certificate, error_of, html_unescape};

/// What deploy/credential-check.py makes of the credential at `url`, on a blocking thread
/// (the test's runtime also runs the app it fetches from).
async fn check(url: &str) -> Value {
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/credential-check.py");
        let out = std::process::Command::new("python3")
            .arg(script)
            .arg(&url)
            .output()
            .expect(
                "python3 runs deploy/credential-check.py (deploy/test-services.sh installs \
                 jwcrypto and jsonschema)",
            );
        assert!(
            out.status.success(),
            "credential-check.py {url}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    })
    .await
    .unwrap()
}

/// A certificate issued by `key`, rendered: its view from `GET /v1/certificates/{id}`.
async fn issue(app: &TestApp, key: &str, name: &str) -> Value {
    let id = app.submit_ok(key, &certificate(name)).await;
    let job = app.wait_for(key, &id, &["succeeded", "dead"]).await;
    assert_eq!(job["status"], "succeeded", "{job}");
    app.get(key, &format!("/v1/certificates/{id}"))
        .await
        .json()
        .await
        .unwrap()
}

async fn credentials_verify_and_revoke(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let key = app.new_key("academy").await;
    let ada = issue(&app, &key, "Ada Lovelace").await;
    let alan = issue(&app, &key, "Alan Turing").await;
    let code = ada["verification_code"].as_str().unwrap();
    let url = ada["credential_url"]
        .as_str()
        .expect("an issued certificate has a credential");
    assert_eq!(url, app.url(&format!("/v1/verify/{code}/credential")));

    // Valid, by an independent implementation, and it says what the certificate says.
    let checked = check(url).await;
    assert_eq!(checked["signature"], "valid", "{checked}");
    assert_eq!(checked["schema"], "valid", "{checked}");
    assert_eq!(checked["tampered"], "rejected", "{checked}");
    assert_eq!(checked["revoked"], false, "{checked}");
    let credential = &checked["credential"];
    let subject = &credential["credentialSubject"];
    assert_eq!(subject["identifier"][0]["identityHash"], "Ada Lovelace");
    assert_eq!(subject["achievement"]["name"], "Advanced Typesetting");
    assert_eq!(credential["issuer"]["name"], "Quire Academy");
    assert_eq!(credential["validFrom"], "2026-11-21T00:00:00Z");
    let host = app.base.trim_start_matches("http://").replace(':', "%3A");
    assert_eq!(checked["issuer"], format!("did:web:{host}"));
    let verify = app.url(&format!("/v1/verify/{code}"));
    assert_eq!(subject["achievement"]["criteria"]["id"], verify);
    let alan_checked = check(alan["credential_url"].as_str().unwrap()).await;
    assert_ne!(
        credential["credentialStatus"]["id"], alan_checked["credential"]["credentialStatus"]["id"],
        "each credential has its own entry"
    );

    // The same bytes every time (deterministic signatures), so the ETag holds.
    let first = app.client.get(url).send().await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let etag = first.headers()["etag"].clone();
    let body = first.text().await.unwrap();
    let again = app.client.get(url).send().await.unwrap();
    assert_eq!(again.text().await.unwrap(), body);
    let unchanged = app
        .client
        .get(url)
        .header("If-None-Match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(unchanged.status(), StatusCode::NOT_MODIFIED);

    // The verification answer and page link it.
    let verification = app.json_at(None, &verify).await;
    assert_eq!(verification["credential_url"], url, "{verification}");
    let page = app
        .client
        .get(&verify)
        .header("Accept", "text/html")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html_unescape(&page).contains(url), "{page}");

    // Revoked through the API: the list says so at once, for this credential only.
    let revoked = app
        .post(
            &key,
            &format!("/v1/certificates/{}/revoke", ada["id"].as_str().unwrap()),
            &json!({"reason": "issued in error"}),
        )
        .await;
    assert_eq!(revoked.status(), StatusCode::OK);
    let checked = check(url).await;
    assert_eq!(checked["signature"], "valid", "{checked}");
    assert_eq!(checked["revoked"], true, "{checked}");
    assert_eq!(checked["revoked_in_list"], 1, "{checked}");
    let alan_checked = check(alan["credential_url"].as_str().unwrap()).await;
    assert_eq!(alan_checked["revoked"], false, "{alan_checked}");

    // The DID document where did:web looks, and its alias for base URLs with a path.
    let well_known = app.json_at(None, app.url("/.well-known/did.json")).await;
    assert_eq!(well_known, app.json_at(None, app.url("/did.json")).await);
    assert_eq!(well_known["id"], checked["issuer"]);

    // No list beyond the bound; a path that is not a number is the usual 400.
    let (status, body) = error_of(app.get("", "/v1/credentials/status/-1").await).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = error_of(app.get("", "/v1/credentials/status/first").await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, _) = error_of(app.get("", "/v1/verify/NONE-NONE-NONE/credential").await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn embedded_credentials_verify_and_revoke() {
    credentials_verify_and_revoke(Backend::Embedded).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn production_credentials_verify_and_revoke() {
    credentials_verify_and_revoke(Backend::Production).await;
}
