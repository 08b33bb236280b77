//! Open Badges 3.0: beside every issued certificate, an `OpenBadgeCredential` (a W3C
//! Verifiable Credential) that a third party checks without trusting quire's web page.
//!
//! - **Secured as a VC-JWT** (VC-JOSE-COSE: the JWS payload is the credential itself),
//!   signed with Ed25519 (`EdDSA`) by a key every process reads from the `settings` table
//!   (made by the first process that asks, stored sealed like the link key: `links.rs`).
//!   Ed25519 signatures are deterministic, so a credential is the same bytes every time it is
//!   served: nothing is stored per certificate but its status-list index.
//! - **Issued by `did:web`** of the public base URL: its DID document (served at
//!   `/.well-known/did.json`, and at `/did.json` for a base URL with a path) lists the public
//!   key as a JSON Web Key, so any JOSE library verifies a credential from the two documents.
//! - **Revocation through a Bitstring Status List.** A certificate's credential names an index
//!   in a list of [`LIST_SIZE`] bits; the list credential is built from the `certificates`
//!   rows when asked, so the bit flips in the transaction that revokes the certificate.
//!
//! Nothing is fetched at run time: JSON-LD contexts are named, never expanded (a VC-JWT is
//! verified as JOSE), and no schema is loaded.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Digest as _;
use utoipa::ToSchema;

use crate::db::{CREDENTIAL_KEY_SETTING, Db, DbError};
use crate::domain::{CalendarDate, Timestamp};

/// Bits per status list: the spec's minimum (16 KiB), so a list says little about how many
/// credentials were issued or revoked.
pub const LIST_SIZE: i64 = 131_072;

/// The JSON-LD contexts every credential names.
const VC_CONTEXT: &str = "https://www.w3.org/ns/credentials/v2";
const OB_CONTEXT: &str = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json";
/// The JSON Schema a verifier validates an Open Badges 3.0 credential against.
const OB_SCHEMA: &str =
    "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json";

/// The JWS `typ` of a credential secured as a JWT (VC-JOSE-COSE).
pub const MEDIA_TYPE: &str = "application/vc+jwt";

/// What a certificate's credential states.
pub struct Achievement<'a> {
    pub code: &'a str,
    pub recipient_name: &'a str,
    pub course_name: &'a str,
    /// The issuing organisation named on the certificate; the issuer profile's name.
    pub issuer_name: Option<&'a str>,
    pub issued_on: CalendarDate,
    pub expires_on: Option<CalendarDate>,
}

/// A DID document (W3C DID Core) with one key, for `assertionMethod`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DidDocument {
    /// The DID Core context and the JSON Web Key 2020 suite's.
    #[serde(rename = "@context")]
    pub context: Vec<String>,
    /// `did:web:` of the public base URL.
    pub id: String,
    pub verification_method: Vec<VerificationMethod>,
    /// The keys that sign credentials: the `kid` of each credential's JOSE header.
    pub assertion_method: Vec<String>,
}

/// A public key of a DID document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerificationMethod {
    /// `{did}#key-<first 8 bytes of the key's sha256, hex>`.
    pub id: String,
    /// `JsonWebKey2020`.
    #[serde(rename = "type")]
    pub kind: String,
    pub controller: String,
    pub public_key_jwk: PublicJwk,
}

/// An Ed25519 public key as a JSON Web Key (RFC 8037).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PublicJwk {
    /// `OKP`.
    pub kty: String,
    /// `Ed25519`.
    pub crv: String,
    /// The public key, base64url without padding.
    pub x: String,
    pub kid: String,
}

/// Signs credentials as quire's `did:web` issuer. Cheap to clone.
#[derive(Clone)]
pub struct Issuer {
    key: Arc<Ed25519KeyPair>,
    base: String,
    did: String,
    /// The key's id in the DID document: `{did}#key-<first 8 bytes of its sha256, hex>`, so
    /// a new key gets a new id.
    kid: String,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Issuer({})", self.kid)
    }
}

