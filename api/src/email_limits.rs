//! The email limits every submission that sends email goes through (`POST /v1/emails`, and
//! `notify` on certificates and reports): the key's recipient domains and its hourly and
//! daily quotas.

use shared::db::{EmailCharge, OverQuota, QuotaWindow};
use shared::domain::EmailAddress;

use crate::error::ApiError;
use crate::extract::Caller;
use crate::problems::Problems;
use crate::state::AppState;

/// Most `to` addresses of one email; `cc` and `bcc` have the same limit each.
pub const MAX_RECIPIENTS: usize = 50;

/// A `notify` email of a certificate or report submission: its address must be in the key's
/// domains, and it is charged one recipient (a job sends one notification: `succeeded` or
/// `dead`). `None` without `notify`.
pub(crate) fn notify_charge(
    state: &AppState,
    caller: &Caller,
    notify: Option<&shared::jobs::Notify>,
) -> Result<Option<EmailCharge>, ApiError> {
    let Some(notify) = notify else {
        return Ok(None);
    };
    let mut p = Problems::default();
    check_domain(caller, &mut p, "notify.email", &notify.email);
    let charge = email_charge(state, caller, 1, &mut p);
    p.into_result()?;
    Ok(Some(charge))
}

/// A recipient outside the key's domain list (when it has one) is a problem at `field`.
pub(crate) fn check_domain(caller: &Caller, p: &mut Problems, field: &str, address: &EmailAddress) {
    if let Some(domains) = &caller.email.domains
        && !domains.allows(address)
    {
        p.add(
            field,
            "domain_not_allowed",
            format!(
                "`{field}`: this key may only email addresses at {domains} (or their subdomains)"
            ),
        );
    }
}

/// What a submission that emails `recipients` addresses is charged: the key's own quotas or
/// else the settings' (0 is unlimited). More recipients than a whole quota can never fit: a
/// problem now rather than a 429 forever.
pub(crate) fn email_charge(
    state: &AppState,
    caller: &Caller,
    recipients: u64,
    p: &mut Problems,
) -> EmailCharge {
    let limit = |own: Option<u64>, setting: u64| Some(own.unwrap_or(setting)).filter(|&n| n > 0);
    let per_hour = limit(
        caller.email.quota_per_hour,
        state.config.email.quota_per_hour,
    );
    let per_day = limit(caller.email.quota_per_day, state.config.email.quota_per_day);
    for (window, limit) in [(QuotaWindow::Hour, per_hour), (QuotaWindow::Day, per_day)] {
        if let Some(limit) = limit
            && recipients > limit
        {
            p.add(
                "to",
                "over_quota",
                format!(
                    "{recipients} recipients are more than this key's {} email quota of {limit}",
                    window.adjective()
                ),
            );
        }
    }
    EmailCharge {
        key_id: caller.key_id.clone(),
        recipients,
        per_hour,
        per_day,
    }
}

/// The 429 for a submission that does not fit its key's quota.
pub(crate) fn quota_exceeded(over: &OverQuota) -> ApiError {
    let (per, span) = match over.window {
        QuotaWindow::Hour => ("hour", "60 minutes"),
        QuotaWindow::Day => ("day", "24 hours"),
    };
    ApiError::QuotaExceeded {
        message: format!(
            "{} email quota exceeded: this key may email {} recipients per {per}, has used {} \
             in the last {span}, and this request adds {}; retry in {} s",
            over.window.adjective(),
            over.limit,
            over.used,
            over.requested,
            over.retry_after_secs
        ),
        retry_after_secs: over.retry_after_secs,
    }
}
