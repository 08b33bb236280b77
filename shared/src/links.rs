//! Signed download links: what an email carries instead of an attachment that is too big, so
//! its recipient (who has no API key) can fetch the PDF. A link names one job's file and an
//! expiry, signed with HMAC-SHA256 under a key every process reads from the `settings` table
//! (created on first use, so nobody has to configure or share it; stored sealed under the
//! key-encryption key, `sealing.rs`).

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::db::{Db, DbError};
use crate::domain::{JobId, Timestamp};

/// How long a link works.
pub const LINK_TTL_SECS: i64 = 7 * 24 * 60 * 60;

const SETTING: &str = crate::db::LINK_KEY_SETTING;

#[derive(Clone)]
pub struct LinkSigner {
    key: Vec<u8>,
}

impl std::fmt::Debug for LinkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkSigner(..)")
    }
}

impl LinkSigner {
    /// The shared key, created by the first process that asks.
    pub async fn load(db: &Db) -> Result<LinkSigner, DbError> {
        let key = db
            .secret_setting_or_init(SETTING, || {
                let bytes: [u8; 32] = rand::random();
                hex::encode(bytes)
            })
            .await?;
        let key = hex::decode(key).map_err(|e| DbError::Corrupt(format!("{SETTING}: {e}")))?;
        Ok(LinkSigner { key })
    }

    fn mac(&self, job: JobId, expires: i64) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key");
        mac.update(format!("{job}:{expires}").as_bytes());
        mac
    }

    /// `{base}/v1/files/{job}?expires={unix seconds}&sig={hex}`, valid for [`LINK_TTL_SECS`].
    pub fn url(&self, public_base_url: &str, job: JobId) -> String {
        let expires = Timestamp::now().millis() / 1000 + LINK_TTL_SECS;
        let sig = hex::encode(self.mac(job, expires).finalize().into_bytes());
        crate::urls::signed_file(public_base_url, job, expires, &sig)
    }

    /// Whether `sig` signs (`job`, `expires`) and `expires` is still ahead. Constant time.
    pub fn verify(&self, job: JobId, expires: i64, sig: &str) -> bool {
        let Ok(sig) = hex::decode(sig) else {
            return false;
        };
        expires > Timestamp::now().millis() / 1000
            && self.mac(job, expires).verify_slice(&sig).is_ok()
    }
}
