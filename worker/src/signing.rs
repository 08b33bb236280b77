//! PAdES signatures: a finished PDF signed as PAdES B-B (ETSI EN 319 142-1) by the signing
//! identity of the settings (`signing.identity_file`: the certificate chain, signer first, and
//! its PKCS#8 private key, RSA or ECDSA P-256, in one PEM file).
//!
//! The signature is an incremental update appended to the rendered file (so a PDF/A document
//! stays PDF/A): an invisible signature field on the first page whose value is a signature
//! dictionary (`/SubFilter /ETSI.CAdES.detached`) covering the whole file but its own
//! `/Contents`, which holds a detached CMS SignedData with the ESS signing-certificate-v2
//! attribute PAdES requires (and no signing-time attribute: the time is the dictionary's `/M`).
//!
//! CPU-bound and synchronous: callers run it on the blocking pool. The private key never
//! leaves this process and is never formatted (`Signer`'s `Debug` shows the subject only).

use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use der::asn1::{ObjectIdentifier, OctetString, SetOfVec};
use der::{Any, Decode as _, Encode as _};
use lopdf::{Dictionary, IncrementalDocument, Object, StringFormat};
use ring::rand::SystemRandom;
use ring::signature::{self as ring_sig, EcdsaKeyPair, RsaKeyPair};
use sha2::{Digest as _, Sha256};
use shared::jobs::PdfSignature;
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use x509_cert::spki::AlgorithmIdentifierOwned;

/// Bytes reserved in `/Contents` (written as hex, twice as many characters) beyond the
/// certificates the CMS carries: the signature (512 bytes for RSA-4096), the attributes and
/// the structure, with room to spare.
const CMS_OVERHEAD: usize = 2048;
/// And for a time-stamp token, which carries the authority's own certificates.
const TIMESTAMP_RESERVE: usize = 12 * 1024;

/// A time-stamping authority as the signer sees it: the DER `TimeStampReq` in, the DER
/// `TimeStampResp` (or why there is none) out.
pub type Authority<'a> = dyn Fn(Vec<u8>) -> Result<Vec<u8>, String> + 'a;

/// Why a PDF could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The time-stamping authority did not answer, or refused: worth another attempt.
    #[error("time-stamping failed: {0}")]
    Timestamp(String),
    #[error("signing failed: {0}")]
    Failed(String),
}

impl From<String> for SignError {
    fn from(message: String) -> Self {
        SignError::Failed(message)
    }
}

impl From<&str> for SignError {
    fn from(message: &str) -> Self {
        SignError::Failed(message.to_owned())
    }
}

enum Key {
    Rsa(RsaKeyPair),
    Ecdsa(EcdsaKeyPair),
}

/// A signing identity, loaded once per worker process.
pub struct Signer {
    chain: Vec<Certificate>,
    /// The chain's DER size: what the CMS carries of it.
    chain_bytes: usize,
    key: Key,
    subject: String,
    fingerprint: String,
    rng: SystemRandom,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({})", self.subject)
    }
}

const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
/// id-aa-signatureTimeStampToken (RFC 3161, appendix A).
const ID_SIGNATURE_TIME_STAMP_TOKEN: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.14");
/// id-aa-signingCertificateV2 (RFC 5035).
const ID_SIGNING_CERTIFICATE_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");

