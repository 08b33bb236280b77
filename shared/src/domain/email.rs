//! Email addresses, parsed once at the edge. Deliberately stricter than RFC 5322 (no quoted
//! local parts, comments or IP literals): what real mailboxes use, and nothing that could
//! smuggle a header (CR, LF) or a second address (`,`, `<`, `>`) into a message.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A checked `local@domain` address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EmailError(String);

/// Longest address (RFC 5321's path limit less the brackets).
pub const MAX_ADDRESS: usize = 254;

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<EmailAddress, EmailError> {
        let bad = |why: &str| Err(EmailError(format!("not an email address: {why}")));
        let address = raw.trim();
        if address.is_empty() {
            return bad("it is empty");
        }
        if address.chars().any(|c| c.is_control()) {
            return bad("it contains a line break or control character");
        }
        if address.len() > MAX_ADDRESS {
            return bad("it is longer than 254 characters");
        }
        let Some((local, domain)) = address.rsplit_once('@') else {
            return bad("it has no `@`");
        };
        let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c);
        if local.is_empty()
            || local.len() > 64
            || !local.chars().all(atext)
            || local.starts_with('.')
            || local.ends_with('.')
            || local.contains("..")
        {
            return bad("the part before `@` is empty, too long or has characters not allowed");
        }
        if !is_host_name(domain) {
            return bad("the domain after `@` is not a host name");
        }
        Ok(EmailAddress(format!(
            "{local}@{}",
            domain.to_ascii_lowercase()
        )))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after `@`, lower-case.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, d)| d)
    }
}

/// DNS labels of letters, digits and inner hyphens, at most 253 characters in all.
fn is_host_name(domain: &str) -> bool {
    !domain.is_empty()
        && domain.len() <= 253
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// The recipient domains a key may email (`quire keys … --email-domains a.com,b.org`): a
/// non-empty list of host names, lower-case. A domain covers itself and its subdomains
/// (`example.com` lets `mail.example.com` through, not `badexample.com`): whoever owns a
/// domain owns its subdomains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailDomains(Vec<String>);

impl EmailDomains {
    /// A comma-separated list; blanks around names are ignored, duplicates dropped.
    pub fn parse(raw: &str) -> Result<EmailDomains, EmailError> {
        let mut domains: Vec<String> = Vec::new();
        for name in raw.split(',').map(str::trim) {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if !is_host_name(&name) {
                return Err(EmailError(format!(
                    "`{name}` is not a domain name (letters, digits, `-` and dots; IDNs in their xn-- form)"
                )));
            }
            if !domains.contains(&name) {
                domains.push(name);
            }
        }
        Ok(EmailDomains(domains))
    }

    pub fn allows(&self, address: &EmailAddress) -> bool {
        let domain = address.domain();
        self.0.iter().any(|allowed| {
            domain == allowed
                || domain
                    .strip_suffix(allowed.as_str())
                    .is_some_and(|head| head.ends_with('.'))
        })
    }
}

impl fmt::Display for EmailDomains {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(","))
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = EmailError;
    fn try_from(s: String) -> Result<Self, EmailError> {
        EmailAddress::parse(&s)
    }
}

impl From<EmailAddress> for String {
    fn from(a: EmailAddress) -> String {
        a.0
    }
}

/// A header value a person supplies (a subject, a display name): one line, bounded. CR and LF
/// are refused rather than stripped, so nobody can add headers to a message.
pub fn header_value(raw: &str, max_chars: usize) -> Result<&str, EmailError> {
    if raw.contains(['\r', '\n']) {
        return Err(EmailError(
            "must not contain a line break (CR or LF)".into(),
        ));
    }
    if raw.chars().any(|c| c.is_control() && c != '\t') {
        return Err(EmailError("must not contain control characters".into()));
    }
    let got = raw.chars().count();
    if got > max_chars {
        return Err(EmailError(format!(
            "must be at most {max_chars} characters (got {got})"
        )));
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_addresses_parse() {
        for ok in [
            "ann@example.com",
            "Ann.Lee+reports@Mail.Example.co.uk",
            "o'brien@example.ie",
            "ops@localhost",
        ] {
            let parsed = EmailAddress::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
            assert!(parsed.as_str().contains('@'));
        }
        assert_eq!(
            EmailAddress::parse(" ann@EXAMPLE.com ").unwrap().as_str(),
            "ann@example.com",
            "trimmed, domain lower-cased, local part kept"
        );
    }

    #[test]
    fn anything_that_could_inject_is_refused() {
        for bad in [
            "",
            "ann",
            "@example.com",
            "ann@",
            "ann@exa mple.com",
            "ann@example.com\r\nBcc: victim@example.com",
            "ann@example.com\nX: y",
            "ann@example.com, bob@example.com",
            "Ann <ann@example.com>",
            "\"quoted\"@example.com",
            "ann..lee@example.com",
            ".ann@example.com",
            "ann@-example.com",
            "ann@example..com",
            &format!("{}@example.com", "a".repeat(65)),
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn domain_lists_cover_their_subdomains_only() {
        let list = EmailDomains::parse(" Example.com , example.org.,example.com").unwrap();
        assert_eq!(list.to_string(), "example.com,example.org");
        let allows = |a: &str| list.allows(&EmailAddress::parse(a).unwrap());
        assert!(allows("ann@example.com"));
        assert!(allows("ann@MAIL.example.com"));
        assert!(allows("ann@example.org"));
        assert!(!allows("ann@badexample.com"));
        assert!(!allows("ann@example.com.evil.net"));
        assert!(!allows("ann@example.net"));
        for bad in [
            "",
            "example.com,",
            "exa mple.com",
            "*.example.com",
            "a@example.com",
        ] {
            assert!(EmailDomains::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn header_values_are_one_line() {
        assert!(header_value("Report ready: SAT-001 rev B", 200).is_ok());
        assert!(header_value("Hi\r\nBcc: x@y.z", 200).is_err());
        assert!(header_value("Hi\nthere", 200).is_err());
        assert!(header_value(&"x".repeat(201), 200).is_err());
    }
}
