//! PAdES signatures (`signing.identity_file`), validated by two implementations other than
//! quire's: poppler's `pdfsig` and pyHanko (`pyhanko sign validate`, with the test CA as its
//! trust root). A certificate, a PDF/A-2b certificate (still PDF/A after signing, read back by
//! pypdf) and a 100-page report; one flipped byte makes both report the signature invalid.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, certificate};
use crate::reports::report;
use crate::standards::conformance;

/// Runs `openssl` in `dir` with `args` (space-separated; a `+` inside one stands for a space).
fn openssl(dir: &Path, args: &str) {
    let args: Vec<String> = args.split(' ').map(|a| a.replace('+', " ")).collect();
    let out = Command::new("openssl")
        .args(&args)
        .current_dir(dir)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `name.key` and `name.pem`: an RSA 2048 key and its certificate for `subject`, issued by the
/// test CA of `dir` with the extensions `ext` (one per line).
fn issue(dir: &Path, name: &str, subject: &str, ext: &str) {
    openssl(
        dir,
        &format!("req -newkey rsa:2048 -nodes -keyout {name}.key -out {name}.csr -subj {subject}"),
    );
    std::fs::write(dir.join(format!("{name}.cnf")), ext).unwrap();
    openssl(
        dir,
        &format!(
            "x509 -req -in {name}.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out {name}.pem \
             -days 30 -extfile {name}.cnf"
        ),
    );
}

/// A test CA, a signer and a time-stamping authority it issued (made with the `openssl`
/// command): the CA's certificate, and the identity file (signer's certificate, the CA's, the
/// signer's key). The TSA's files (`tsa.pem`, `tsa.key`, `chain.pem`) are what
/// deploy/tsa-server.py reads.
fn identity(dir: &Path) -> (PathBuf, PathBuf) {
    openssl(
        dir,
        "req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 30 \
         -subj /CN=quire+test+CA -addext basicConstraints=critical,CA:TRUE \
         -addext keyUsage=critical,keyCertSign,cRLSign",
    );
    issue(
        dir,
        "signer",
        "/CN=Quire+Academy+Signer/O=Quire+Academy",
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\n",
    );
    issue(
        dir,
        "tsa",
        "/CN=quire+test+TSA",
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n\
         extendedKeyUsage=critical,timeStamping\n",
    );
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    let identity = [read("signer.pem"), read("ca.pem"), read("signer.key")].concat();
    std::fs::write(dir.join("identity.pem"), identity).unwrap();
    std::fs::write(dir.join("chain.pem"), read("tsa.pem") + &read("ca.pem")).unwrap();
    (dir.join("ca.pem"), dir.join("identity.pem"))
}

/// deploy/tsa-server.py on a free port with the TSA of `dir`; killed when dropped.
struct Tsa {
    child: std::process::Child,
    url: String,
}

impl Tsa {
    fn start(dir: &Path) -> Tsa {
        Tsa::start_on(dir, 0)
    }

    /// On `port` (0: a free one).
    fn start_on(dir: &Path, port: u16) -> Tsa {
        use std::io::BufRead as _;
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/tsa-server.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(dir)
            .arg(port.to_string())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3 runs deploy/tsa-server.py");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("listening ")
            .expect("the TSA's port");
        Tsa {
            child,
            url: format!("http://127.0.0.1:{port}/"),
        }
    }
}

impl Drop for Tsa {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What `pdfsig` and pyHanko say of `pdf`: (pdfsig's output, pyHanko's output, pyHanko's
/// exit status), off the runtime.
async fn validate(pdf: Vec<u8>, ca: PathBuf) -> (String, String, bool) {
    tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("signed.pdf");
        std::fs::write(&file, &pdf).unwrap();
        let pdfsig = Command::new("pdfsig")
            .arg(&file)
            .output()
            .expect("pdfsig runs (poppler-utils, deploy/test-services.sh)");
        let pyhanko = Command::new("pyhanko")
            .args([
                "sign",
                "validate",
                "--pretty-print",
                "--trust-replace",
                "--trust",
            ])
            .arg(&ca)
            .arg(&file)
            .output()
            .expect("pyhanko runs (deploy/test-services.sh installs pyHanko)");
        let text = |o: &std::process::Output| {
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            )
        };
        (text(&pdfsig), text(&pyhanko), pyhanko.status.success())
    })
    .await
    .unwrap()
}