impl Signer {
    /// The identity in `pem`: `CERTIFICATE` blocks (the signer's first, then its issuers)
    /// and one `PRIVATE KEY` (PKCS#8) block.
    pub fn from_pem(pem: &[u8]) -> Result<Signer, String> {
        let text = std::str::from_utf8(pem).map_err(|_| "the identity file is not PEM text")?;
        let mut chain = Vec::new();
        let mut key = None;
        for block in pem_blocks(text) {
            let (label, der) = der::pem::decode_vec(block.as_bytes())
                .map_err(|e| format!("a PEM block cannot be read: {e}"))?;
            match label {
                "CERTIFICATE" => chain.push(
                    Certificate::from_der(&der)
                        .map_err(|e| format!("a certificate cannot be read: {e}"))?,
                ),
                "PRIVATE KEY" => key = Some(der),
                other => return Err(format!("unexpected PEM block `{other}`")),
            }
        }
        let signer = chain
            .first()
            .ok_or("the identity file holds no CERTIFICATE")?;
        let key = key.ok_or("the identity file holds no PRIVATE KEY (PKCS#8)")?;
        let rng = SystemRandom::new();
        let key = match RsaKeyPair::from_pkcs8(&key) {
            Ok(rsa) => Key::Rsa(rsa),
            Err(_) => Key::Ecdsa(
                EcdsaKeyPair::from_pkcs8(&ring_sig::ECDSA_P256_SHA256_ASN1_SIGNING, &key, &rng)
                    .map_err(|_| "the private key is neither RSA nor ECDSA P-256 (PKCS#8)")?,
            ),
        };
        let public = signer
            .tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .raw_bytes();
        let matches = match &key {
            Key::Rsa(k) => ring_sig::KeyPair::public_key(k).as_ref() == public,
            Key::Ecdsa(k) => ring_sig::KeyPair::public_key(k).as_ref() == public,
        };
        if !matches {
            return Err("the private key is not the first certificate's".into());
        }
        let subject = signer.tbs_certificate.subject.to_string();
        let fingerprint = hex::encode(Sha256::digest(signer.to_der().map_err(|e| e.to_string())?));
        let chain_bytes = chain
            .iter()
            .map(|c| c.to_der().map(|d| d.len()))
            .sum::<Result<usize, _>>()
            .map_err(|e| e.to_string())?;
        Ok(Signer {
            chain,
            chain_bytes,
            key,
            subject,
            fingerprint,
            rng,
        })
    }

    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// `pdf` signed at `now`: the file with the signature appended, and what to record.
    /// With `timestamp`, the signature value is time-stamped by it (an RFC 3161 authority,
    /// given the DER `TimeStampReq`, answering the DER `TimeStampResp`): PAdES B-T.
    pub fn sign_pdf(
        &self,
        pdf: &[u8],
        now: time::OffsetDateTime,
        timestamp: Option<&Authority<'_>>,
    ) -> Result<(Vec<u8>, PdfSignature), SignError> {
        // Reserved to fit: what is not used stays zeros in the file, twice over in hex.
        let reserve = self.chain_bytes
            + CMS_OVERHEAD
            + if timestamp.is_some() {
                TIMESTAMP_RESERVE
            } else {
                0
            };
        let mut prepared = prepare(pdf, now, &self.subject, reserve)?;
        let (start, end) = prepared.contents;
        let digest = {
            let mut hash = Sha256::new();
            hash.update(&prepared.bytes[..start]);
            hash.update(&prepared.bytes[end..]);
            hash.finalize()
        };
        let cms = self.cms(&digest, timestamp)?;
        let hex = hex::encode_upper(&cms);
        // `<` and `>` stay; the CMS goes in from the first hex digit, zeros pad the rest.
        if hex.len() > end - start - 2 {
            return Err(SignError::Failed(format!(
                "the signature takes {} bytes, more than the {reserve} reserved",
                cms.len()
            )));
        }
        prepared.bytes[start + 1..start + 1 + hex.len()].copy_from_slice(hex.as_bytes());
        let info = PdfSignature {
            signer: self.subject.clone(),
            certificate_sha256: self.fingerprint.clone(),
            signed_at: now
                .format(&time::format_description::well_known::Rfc3339)
                .map_err(|e| e.to_string())?,
            level: if timestamp.is_some() { "B-T" } else { "B-B" }.into(),
        };
        Ok((prepared.bytes, info))
    }

