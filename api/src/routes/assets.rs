//! Static assets (the verification page's stylesheet, the dashboard's stylesheet and script), compiled into the binary and served
//! under content-hashed names (`/assets/verify.3f2a9c41d07e.css`) with
//! `Cache-Control: public, max-age=31536000, immutable`: a CDN or browser keeps them for a
//! year, and a changed file gets a new name, so nothing ever needs invalidating.

use std::sync::LazyLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::extract::ApiPath;

struct Asset {
    /// The name pages use: `verify.css`.
    logical: &'static str,
    /// The name it is served under: `verify.<12 hex of its sha256>.css`.
    hashed: String,
    content_type: &'static str,
    bytes: &'static [u8],
}

static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    [
        (
            "verify.css",
            "text/css; charset=utf-8",
            include_bytes!("../../../templates/web/verify.css").as_slice(),
        ),
        (
            "dashboard.css",
            "text/css; charset=utf-8",
            include_bytes!("../../../templates/dashboard/dashboard.css").as_slice(),
        ),
        (
            "dashboard.js",
            "text/javascript; charset=utf-8",
            include_bytes!("../../../templates/dashboard/dashboard.js").as_slice(),
        ),
    ]
    .into_iter()
    .map(|(logical, content_type, bytes)| {
        let digest = hex::encode(Sha256::digest(bytes));
        let (stem, ext) = logical.rsplit_once('.').unwrap_or((logical, ""));
        Asset {
            logical,
            hashed: format!("{stem}.{}.{ext}", &digest[..12]),
            content_type,
            bytes,
        }
    })
    .collect()
});

/// The path a page links `logical` by (`/assets/verify.<hash>.css`).
pub fn url(logical: &str) -> String {
    let asset = ASSETS
        .iter()
        .find(|a| a.logical == logical)
        .expect("a built-in asset");
    format!("/assets/{}", asset.hashed)
}

/// A static asset by its hashed name; any other name is 404 (an old hash included: the
/// page that named it is stale, and a CDN must not cache the new file under the old name).
pub async fn asset(ApiPath(name): ApiPath<String>) -> Result<Response, ApiError> {
    let asset = ASSETS
        .iter()
        .find(|a| a.hashed == name)
        .ok_or(ApiError::NotFound("asset"))?;
    Ok((
        [
            (header::CONTENT_TYPE, asset.content_type),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        asset.bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_content_hash() {
        let path = url("verify.css");
        let name = path.strip_prefix("/assets/").unwrap();
        let digest = hex::encode(Sha256::digest(include_bytes!(
            "../../../templates/web/verify.css"
        )));
        assert_eq!(name, format!("verify.{}.css", &digest[..12]));
    }
}