async fn assert_valid(pdf: &[u8], ca: &Path, what: &str) {
    let (pdfsig, pyhanko, ok) = validate(pdf.to_vec(), ca.to_owned()).await;
    assert!(
        pdfsig.contains("Signature Validation: Signature is Valid."),
        "{what}: pdfsig: {pdfsig}"
    );
    assert!(pdfsig.contains("ETSI.CAdES.detached"), "{what}: {pdfsig}");
    assert!(pdfsig.contains("Quire Academy Signer"), "{what}: {pdfsig}");
    assert!(
        pdfsig.contains("Signature Coverage: Total document signed")
            || pdfsig.contains("Total document signed"),
        "{what}: {pdfsig}"
    );
    assert!(ok, "{what}: pyhanko: {pyhanko}");
    for said in [
        "The signature is cryptographically sound.",
        "The signer's certificate is trusted.",
        "The signature covers the entire file.",
        "The signature is judged VALID.",
    ] {
        assert!(pyhanko.contains(said), "{what}: pyhanko: {pyhanko}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn signed_pdfs_validate_in_pdfsig_and_pyhanko_and_a_changed_byte_does_not() {
    let keys = tempfile::tempdir().unwrap();
    let (ca, identity) = identity(keys.path());
    let app = TestApp::spawn_with(Backend::Embedded, &[quire::Roles::ALL], |c| {
        c.signing.identity_file = Some(identity);
    })
    .await;
    let key = app.new_key("signing").await;

    // A certificate: signed, and the job says by whom.
    let id = app.submit_ok(&key, &certificate("Ada Lovelace")).await;
    let pdf = app.pdf_of(&key, &id).await;
    let job = app.job(&key, &id).await;
    let signature = &job["result"]["signature"];
    assert_eq!(signature["level"], "B-B", "{job}");
    assert!(
        signature["signer"]
            .as_str()
            .unwrap()
            .contains("CN=Quire Academy Signer"),
        "{signature}"
    );
    assert_eq!(signature["certificate_sha256"].as_str().unwrap().len(), 64);
    assert_valid(&pdf, &ca, "certificate").await;
    // The verification says it is signed, and by whom.
    let cert: Value = app
        .get(&key, &format!("/v1/certificates/{id}"))
        .await
        .json()
        .await
        .unwrap();
    let verify = app
        .json_at(None, cert["verify_url"].as_str().unwrap())
        .await;
    assert!(
        verify["signed_by"]
            .as_str()
            .unwrap()
            .contains("CN=Quire Academy Signer"),
        "{verify}"
    );

    // One byte of the signed content changed: both say so.
    let mut tampered = pdf.clone();
    let middle = tampered.len() / 3;
    tampered[middle] ^= 0x01;
    let (pdfsig, pyhanko, _) = validate(tampered, ca.clone()).await;
    assert!(
        !pdfsig.contains("Signature is Valid."),
        "pdfsig still says valid: {pdfsig}"
    );
    assert!(
        !pyhanko.contains("judged VALID") && !pyhanko.contains("cryptographically sound"),
        "pyhanko: {pyhanko}"
    );

    // PDF/A-2b, signed: still PDF/A as read back by pypdf, and valid.
    let mut body = certificate("Grace Hopper");
    body["pdf_standard"] = json!("a-2b");
    let id = app.submit_ok(&key, &body).await;
    let pdf = app.pdf_of(&key, &id).await;
    assert_valid(&pdf, &ca, "PDF/A-2b certificate").await;
    let read: Value = conformance(&pdf).await;
    assert_eq!(read["pdfa_part"], "2", "{read}");
    assert_eq!(
        read["pdfa_conformance"]
            .as_str()
            .map(str::to_ascii_lowercase),
        Some("b".to_owned()),
        "{read}"
    );

    // A report of 100 pages and more.
    let id = app.post_ok(&key, "/v1/reports", &report(10, 400)).await;
    let pdf = app.pdf_of(&key, &id).await;
    let job = app.job(&key, &id).await;
    assert!(
        job["result"]["pages"].as_u64().unwrap() >= 100,
        "{}",
        job["result"]
    );
    assert_valid(&pdf, &ca, "100-page report").await;
    app.stop().await;
}

/// B-T: with a time-stamping authority (deploy/tsa-server.py, `openssl ts` under a TSA
/// certificate of the test CA), the signature carries its time-stamp token, which pyHanko
/// validates against the same trust root.
#[tokio::test(flavor = "multi_thread")]
async fn a_timestamped_signature_is_b_t_and_validates() {
    let keys = tempfile::tempdir().unwrap();
    let (ca, identity) = identity(keys.path());
    let tsa = Tsa::start(keys.path());
    let url = tsa.url.clone();
    let app = TestApp::spawn_with(Backend::Production, &[quire::Roles::ALL], |c| {
        c.signing.identity_file = Some(identity);
        c.signing.timestamp_url = Some(url);
    })
    .await;
    let key = app.new_key("timestamps").await;
    let id = app.submit_ok(&key, &certificate("Alan Turing")).await;
    let pdf = app.pdf_of(&key, &id).await;
    let job = app.job(&key, &id).await;
    assert_eq!(job["result"]["signature"]["level"], "B-T", "{job}");
    assert_valid(&pdf, &ca, "B-T certificate").await;
    let (_, pyhanko, _) = validate(pdf, ca.clone()).await;
    assert!(
        pyhanko.contains("timestamp") || pyhanko.contains("time stamp"),
        "{pyhanko}"
    );
    assert!(pyhanko.contains("quire test TSA"), "{pyhanko}");
    drop(tsa);
    app.stop().await;
}

/// An authority that does not answer fails the attempt as retryable (`timestamp_failed`):
/// nothing is stored unsigned, and once it answers the job succeeds, B-T.
#[tokio::test(flavor = "multi_thread")]
async fn an_authority_that_does_not_answer_is_retried_never_skipped() {
    let keys = tempfile::tempdir().unwrap();
    let (ca, identity) = identity(keys.path());
    let port = crate::helpers::free_port();
    let app = TestApp::spawn_with(Backend::Embedded, &[quire::Roles::ALL], |c| {
        c.signing.identity_file = Some(identity);
        c.signing.timestamp_url = Some(format!("http://127.0.0.1:{port}/"));
        c.signing.timestamp_timeout_secs = 2;
        c.retry.base_ms = 500;
    })
    .await;
    let key = app.new_key("tsa-down").await;
    let id = app.submit_ok(&key, &certificate("Barbara Liskov")).await;
    let failed = app
        .wait_for(&key, &id, &["failed", "dead", "succeeded"])
        .await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["error"]["code"], "timestamp_failed", "{failed}");
    assert!(failed["result"].is_null(), "{failed}");
    // The authority comes up where it was configured: the retry signs, time-stamped.
    let _tsa = Tsa::start_on(keys.path(), port);
    let pdf = app.pdf_of(&key, &id).await;
    let job = app.job(&key, &id).await;
    assert_eq!(job["result"]["signature"]["level"], "B-T", "{job}");
    assert!(job["attempt"].as_i64().unwrap() >= 2, "{job}");
    assert_valid(&pdf, &ca, "certificate signed on its retry").await;
    app.stop().await;
}
