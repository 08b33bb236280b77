//! `quire certificates`: verify one by its code (no key needed), revoke one.

use clap::Subcommand;
use serde_json::{Value, json};

use super::failure::Failure;
use super::http::{Api, segment};
use super::output::{self, Out, text};

#[derive(Debug, Subcommand)]
pub enum CertificatesCommand {
    /// What anyone holding the code may learn; exits 1 unless the certificate is valid.
    Verify { code: String },
    /// Revokes a certificate: verification then answers `revoked` with the reason.
    Revoke {
        /// The certificate's job id.
        id: String,
        /// Shown to anyone who verifies it.
        #[arg(long)]
        reason: String,
    },
}

pub async fn run(api: &Api, out: Out, command: CertificatesCommand) -> Result<(), Failure> {
    match command {
        CertificatesCommand::Verify { code } => {
            let path = format!("/v1/verify/{}", segment("a verification code", &code)?);
            let v = api.get(&path).await?;
            out.either(&v, || print(&v));
            match v["status"].as_str() {
                Some("valid") => Ok(()),
                other => Err(Failure::JobFailed(format!(
                    "certificate {code} is {}",
                    other.unwrap_or("unknown")
                ))),
            }
        }
        CertificatesCommand::Revoke { id, reason } => {
            let c = api
                .post(
                    &format!("/v1/certificates/{}/revoke", segment("a job id", &id)?),
                    &json!({ "reason": reason }),
                )
                .await?;
            out.either(&c, || print(&c));
            Ok(())
        }
    }
}

fn print(c: &Value) {
    let mut rows = vec![
        ("status", text(&c["status"])),
        ("recipient", text(&c["recipient_name"])),
        ("course", text(&c["course_name"])),
        ("issuer", text(&c["issuer_name"])),
        ("issued on", text(&c["issued_on"])),
        ("expires on", text(&c["expires_on"])),
    ];
    if !c["revoked_at"].is_null() {
        rows.push((
            "revoked",
            format!(
                "{} ({})",
                output::when(&c["revoked_at"]),
                text(&c["revocation_reason"])
            ),
        ));
    }
    rows.push(("sha256", text(&c["sha256"])));
    output::show(&output::record(&rows));
}