    /// A detached CMS SignedData over `digest` (sha256 of the signed byte ranges), its
    /// signature value time-stamped by `timestamp` when given.
    fn cms(&self, digest: &[u8], timestamp: Option<&Authority<'_>>) -> Result<Vec<u8>, SignError> {
        let e = |e: der::Error| e.to_string();
        let signer = &self.chain[0];
        let cert_hash = Sha256::digest(signer.to_der().map_err(e)?);
        let attribute = |oid, value: Any| -> Result<Attribute, String> {
            Ok(Attribute {
                oid,
                values: SetOfVec::try_from(vec![value]).map_err(e)?,
            })
        };
        let signed_attrs = SetOfVec::try_from(vec![
            attribute(ID_CONTENT_TYPE, Any::encode_from(&ID_DATA).map_err(e)?)?,
            attribute(
                ID_MESSAGE_DIGEST,
                Any::encode_from(&OctetString::new(digest).map_err(e)?).map_err(e)?,
            )?,
            attribute(
                ID_SIGNING_CERTIFICATE_V2,
                Any::from_der(&signing_certificate_v2(&cert_hash)).map_err(e)?,
            )?,
        ])
        .map_err(e)?;
        // Signed as the DER of the SET (RFC 5652 5.4), not of its [0] IMPLICIT form.
        let to_sign = signed_attrs.to_der().map_err(e)?;
        let (signature, signature_algorithm) = match &self.key {
            Key::Rsa(key) => {
                let mut out = vec![0; key.public().modulus_len()];
                key.sign(&ring_sig::RSA_PKCS1_SHA256, &self.rng, &to_sign, &mut out)
                    .map_err(|_| "RSA signing failed")?;
                (
                    out,
                    AlgorithmIdentifierOwned {
                        oid: SHA256_WITH_RSA,
                        parameters: Some(Any::null()),
                    },
                )
            }
            Key::Ecdsa(key) => (
                key.sign(&self.rng, &to_sign)
                    .map_err(|_| "ECDSA signing failed")?
                    .as_ref()
                    .to_vec(),
                AlgorithmIdentifierOwned {
                    oid: ECDSA_WITH_SHA256,
                    parameters: None,
                },
            ),
        };
        let sha256 = AlgorithmIdentifierOwned {
            oid: SHA256,
            parameters: None,
        };
        let unsigned_attrs = match timestamp {
            Some(authority) => {
                let request = timestamp_request(&Sha256::digest(&signature))?;
                let answer = authority(request).map_err(SignError::Timestamp)?;
                let token = timestamp_token(&answer).map_err(SignError::Timestamp)?;
                Some(
                    SetOfVec::try_from(vec![attribute(ID_SIGNATURE_TIME_STAMP_TOKEN, token)?])
                        .map_err(e)?,
                )
            }
            None => None,
        };
        let signer_info = SignerInfo {
            version: CmsVersion::V1,
            sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
                issuer: signer.tbs_certificate.issuer.clone(),
                serial_number: signer.tbs_certificate.serial_number.clone(),
            }),
            digest_alg: sha256.clone(),
            signed_attrs: Some(signed_attrs),
            signature_algorithm,
            signature: OctetString::new(signature).map_err(e)?,
            unsigned_attrs,
        };
        let certificates = self
            .chain
            .iter()
            .cloned()
            .map(CertificateChoices::Certificate)
            .collect::<Vec<_>>();
        let signed_data = SignedData {
            version: CmsVersion::V1,
            digest_algorithms: SetOfVec::try_from(vec![sha256]).map_err(e)?,
            encap_content_info: EncapsulatedContentInfo {
                econtent_type: ID_DATA,
                econtent: None,
            },
            certificates: Some(CertificateSet(SetOfVec::try_from(certificates).map_err(e)?)),
            crls: None,
            signer_infos: SignerInfos(SetOfVec::try_from(vec![signer_info]).map_err(e)?),
        };
        Ok(ContentInfo {
            content_type: ID_SIGNED_DATA,
            content: Any::encode_from(&signed_data).map_err(e)?,
        }
        .to_der()
        .map_err(e)?)
    }
}

/// An RFC 3161 time-stamping authority over HTTP (`application/timestamp-query`).
#[derive(Clone)]
pub struct Timestamper {
    client: reqwest::Client,
    url: String,
}

impl Timestamper {
    pub fn new(url: &str, timeout: std::time::Duration) -> anyhow::Result<Timestamper> {
        reqwest::Url::parse(url)
            .map_err(|e| anyhow::anyhow!("signing.timestamp_url {url:?}: {e}"))?;
        Ok(Timestamper {
            client: reqwest::Client::builder().timeout(timeout).build()?,
            url: url.to_owned(),
        })
    }

    /// The authority's DER answer to the DER `request`.
    pub async fn stamp(&self, request: Vec<u8>) -> Result<Vec<u8>, String> {
        let response = self
            .client
            .post(&self.url)
            .header("Content-Type", "application/timestamp-query")
            .body(request)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| format!("{}: {e}", self.url))?;
        let body = response
            .bytes()
            .await
            .map_err(|e| format!("{}: {e}", self.url))?;
        Ok(body.to_vec())
    }
}

