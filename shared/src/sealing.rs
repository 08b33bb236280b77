//! Secrets at rest: the webhook signing secrets, the callback secrets and the link-signing key
//! are stored sealed with AES-256-GCM under a key-encryption key (KEK) that lives in the
//! configuration (`secrets.kek`), not in the database: a dump, a backup or a read-only SQL
//! injection yields ciphertext. Each value is bound to where it is stored (its row), so a
//! sealed value copied to another row does not open there.
//!
//! A sealed value reads `enc:v1:<key id>:<base64 of nonce and ciphertext>`. A value without
//! the prefix is an older plaintext one: it is still read, and sealed at the next start (as is
//! one sealed under `secrets.previous_kek`, after a rotation).
//!
//! With no KEK configured, the embedded deployment keeps one of its own in
//! `DATA_DIR/secrets.key` (made on first start, mode 0600, beside the database it protects:
//! it guards against a copy of `app.db` alone); a PostgreSQL deployment must set
//! `secrets.kek` (its processes share no disk).

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use sha2::Digest as _;

const PREFIX: &str = "enc:v1:";
/// The file of the embedded deployment's own KEK, under the data directory.
pub const KEY_FILE: &str = "secrets.key";

/// One KEK: its short id (written beside each value it sealed) and its cipher.
#[derive(Clone)]
struct Kek {
    id: String,
    cipher: Aes256Gcm,
}

impl Kek {
    fn new(bytes: &[u8; 32]) -> Kek {
        let digest = sha2::Sha256::digest([b"quire-kek:".as_slice(), bytes].concat());
        Kek {
            id: hex::encode(&digest[..4]),
            cipher: Aes256Gcm::new(bytes.into()),
        }
    }
}

/// Seals and opens stored secrets (see the module); cheap to clone.
#[derive(Clone)]
pub struct Sealer {
    current: Kek,
    previous: Option<Kek>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealer(key {})", self.current.id)
    }
}

/// A stored value that cannot be opened.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct SealError(String);

/// A KEK as configured: 32 bytes, in base64 (`openssl rand -base64 32`) or 64 hex digits.
pub fn parse_kek(text: &str) -> Result<[u8; 32], String> {
    let text = text.trim();
    let bytes = if text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit()) {
        hex::decode(text).map_err(|e| e.to_string())?
    } else {
        B64.decode(text)
            .map_err(|_| "not base64 (make one with `openssl rand -base64 32`)".to_owned())?
    };
    bytes
        .try_into()
        .map_err(|_| "must be 32 bytes (`openssl rand -base64 32`)".to_owned())
}

impl Sealer {
    /// Under `kek`, also opening what `previous` sealed.
    pub fn new(kek: &[u8; 32], previous: Option<&[u8; 32]>) -> Sealer {
        Sealer {
            current: Kek::new(kek),
            previous: previous.map(Kek::new),
        }
    }