impl Issuer {
    /// The shared key, created by the first process that asks.
    pub async fn load(db: &Db, public_base_url: &str) -> Result<Issuer, DbError> {
        let stored = db
            .secret_setting_or_init(CREDENTIAL_KEY_SETTING, || {
                let rng = ring::rand::SystemRandom::new();
                let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).expect("the system RNG works");
                hex::encode(pkcs8.as_ref())
            })
            .await?;
        let corrupt = |e: String| DbError::Corrupt(format!("{CREDENTIAL_KEY_SETTING}: {e}"));
        let pkcs8 = hex::decode(stored).map_err(|e| corrupt(e.to_string()))?;
        Issuer::from_pkcs8(&pkcs8, public_base_url).map_err(corrupt)
    }

    /// An issuer with this Ed25519 key (PKCS#8 v1 or v2 DER).
    pub fn from_pkcs8(pkcs8: &[u8], public_base_url: &str) -> Result<Issuer, String> {
        let key = Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8)
            .map_err(|e| format!("not an Ed25519 PKCS#8 key: {e}"))?;
        let did = did_web(public_base_url)?;
        let digest = sha2::Sha256::digest(key.public_key().as_ref());
        let kid = format!("{did}#key-{}", hex::encode(&digest[..8]));
        Ok(Issuer {
            key: Arc::new(key),
            base: public_base_url.trim_end_matches('/').to_owned(),
            did,
            kid,
        })
    }

    /// The DID document: the public key as a JSON Web Key, for assertions (signing
    /// credentials) only.
    pub fn did_document(&self) -> DidDocument {
        DidDocument {
            context: vec![
                "https://www.w3.org/ns/did/v1".to_owned(),
                "https://w3id.org/security/suites/jws-2020/v1".to_owned(),
            ],
            id: self.did.clone(),
            verification_method: vec![VerificationMethod {
                id: self.kid.clone(),
                kind: "JsonWebKey2020".to_owned(),
                controller: self.did.clone(),
                public_key_jwk: PublicJwk {
                    kty: "OKP".to_owned(),
                    crv: "Ed25519".to_owned(),
                    x: B64URL.encode(self.key.public_key().as_ref()),
                    kid: self.kid.clone(),
                },
            }],
            assertion_method: vec![self.kid.clone()],
        }
    }

    /// The certificate's `OpenBadgeCredential`, unsigned.
    fn credential(&self, a: &Achievement<'_>, status_index: i64) -> Value {
        let id = crate::urls::credential(&self.base, a.code);
        let verify_url = crate::urls::verify(&self.base, a.code);
        let list = status_index.div_euclid(LIST_SIZE);
        let list_url = crate::urls::status_list(&self.base, list);
        let entry = status_index.rem_euclid(LIST_SIZE);
        let issuer_name = a
            .issuer_name
            .map(str::to_owned)
            .unwrap_or_else(|| host_of(&self.base));
        let mut credential = json!({
            "@context": [VC_CONTEXT, OB_CONTEXT],
            "id": id,
            "type": ["VerifiableCredential", "OpenBadgeCredential"],
            "name": a.course_name,
            "issuer": {
                "id": self.did,
                "type": ["Profile"],
                "name": issuer_name,
                "url": self.base,
            },
            "validFrom": start_of(a.issued_on),
            "credentialSubject": {
                "type": ["AchievementSubject"],
                // Holders have no DID: the subject is identified by the name on the certificate.
                "identifier": [{
                    "type": "IdentityObject",
                    "identityHash": a.recipient_name,
                    "identityType": "name",
                    "hashed": false,
                }],
                "achievement": {
                    "id": format!("{id}#achievement"),
                    "type": ["Achievement"],
                    "name": a.course_name,
                    "description": format!("{} completed {}.", a.recipient_name, a.course_name),
                    "criteria": {
                        "id": verify_url,
                        "narrative": format!("Awarded for completing {}.", a.course_name),
                    },
                },
            },
            "credentialStatus": {
                "id": format!("{list_url}#{entry}"),
                "type": "BitstringStatusListEntry",
                "statusPurpose": "revocation",
                "statusListIndex": entry.to_string(),
                "statusListCredential": list_url,
            },
            "credentialSchema": [{
                "id": OB_SCHEMA,
                "type": "1EdTechJsonSchemaValidator2019",
            }],
        });
        if let Some(expires) = a.expires_on {
            credential["validUntil"] = json!(end_of(expires));
        }
        credential
    }

    /// The credential signed as a VC-JWT.
    pub fn credential_jwt(&self, a: &Achievement<'_>, status_index: i64) -> String {
        self.sign(&self.credential(a, status_index))
    }

    /// Status list `list` as a signed `BitstringStatusListCredential`: the bits of the
    /// `revoked` indexes (global, as stored) set; valid from `updated`, its latest change.
    pub fn status_list_jwt(&self, list: i64, revoked: &[i64], updated: Timestamp) -> String {
        let url = crate::urls::status_list(&self.base, list);
        let start = list * LIST_SIZE;
        let entries: Vec<i64> = revoked.iter().map(|i| i - start).collect();
        self.sign(&json!({
            "@context": [VC_CONTEXT],
            "id": url,
            "type": ["VerifiableCredential", "BitstringStatusListCredential"],
            "issuer": self.did,
            "validFrom": updated.to_rfc3339(),
            "credentialSubject": {
                "id": format!("{url}#list"),
                "type": "BitstringStatusList",
                "statusPurpose": "revocation",
                "encodedList": encode_status_list(&entries),
            },
        }))
    }

    /// A compact JWS of `payload`: `EdDSA` over `header.payload`, both base64url.
    fn sign(&self, payload: &Value) -> String {
        let header = json!({"alg": "EdDSA", "kid": self.kid, "typ": "vc+jwt", "cty": "vc"});
        let signing_input = format!(
            "{}.{}",
            B64URL.encode(header.to_string()),
            B64URL.encode(payload.to_string())
        );
        let signature = self.key.sign(signing_input.as_bytes());
        format!("{signing_input}.{}", B64URL.encode(signature.as_ref()))
    }
}