/// `TimeStampReq ::= SEQUENCE { version 1, messageImprint { sha256, hash }, nonce, certReq
/// TRUE }` (RFC 3161 2.4.1): the authority's certificate comes with the token, so a verifier
/// needs nothing else; the random nonce ties the answer to this request.
fn timestamp_request(hash: &[u8]) -> Result<Vec<u8>, String> {
    use der::asn1::{Int, SequenceOf};
    let e = |e: der::Error| e.to_string();
    let imprint = {
        let mut seq = SequenceOf::<Any, 2>::new();
        seq.add(
            Any::encode_from(&AlgorithmIdentifierOwned {
                oid: SHA256,
                parameters: None,
            })
            .map_err(e)?,
        )
        .map_err(e)?;
        seq.add(Any::encode_from(&OctetString::new(hash).map_err(e)?).map_err(e)?)
            .map_err(e)?;
        seq
    };
    let mut nonce: [u8; 9] = rand::random();
    nonce[0] = 0; // positive
    let mut request = SequenceOf::<Any, 4>::new();
    request.add(Any::encode_from(&1u8).map_err(e)?).map_err(e)?;
    request
        .add(Any::encode_from(&imprint).map_err(e)?)
        .map_err(e)?;
    request
        .add(Any::encode_from(&Int::new(&nonce).map_err(e)?).map_err(e)?)
        .map_err(e)?;
    request
        .add(Any::encode_from(&true).map_err(e)?)
        .map_err(e)?;
    request.to_der().map_err(e)
}

/// The `timeStampToken` of a `TimeStampResp ::= SEQUENCE { status PKIStatusInfo,
/// timeStampToken ContentInfo OPTIONAL }`, when its status is granted (0) or granted with
/// modifications (1).
fn timestamp_token(response: &[u8]) -> Result<Any, String> {
    let bad = |what: &str| format!("the time-stamping authority's answer {what}");
    let parts = Vec::<Any>::from_der(response).map_err(|e| bad(&format!("is not DER: {e}")))?;
    let status = parts
        .first()
        .ok_or_else(|| bad("is empty"))?
        .decode_as::<Vec<Any>>()
        .map_err(|e| bad(&format!("has no status: {e}")))?;
    let granted = status
        .first()
        .and_then(|s| s.decode_as::<u8>().ok())
        .is_some_and(|s| s <= 1);
    if !granted {
        return Err(bad("refuses the request"));
    }
    parts.get(1).cloned().ok_or_else(|| bad("holds no token"))
}

/// `SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2 }` with one
/// `ESSCertIDv2 ::= SEQUENCE { certHash OCTET STRING }` (the hash algorithm is the default,
/// sha256, so it is omitted as DER requires). Fixed sizes: 32 bytes of hash.
fn signing_certificate_v2(cert_hash: &[u8]) -> Vec<u8> {
    let mut out = vec![0x30, 0x26, 0x30, 0x24, 0x30, 0x22, 0x04, 0x20];
    out.extend_from_slice(cert_hash);
    out
}

/// The PEM blocks of `text`, each from its `-----BEGIN` to its `-----END …-----` line.
fn pem_blocks(text: &str) -> Vec<&str> {
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(begin) = rest.find("-----BEGIN ") {
        let after = &rest[begin..];
        let Some(end) = after.find("-----END ") else {
            break;
        };
        let close = after[end + 9..]
            .find("-----")
            .map_or(after.len(), |i| end + 9 + i + 5);
        blocks.push(&after[..close]);
        rest = &after[close..];
    }
    blocks
}

/// The file with its signature field and a zeroed `/Contents`, and where `/Contents`'s hex
/// string is (from `<` to after `>`).
struct Prepared {
    bytes: Vec<u8>,
    contents: (usize, usize),
}

/// Placeholder numbers of the right width for `/ByteRange`, replaced once the offsets are
/// known (10 digits hold any offset of a file under 10 GB).
const BYTE_RANGE_PLACEHOLDER: [i64; 4] = [0, 1_111_111_111, 2_222_222_222, 3_333_333_333];

