//! Cache tags and purges for a CDN in front of the public answers (issue 36). A public answer
//! names what it depends on (`Surrogate-Key`: space-separated, Varnish and Fastly;
//! `Cache-Tag`: comma-separated, Cloudflare); a change that makes answers stale inserts a
//! `purge` maintenance job naming the same tags in the transaction of the change, so a purge
//! exists exactly when its change committed, and a worker sends it until the CDN accepts it.
//! Tag names are made here only: the headers and the purges cannot disagree.

use crate::jobs::{MaintenancePayload, MaintenanceTask};

/// The public registry (`GET /v1/certificates/public`), every filter and page of it.
pub const REGISTRY: &str = "registry";

/// Most tags one purge request carries (Cloudflare accepts 30 per call); a purge with more
/// sends several requests.
pub const MAX_TAGS_PER_REQUEST: usize = 30;

/// A certificate's verification (JSON and HTML), by its code as printed.
pub fn certificate(code: &str) -> String {
    format!("cert-{code}")
}

/// Answers that depend on a template's name or visibility (the registry filtered by it).
pub fn template(id: &str) -> String {
    format!("template-{id}")
}

/// What a change of one certificate (revoked, deleted) makes stale: its verification and,
/// when it is listed publicly, the registry.
pub fn certificate_tags(code: &str, is_public: bool) -> Vec<String> {
    let mut tags = vec![certificate(code)];
    if is_public {
        tags.push(REGISTRY.to_owned());
    }
    tags
}

/// The verification code a `cert-` tag names (what a `PURGE` of its URLs needs).
pub fn code_of(tag: &str) -> Option<&str> {
    tag.strip_prefix("cert-")
}

/// A tag is 1 to 128 ASCII letters, digits and `-`: nothing a header, a list separator or
/// a Varnish ban regex reads specially. Codes and template ids are made of these.
pub fn is_tag(tag: &str) -> bool {
    (1..=128).contains(&tag.len()) && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// The `Surrogate-Key` header value.
pub fn surrogate_key(tags: &[String]) -> String {
    tags.join(" ")
}

/// The `Cache-Tag` header value.
pub fn cache_tag(tags: &[String]) -> String {
    tags.join(",")
}

/// Purging as configured (`Config::purging`): present only when `cdn.purge_url` is set, so
/// an unconfigured deployment inserts no purge job at all. The database inserts the job
/// (`Db`'s functions that change what public answers show take one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Purging {
    /// Attempts of each purge job (`cdn.max_attempts`).
    pub max_attempts: u32,
}

impl Purging {
    /// The `purge` job's payload for `tags` (valid ones, sorted, each once); `None` when
    /// there is nothing to purge.
    pub fn payload(&self, mut tags: Vec<String>) -> Option<MaintenancePayload> {
        tags.retain(|t| is_tag(t));
        tags.sort();
        tags.dedup();
        if tags.is_empty() {
            return None;
        }
        Some(MaintenancePayload {
            task: MaintenanceTask::Purge,
            schedule: None,
            probe: None,
            tags,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_safe_in_headers_and_ban_regexes() {
        assert!(is_tag(&certificate("ABCD-EFGH-JKLM")));
        assert!(is_tag(&template("0194b0c2-7c1e-7d2a-9f00-3b8d2c4e5f61")));
        assert!(is_tag(REGISTRY));
        for bad in [
            "",
            "a b",
            "a,b",
            "a|b",
            "a.b",
            "cert-\u{e9}",
            &"x".repeat(129),
        ] {
            assert!(!is_tag(bad), "{bad:?}");
        }
        assert_eq!(code_of(&certificate("AB-CD")), Some("AB-CD"));
        assert_eq!(code_of(REGISTRY), None);
    }

    #[test]
    fn a_purge_names_each_valid_tag_once() {
        let purging = Purging { max_attempts: 7 };
        assert!(purging.payload(Vec::new()).is_none());
        assert!(purging.payload(vec!["bad tag".into()]).is_none());
        let payload = purging
            .payload(vec![REGISTRY.into(), certificate("AB"), REGISTRY.into()])
            .unwrap();
        assert_eq!(payload.task, MaintenanceTask::Purge);
        assert_eq!(
            payload.tags,
            vec!["cert-AB".to_owned(), "registry".to_owned()]
        );
        assert_eq!(surrogate_key(&payload.tags), "cert-AB registry");
        assert_eq!(cache_tag(&payload.tags), "cert-AB,registry");
    }
}