/// `did:web` of a base URL: the host (a port's colon percent-encoded), then each path
/// segment after a `:` (the DID document is then at `{base}/did.json`, else at
/// `/.well-known/did.json`).
pub fn did_web(public_base_url: &str) -> Result<String, String> {
    let url = url::Url::parse(public_base_url)
        .map_err(|e| format!("public_base_url {public_base_url:?}: {e}"))?;
    let host = url
        .host_str()
        .ok_or_else(|| format!("public_base_url {public_base_url:?} has no host"))?;
    let mut did = format!("did:web:{host}");
    if let Some(port) = url.port() {
        did.push_str(&format!("%3A{port}"));
    }
    for segment in url.path().split('/').filter(|s| !s.is_empty()) {
        did.push(':');
        did.push_str(segment);
    }
    Ok(did)
}

/// A Bitstring Status List's `encodedList`: [`LIST_SIZE`] bits, index 0 the first byte's
/// most significant bit, GZIP-compressed, base64url without padding, multibase prefix `u`.
pub fn encode_status_list(set: &[i64]) -> String {
    use std::io::Write as _;
    let mut bits = vec![0u8; (LIST_SIZE / 8) as usize];
    for &i in set.iter().filter(|i| (0..LIST_SIZE).contains(*i)) {
        bits[(i / 8) as usize] |= 0x80 >> (i % 8);
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&bits).expect("writing to memory");
    let zipped = gz.finish().expect("writing to memory");
    format!("u{}", B64URL.encode(zipped))
}

fn host_of(base: &str) -> String {
    url::Url::parse(base)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| base.to_owned())
}

