//! How public answers (verification, the public registry) may be cached by a CDN or a
//! browser: `Cache-Control` and the cache tags of what each depends on (`Surrogate-Key`,
//! `Cache-Tag`; names from `shared::cdn`, which the purges use too).

use axum::http::{HeaderName, header};
use axum::response::AppendHeaders;
use shared::config::Config;
use shared::db::CertificateStatus;
use shared::domain::CalendarDate;

/// How a public answer may be cached: `max-age` and the tags of what it depends on.
pub struct Caching {
    pub max_age: u64,
    pub tags: Vec<String>,
}

impl Caching {
    /// `Cache-Control` (`no-cache` for a `max_age` of 0: revalidate every time) and, when it
    /// has tags, `Surrogate-Key` and `Cache-Tag`.
    pub fn headers(&self) -> AppendHeaders<Vec<(HeaderName, String)>> {
        let control = match self.max_age {
            0 => "no-cache".to_owned(),
            secs => format!("public, max-age={secs}"),
        };
        let mut headers = vec![(header::CACHE_CONTROL, control)];
        if !self.tags.is_empty() {
            headers.push((
                HeaderName::from_static("surrogate-key"),
                shared::cdn::surrogate_key(&self.tags),
            ));
            headers.push((
                HeaderName::from_static("cache-tag"),
                shared::cdn::cache_tag(&self.tags),
            ));
        }
        AppendHeaders(headers)
    }
}

/// How long a CDN or browser may reuse a public answer without asking again, unless a purge
/// can reach it.
pub const MAX_AGE_SECS: u64 = 60;

/// The `max-age` of a verification: `cdn.max_age_secs` when purging is configured and only a
/// purge can change the answer (revoked and expired for good; valid until revoked or its
/// expiry, which no purge announces); 60 otherwise (a pending one becomes valid unannounced).
pub fn verification_max_age(
    config: &Config,
    status: CertificateStatus,
    expires_on: Option<CalendarDate>,
) -> u64 {
    if config.purging().is_none() {
        return MAX_AGE_SECS;
    }
    let long = config.cdn.max_age_secs;
    match status {
        CertificateStatus::Revoked | CertificateStatus::Expired => long,
        CertificateStatus::Valid => expires_on.map_or(long, |until| {
            // Expired from the next day's midnight, UTC (as `CalendarDate::today`).
            let end = until
                .date()
                .next_day()
                .map(|d| d.midnight().assume_utc().unix_timestamp());
            let left = end.map_or(0, |end| {
                end - time::OffsetDateTime::now_utc().unix_timestamp()
            });
            long.min(u64::try_from(left).unwrap_or(0))
        }),
        _ => MAX_AGE_SECS,
    }
}

/// The public registry's caching: 60 s whatever is configured (a newly issued certificate
/// appears unannounced), tagged `registry` and, filtered by a template, that template.
pub fn registry(template_id: Option<&str>) -> Caching {
    let mut tags = vec![shared::cdn::REGISTRY.to_owned()];
    tags.extend(template_id.map(shared::cdn::template));
    Caching {
        max_age: MAX_AGE_SECS,
        tags,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_answers_a_purge_reaches_live_longer() {
        let mut config = Config::default();
        let today = CalendarDate::today();
        let age = |c: &Config, status, until| verification_max_age(c, status, until);
        assert_eq!(age(&config, CertificateStatus::Revoked, None), 60);
        config.cdn.purge_url = Some("http://127.0.0.1:6081".into());
        config.cdn.max_age_secs = 3600;
        assert_eq!(age(&config, CertificateStatus::Revoked, None), 3600);
        assert_eq!(age(&config, CertificateStatus::Expired, None), 3600);
        assert_eq!(age(&config, CertificateStatus::Valid, None), 3600);
        assert_eq!(age(&config, CertificateStatus::Pending, None), 60);
        // Valid through today: cached at most until midnight UTC, when it expires.
        config.cdn.max_age_secs = 7 * 24 * 3600;
        let left = age(&config, CertificateStatus::Valid, Some(today));
        assert!((1..=24 * 3600).contains(&left), "{left}");
        let tomorrow = CalendarDate::new(today.date().next_day().unwrap());
        let left = age(&config, CertificateStatus::Valid, Some(tomorrow));
        assert!((24 * 3600..=48 * 3600).contains(&left), "{left}");
    }
}