fn prepare(
    pdf: &[u8],
    now: time::OffsetDateTime,
    subject: &str,
    reserve: usize,
) -> Result<Prepared, String> {
    let e = |e: lopdf::Error| format!("the PDF cannot be signed: {e}");
    let mut doc = IncrementalDocument::load_from(pdf).map_err(e)?;
    let prev = doc.get_prev_documents();
    let version = prev.version.clone();
    let catalog_id = prev
        .trailer
        .get(b"Root")
        .and_then(Object::as_reference)
        .map_err(e)?;
    let first_page = *prev
        .get_pages()
        .values()
        .next()
        .ok_or("the PDF has no page")?;
    doc.new_document.version = version;

    let when = now.to_offset(time::UtcOffset::UTC);
    let m = format!(
        "D:{:04}{:02}{:02}{:02}{:02}{:02}+00'00'",
        when.year(),
        u8::from(when.month()),
        when.day(),
        when.hour(),
        when.minute(),
        when.second()
    );
    let mut sig = Dictionary::new();
    sig.set("Type", Object::Name(b"Sig".to_vec()));
    sig.set("Filter", Object::Name(b"Adobe.PPKLite".to_vec()));
    sig.set("SubFilter", Object::Name(b"ETSI.CAdES.detached".to_vec()));
    sig.set(
        "ByteRange",
        Object::Array(BYTE_RANGE_PLACEHOLDER.iter().map(|&n| n.into()).collect()),
    );
    sig.set(
        "Contents",
        Object::String(vec![0; reserve], StringFormat::Hexadecimal),
    );
    sig.set("M", Object::string_literal(m));
    sig.set("Name", Object::string_literal(subject));
    let sig_id = doc.new_document.add_object(sig);

    // Invisible (a zero rectangle), printed and locked: PDF/A accepts a widget without an
    // appearance only at zero size, and wants the print flag.
    let mut field = Dictionary::new();
    field.set("Type", Object::Name(b"Annot".to_vec()));
    field.set("Subtype", Object::Name(b"Widget".to_vec()));
    field.set("FT", Object::Name(b"Sig".to_vec()));
    field.set("T", Object::string_literal("Signature1"));
    field.set("V", Object::Reference(sig_id));
    field.set(
        "Rect",
        Object::Array(vec![0.into(), 0.into(), 0.into(), 0.into()]),
    );
    field.set("F", 132i64);
    field.set("P", Object::Reference(first_page));
    let field_id = doc.new_document.add_object(field);

    doc.opt_clone_object_to_new_document(first_page)
        .map_err(e)?;
    let annots = {
        let page = doc
            .new_document
            .get_object(first_page)
            .and_then(Object::as_dict)
            .map_err(e)?;
        match page.get(b"Annots") {
            Ok(Object::Array(a)) => Some(a.clone()),
            Ok(Object::Reference(id)) => doc
                .get_prev_documents()
                .get_object(*id)
                .and_then(Object::as_array)
                .ok()
                .cloned(),
            _ => None,
        }
    };
    let mut annots = annots.unwrap_or_default();
    annots.push(Object::Reference(field_id));
    doc.new_document
        .get_object_mut(first_page)
        .and_then(Object::as_dict_mut)
        .map_err(e)?
        .set("Annots", Object::Array(annots));

    doc.opt_clone_object_to_new_document(catalog_id)
        .map_err(e)?;
    let mut form = Dictionary::new();
    form.set("Fields", Object::Array(vec![Object::Reference(field_id)]));
    form.set("SigFlags", 3i64);
    doc.new_document
        .get_object_mut(catalog_id)
        .and_then(Object::as_dict_mut)
        .map_err(e)?
        .set("AcroForm", Object::Dictionary(form));

    let mut bytes = Vec::with_capacity(pdf.len() + 2 * reserve + 4096);
    doc.save_to(&mut bytes)
        .map_err(|e| format!("the signed PDF cannot be written: {e}"))?;

    // Find the placeholders in what was appended (the original bytes hold neither).
    let appended = pdf.len();
    let zeros = format!("<{}>", "00".repeat(reserve));
    let start = find(&bytes[appended..], zeros.as_bytes())
        .map(|i| appended + i)
        .ok_or("the signature's /Contents was not written as expected")?;
    let end = start + zeros.len();
    let placeholder = BYTE_RANGE_PLACEHOLDER
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(" ");
    let at = find(&bytes[appended..], placeholder.as_bytes())
        .map(|i| appended + i)
        .ok_or("the signature's /ByteRange was not written as expected")?;
    let actual = format!("0 {start} {end} {}", bytes.len() - end);
    let padded = format!("{actual:<width$}", width = placeholder.len());
    bytes[at..at + padded.len()].copy_from_slice(padded.as_bytes());
    Ok(Prepared {
        bytes,
        contents: (start, end),
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
