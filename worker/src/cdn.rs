//! Sending CDN purges (`cdn.*`, see `shared::cdn`): one pooled HTTP client per worker, no
//! redirects. What a purge of some tags sends is planned by [`plan`] alone (no I/O, tested
//! per style); [`Purger::purge`] sends the plan and succeeds only when every request got a
//! 2xx. The target is the operator's, not a user's: no target policy applies, and only its
//! scheme, host and port ever appear in an error.

use std::time::Duration;

use shared::cdn::{self, MAX_TAGS_PER_REQUEST};
use shared::config::{Config, PurgeStyle, Secret};

/// Sends purges as configured.
#[derive(Clone)]
pub struct Purger {
    client: reqwest::Client,
    url: String,
    style: PurgeStyle,
    token: Option<Secret<String>>,
    /// `host[:port]` of `public_base_url`: the `Host` of a `PURGE`, so it names the cached
    /// URL as clients fetched it.
    public_host: Option<String>,
}

/// One request of a purge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<String>,
}

/// The requests that purge `tags` in `style` at `url`: chunks of at most
/// [`MAX_TAGS_PER_REQUEST`] tags, or with `varnish-purge` one `PURGE` per URL the tags stand
/// for (a verification's two paths, the unfiltered registry; a template's answers have no
/// URL of their own and are left to their `max-age`).
pub fn plan(style: PurgeStyle, url: &str, tags: &[String]) -> Vec<Planned> {
    match style {
        PurgeStyle::VarnishBan => tags
            .chunks(MAX_TAGS_PER_REQUEST)
            .map(|chunk| Planned {
                method: "BAN",
                url: url.to_owned(),
                headers: vec![("x-purge-tags", cdn::surrogate_key(chunk))],
                body: None,
            })
            .collect(),
        PurgeStyle::SurrogateKeyApi => tags
            .chunks(MAX_TAGS_PER_REQUEST)
            .map(|chunk| Planned {
                method: "POST",
                url: url.to_owned(),
                headers: vec![
                    ("surrogate-key", cdn::surrogate_key(chunk)),
                    ("content-type", "application/json".to_owned()),
                ],
                body: Some(serde_json::json!({ "tags": chunk }).to_string()),
            })
            .collect(),
        PurgeStyle::VarnishPurge => {
            let base = url.trim_end_matches('/');
            tags.iter()
                .flat_map(|tag| {
                    let paths = match (cdn::code_of(tag), tag.as_str()) {
                        (Some(code), _) => {
                            vec![format!("/v1/verify/{code}"), format!("/verify/{code}")]
                        }
                        (None, cdn::REGISTRY) => vec!["/v1/certificates/public".to_owned()],
                        (None, _) => Vec::new(),
                    };
                    paths.into_iter().map(move |path| Planned {
                        method: "PURGE",
                        url: format!("{base}{path}"),
                        headers: Vec::new(),
                        body: None,
                    })
                })
                .collect()
        }
    }
}

impl Purger {
    /// `None` when `cdn.purge_url` is unset.
    pub fn from_config(config: &Config) -> anyhow::Result<Option<Purger>> {
        let Some(url) = config.cdn.purge_url.clone() else {
            return Ok(None);
        };
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.cdn.timeout_secs))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let public_host = reqwest::Url::parse(&config.public_base_url())
            .ok()
            .and_then(|u| {
                let host = u.host_str()?.to_owned();
                Some(match u.port() {
                    Some(port) => format!("{host}:{port}"),
                    None => host,
                })
            });
        Ok(Some(Purger {
            client,
            url,
            style: config.cdn.style,
            token: config.cdn.token.clone(),
            public_host,
        }))
    }

    /// Sends the purge of `tags`; `Ok(requests sent)`, or what went wrong (redacted) at the
    /// first request that did not get a 2xx. Purges are idempotent: a retry sends all again.
    pub async fn purge(&self, tags: &[String]) -> Result<usize, String> {
        let planned = plan(self.style, &self.url, tags);
        for request in &planned {
            self.send(request).await?;
        }
        Ok(planned.len())
    }

    async fn send(&self, planned: &Planned) -> Result<(), String> {
        let method = reqwest::Method::from_bytes(planned.method.as_bytes())
            .map_err(|e| format!("method {}: {e}", planned.method))?;
        let mut request = self.client.request(method, &planned.url);
        for (name, value) in &planned.headers {
            request = request.header(*name, value);
        }
        if self.style == PurgeStyle::VarnishPurge
            && let Some(host) = &self.public_host
        {
            request = request.header(reqwest::header::HOST, host);
        }
        if let Some(token) = &self.token {
            request = request.bearer_auth(token.expose());
            if self.style == PurgeStyle::SurrogateKeyApi {
                request = request.header("fastly-key", token.expose());
            }
        }
        if let Some(body) = &planned.body {
            request = request.body(body.clone());
        }
        let target = shared::webhooks::redact_url(&planned.url);
        match request.send().await {
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) => Err(format!(
                "{} {target} answered {}",
                planned.method,
                response.status().as_u16()
            )),
            Err(e) => Err(format!(
                "{} {target}: {}",
                planned.method,
                shared::webhooks::redact_in(
                    &crate::delivery::describe(&e.without_url()),
                    &self.url
                )
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(n: usize) -> Vec<String> {
        (0..n).map(|i| cdn::certificate(&format!("C{i}"))).collect()
    }

    #[test]
    fn a_ban_names_the_tags_in_chunks() {
        let planned = plan(PurgeStyle::VarnishBan, "http://127.0.0.1:6081", &tags(31));
        assert_eq!(planned.len(), 2);
        assert_eq!(planned[0].method, "BAN");
        assert_eq!(planned[0].url, "http://127.0.0.1:6081");
        assert!(planned[0].headers[0].1.starts_with("cert-C0 cert-C1 "));
        assert_eq!(
            planned[1].headers,
            vec![("x-purge-tags", "cert-C30".to_owned())]
        );
    }

    #[test]
    fn the_api_style_sends_a_header_and_a_json_body() {
        let tags = vec![cdn::certificate("AB"), cdn::REGISTRY.to_owned()];
        let planned = plan(
            PurgeStyle::SurrogateKeyApi,
            "https://api.example/purge",
            &tags,
        );
        assert_eq!(planned.len(), 1);
        assert_eq!(planned[0].method, "POST");
        assert!(
            planned[0]
                .headers
                .contains(&("surrogate-key", "cert-AB registry".to_owned()))
        );
        let body: serde_json::Value =
            serde_json::from_str(planned[0].body.as_deref().unwrap()).unwrap();
        assert_eq!(body, serde_json::json!({ "tags": ["cert-AB", "registry"] }));
    }

    #[test]
    fn a_purge_per_url_covers_what_has_a_url() {
        let tags = vec![
            cdn::certificate("AB-CD"),
            cdn::REGISTRY.to_owned(),
            cdn::template("t1"),
        ];
        let urls: Vec<String> = plan(PurgeStyle::VarnishPurge, "http://varnish:6081/", &tags)
            .into_iter()
            .inspect(|p| assert_eq!(p.method, "PURGE"))
            .map(|p| p.url)
            .collect();
        assert_eq!(
            urls,
            [
                "http://varnish:6081/v1/verify/AB-CD",
                "http://varnish:6081/verify/AB-CD",
                "http://varnish:6081/v1/certificates/public",
            ]
        );
    }
}
