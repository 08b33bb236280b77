//! The public URLs quire hands out (in answers, `Location` headers, emails and QR codes): one
//! function per resource, so a path is written here once, beside the router's own patterns
//! (`api::router`) and the OpenAPI document's. Each takes the public base URL (a trailing `/`
//! is ignored).

use std::fmt::Display;

fn base(public_base_url: &str) -> &str {
    public_base_url.trim_end_matches('/')
}

/// A job's status: `GET /v1/jobs/{id}`.
pub fn job(public_base_url: &str, id: impl Display) -> String {
    format!("{}/v1/jobs/{id}", base(public_base_url))
}

/// A job's file: `GET /v1/jobs/{id}/file`.
pub fn job_file(public_base_url: &str, id: impl Display) -> String {
    format!("{}/v1/jobs/{id}/file", base(public_base_url))
}

/// A batch's progress: `GET /v1/batches/{id}`.
pub fn batch(public_base_url: &str, id: impl Display) -> String {
    format!("{}/v1/batches/{id}", base(public_base_url))
}

/// A batch's archive of PDFs: `GET /v1/batches/{id}/archive`.
pub fn batch_archive(public_base_url: &str, id: impl Display) -> String {
    format!("{}/v1/batches/{id}/archive", base(public_base_url))
}

/// A batch's certificates in the registry: `GET /v1/certificates?batch={id}`.
pub fn batch_certificates(public_base_url: &str, id: impl Display) -> String {
    format!("{}/v1/certificates?batch={id}", base(public_base_url))
}

/// A workflow's steps and progress: `GET /v1/workflows/{id}`.
pub fn workflow(public_base_url: &str, id: impl Display) -> String {
    format!("{}/v1/workflows/{id}", base(public_base_url))
}

/// A template: `GET /v1/templates/{id}`.
pub fn template(public_base_url: &str, id: impl Display) -> String {
    format!("{}/v1/templates/{id}", base(public_base_url))
}

/// The public verification of a document: `GET /v1/verify/{code}`.
pub fn verify(public_base_url: &str, code: impl Display) -> String {
    format!("{}/v1/verify/{code}", base(public_base_url))
}

/// A certificate's Open Badges credential (a VC-JWT): `GET /v1/verify/{code}/credential`.
pub fn credential(public_base_url: &str, code: impl Display) -> String {
    format!("{}/v1/verify/{code}/credential", base(public_base_url))
}

/// A revocation status list credential: `GET /v1/credentials/status/{list}`.
pub fn status_list(public_base_url: &str, list: i64) -> String {
    format!("{}/v1/credentials/status/{list}", base(public_base_url))
}

/// The credential issuer's DID document, where `did:web` resolves it: `{base}/did.json` when
/// the base URL has a path, `/.well-known/did.json` otherwise (quire serves both).
pub fn did_document(public_base_url: &str) -> String {
    let base = base(public_base_url);
    let has_path = base
        .split_once("://")
        .is_some_and(|(_, rest)| rest.contains('/'));
    if has_path {
        format!("{base}/did.json")
    } else {
        format!("{base}/.well-known/did.json")
    }
}

/// A signed download link: `GET /v1/files/{job}?expires=…&sig=…`.
pub fn signed_file(public_base_url: &str, job: impl Display, expires: i64, sig: &str) -> String {
    format!(
        "{}/v1/files/{job}?expires={expires}&sig={sig}",
        base(public_base_url)
    )
}

/// A webhook endpoint: `GET /v1/webhooks/{id}`.
pub fn webhook(public_base_url: &str, id: impl Display) -> String {
    format!("{}/v1/webhooks/{id}", base(public_base_url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trailing_slash_of_the_base_is_ignored() {
        assert_eq!(
            verify("https://example.test/quire/", "X"),
            "https://example.test/quire/v1/verify/X"
        );
        assert_eq!(batch("http://h", "b1"), "http://h/v1/batches/b1");
    }

    #[test]
    fn the_did_document_is_where_did_web_resolves_it() {
        assert_eq!(
            did_document("https://q.example:8443/"),
            "https://q.example:8443/.well-known/did.json"
        );
        assert_eq!(
            did_document("https://q.example/a/b/"),
            "https://q.example/a/b/did.json"
        );
    }
}
