//! Keys: required on /v1, scoped to their own jobs, revocable.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

async fn isolation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alice = app.new_key("alice").await;
    let bob = app.new_key("bob").await;
    let id = app.submit_ok(&alice, &certificate("Alice Only")).await;
    app.wait_for(&alice, &id, &["succeeded"]).await;

    // Another owner's job does not exist for bob: 404, not 403.
    for path in [format!("/v1/jobs/{id}"), format!("/v1/jobs/{id}/file")] {
        let (status, error) = error_of(app.get(&bob, &path).await).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(error["code"], "not_found");
    }
    let response = app
        .client
        .post(app.url(&format!("/v1/jobs/{id}/cancel")))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.count_jobs(&bob).await, 0);
    assert_eq!(app.count_jobs(&alice).await, 1);

    // Admin sees everything.
    assert_eq!(
        app.get(&app.admin, &format!("/v1/jobs/{id}"))
            .await
            .status(),
        StatusCode::OK
    );
    let page: Value = app
        .get(&app.admin, "/v1/jobs?kind=certificate")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        page["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["id"] == id.as_str())
    );
    app.stop().await;
}

#[tokio::test]
async fn embedded_owners_see_only_their_jobs() {
    isolation(Backend::Embedded).await;
}

#[tokio::test]
async fn production_owners_see_only_their_jobs() {
    isolation(Backend::Production).await;
}

#[tokio::test]
async fn keys_are_required_and_revocable() {
    let app = TestApp::spawn(Backend::Embedded).await;
    // No header, a malformed header, an unknown key.
    let response = app.client.get(app.url("/v1/jobs")).send().await.unwrap();
    let (status, error) = error_of(response).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );
    let response = app
        .client
        .get(app.url("/v1/jobs"))
        .header("authorization", "Basic abc")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let (status, _) = error_of(app.get("qk_not_a_real_key", "/v1/jobs").await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = error_of(app.submit("qk_not_a_real_key", &certificate("X")).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Every /v1 endpoint but the public ones needs a key; health does not.
    assert_eq!(
        app.client
            .get(app.url("/v1/templates"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.client
            .get(app.url("/health"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.client
            .get(app.url("/ready"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );

    // A revoked key stops working (the revocation is read through after the cache's TTL;
    // this key was never used, so nothing is cached).
    let created = app.db.create_key("temp", false).await.unwrap();
    assert!(app.db.revoke_key(&created.key.id).await.unwrap());
    let (status, _) = error_of(app.get(created.secret.expose(), "/v1/jobs").await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Keys are stored hashed: the secret appears nowhere in the database files (WAL included).
    let secret = created.secret.expose().as_bytes();
    for entry in std::fs::read_dir(app.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("app.db")
        {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret),
                "{}",
                path.display()
            );
        }
    }
    app.stop().await;
}