    /// The embedded deployment's own KEK: read from `dir/secrets.key`, or made there on
    /// first use (mode 0600; written whole under a temporary name, then linked into place,
    /// which fails if another process made it first: then that one is read).
    pub fn from_key_file(dir: &Path, previous: Option<&[u8; 32]>) -> Result<Sealer, String> {
        let path = dir.join(KEY_FILE);
        let fail = |e: std::io::Error| format!("{}: {e}", path.display());
        if !path.exists() {
            std::fs::create_dir_all(dir).map_err(fail)?;
            let partial = dir.join(format!("{KEY_FILE}.{}.part", uuid::Uuid::new_v4().simple()));
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let key: [u8; 32] = rand::random();
            let written = options.open(&partial).and_then(|mut file| {
                use std::io::Write as _;
                file.write_all(format!("{}\n", B64.encode(key)).as_bytes())?;
                file.sync_all()
            });
            let linked = written.and_then(|()| std::fs::hard_link(&partial, &path));
            let _ = std::fs::remove_file(&partial);
            match linked {
                Ok(()) => {
                    tracing::info!(path = %path.display(), "made the key that seals stored secrets");
                    return Ok(Sealer::new(&key, previous));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(fail(e)),
            }
        }
        let text = std::fs::read_to_string(&path).map_err(fail)?;
        let key = parse_kek(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Sealer::new(&key, previous))
    }

    /// `plain` sealed for the place named `context` (e.g. `webhook:wh_…`).
    pub fn seal(&self, plain: &str, context: &str) -> String {
        let nonce: [u8; 12] = rand::random();
        let sealed = self
            .current
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plain.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .expect("AES-GCM seals any message of this size");
        format!(
            "{PREFIX}{}:{}",
            self.current.id,
            B64.encode([nonce.as_slice(), &sealed].concat())
        )
    }

    /// The secret `stored` holds: opened when sealed, as it is when plaintext (older rows).
    pub fn open(&self, stored: &str, context: &str) -> Result<String, SealError> {
        let Some(rest) = stored.strip_prefix(PREFIX) else {
            return Ok(stored.to_owned());
        };
        let (id, data) = rest
            .split_once(':')
            .ok_or_else(|| SealError(format!("a sealed secret of {context} is malformed")))?;
        let kek = [Some(&self.current), self.previous.as_ref()]
            .into_iter()
            .flatten()
            .find(|k| k.id == id)
            .ok_or_else(|| {
                SealError(format!(
                    "the secret of {context} was sealed with another key (id {id}): set \
                     secrets.previous_kek to the key it was sealed with"
                ))
            })?;
        let data = B64
            .decode(data)
            .map_err(|_| SealError(format!("a sealed secret of {context} is malformed")))?;
        if data.len() < 12 {
            return Err(SealError(format!(
                "a sealed secret of {context} is malformed"
            )));
        }
        let (nonce, sealed) = data.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().expect("split at 12");
        let plain = kek
            .cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: sealed,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| {
                SealError(format!(
                    "the secret of {context} does not open (altered, or moved from another row)"
                ))
            })?;
        String::from_utf8(plain)
            .map_err(|_| SealError(format!("the secret of {context} is not text")))
    }

    /// Whether `stored` should be sealed again: plaintext, or sealed under another key.
    pub fn is_stale(&self, stored: &str) -> bool {
        match stored.strip_prefix(PREFIX) {
            None => true,
            Some(rest) => !rest.starts_with(&format!("{}:", self.current.id)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_in_their_place_and_under_their_key() {
        let kek = [7u8; 32];
        let sealer = Sealer::new(&kek, None);
        let sealed = sealer.seal("whsec_abc", "webhook:wh_1");
        assert!(sealed.starts_with("enc:v1:"), "{sealed}");
        assert!(!sealed.contains("whsec_abc"));
        assert_ne!(
            sealed,
            sealer.seal("whsec_abc", "webhook:wh_1"),
            "fresh nonce"
        );
        assert_eq!(sealer.open(&sealed, "webhook:wh_1").unwrap(), "whsec_abc");
        assert!(
            sealer.open(&sealed, "webhook:wh_2").is_err(),
            "bound to its row"
        );
        assert!(!sealer.is_stale(&sealed));
        // Plaintext from before: read as it is, and due for sealing.
        assert_eq!(
            sealer.open("whsec_old", "webhook:wh_1").unwrap(),
            "whsec_old"
        );
        assert!(sealer.is_stale("whsec_old"));
        // A rotation: the new key opens what the previous one sealed, and reseals it.
        let rotated = Sealer::new(&[9u8; 32], Some(&kek));
        assert_eq!(rotated.open(&sealed, "webhook:wh_1").unwrap(), "whsec_abc");
        assert!(rotated.is_stale(&sealed));
        let other = Sealer::new(&[9u8; 32], None);
        let err = other.open(&sealed, "webhook:wh_1").unwrap_err();
        assert!(err.to_string().contains("previous_kek"), "{err}");
    }

    #[test]
    fn a_kek_is_32_bytes_in_base64_or_hex() {
        assert_eq!(parse_kek(&B64.encode([1u8; 32])).unwrap(), [1u8; 32]);
        assert_eq!(parse_kek(&"ab".repeat(32)).unwrap(), [0xab; 32]);
        assert!(parse_kek(&B64.encode([1u8; 16])).is_err());
        assert!(parse_kek("not a key").is_err());
    }

    #[test]
    fn the_embedded_key_file_is_made_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let first = Sealer::from_key_file(dir.path(), None).unwrap();
        let again = Sealer::from_key_file(dir.path(), None).unwrap();
        let sealed = first.seal("s", "c");
        assert_eq!(again.open(&sealed, "c").unwrap(), "s");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        }
    }
}