fn start_of(day: CalendarDate) -> String {
    format!("{day}T00:00:00Z")
}

fn end_of(day: CalendarDate) -> String {
    format!("{day}T23:59:59Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer() -> Issuer {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        Issuer::from_pkcs8(pkcs8.as_ref(), "https://q.example:8443/quire/").unwrap()
    }

    fn part(jwt: &str, n: usize) -> Value {
        serde_json::from_slice(&B64URL.decode(jwt.split('.').nth(n).unwrap()).unwrap()).unwrap()
    }

    #[test]
    fn did_web_follows_the_method_spec() {
        assert_eq!(did_web("https://q.example").unwrap(), "did:web:q.example");
        assert_eq!(
            did_web("https://q.example:8443/a/b/").unwrap(),
            "did:web:q.example%3A8443:a:b"
        );
        assert!(did_web("not a url").is_err());
    }

    #[test]
    fn the_status_list_sets_exactly_the_revoked_bits_first_bit_first() {
        use std::io::Read as _;
        let encoded = encode_status_list(&[0, 9, LIST_SIZE - 1, LIST_SIZE, -1]);
        let zipped = B64URL.decode(encoded.strip_prefix('u').unwrap()).unwrap();
        let mut bits = Vec::new();
        flate2::read::GzDecoder::new(&zipped[..])
            .read_to_end(&mut bits)
            .unwrap();
        assert_eq!(bits.len() as i64, LIST_SIZE / 8);
        assert_eq!(bits[0], 0x80);
        assert_eq!(bits[1], 0x40);
        assert_eq!(*bits.last().unwrap(), 0x01);
        assert_eq!(bits.iter().map(|b| b.count_ones()).sum::<u32>(), 3);
    }

    #[test]
    fn a_credential_is_signed_by_the_key_its_did_document_lists() {
        let issuer = issuer();
        let ada = Achievement {
            code: "ABCD-EFGH-JKLM",
            recipient_name: "Ada <b>Lovelace</b>",
            course_name: "Engines",
            issuer_name: None,
            issued_on: "2026-03-09".parse().unwrap(),
            expires_on: Some("2027-03-09".parse().unwrap()),
        };
        let jwt = issuer.credential_jwt(&ada, LIST_SIZE + 5);
        let header = part(&jwt, 0);
        let body = part(&jwt, 1);
        assert_eq!(header["alg"], "EdDSA");
        let doc = serde_json::to_value(issuer.did_document()).unwrap();
        assert_eq!(header["kid"], doc["assertionMethod"][0]);
        assert_eq!(body["issuer"]["id"], "did:web:q.example%3A8443:quire");
        assert_eq!(body["issuer"]["name"], "q.example");
        assert_eq!(body["validUntil"], "2027-03-09T23:59:59Z");
        assert_eq!(
            body["credentialSubject"]["identifier"][0]["identityHash"],
            "Ada <b>Lovelace</b>"
        );
        let status = &body["credentialStatus"];
        assert_eq!(status["statusListIndex"], "5");
        assert_eq!(
            status["statusListCredential"],
            "https://q.example:8443/quire/v1/credentials/status/1"
        );
        // The signature checks under the DID document's key, and not after a change.
        let x = doc["verificationMethod"][0]["publicKeyJwk"]["x"]
            .as_str()
            .unwrap();
        let public = ring::signature::UnparsedPublicKey::new(
            &ring::signature::ED25519,
            B64URL.decode(x).unwrap(),
        );
        let (input, sig) = jwt.rsplit_once('.').unwrap();
        let sig = B64URL.decode(sig).unwrap();
        assert!(public.verify(input.as_bytes(), &sig).is_ok());
        let tampered = input.replacen('e', "f", 1);
        assert!(public.verify(tampered.as_bytes(), &sig).is_err());
        // Deterministic: the same credential twice is the same bytes.
        assert_eq!(jwt, issuer.credential_jwt(&ada, LIST_SIZE + 5));
    }
}
