//! A real SMTP server for tests: aiosmtpd (PyPI, ensured by `deploy/test-services.sh`) running
//! `worker/tests/smtp_server.py` as a child process. Shared by the worker's integration tests
//! and quire's (included with `#[path]`).

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The server child; killed when dropped. Messages are saved under `dir`.
pub struct SmtpServer {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on (yet).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl SmtpServer {
    /// On a free port; RCPT TO answers 550 for every `reject` and 450 for every `tempfail`.
    pub fn start(reject: &[&str], tempfail: &[&str]) -> SmtpServer {
        Self::start_on(free_port(), reject, tempfail)
    }

    /// On `port` (a test that starts the server late picks the port first).
    pub fn start_on(port: u16, reject: &[&str], tempfail: &[&str]) -> SmtpServer {
        let dir = tempfile::tempdir().unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../worker/tests/smtp_server.py");
        let mut cmd = Command::new("python3");
        cmd.arg(&script)
            .args(["--port", &port.to_string()])
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for r in reject {
            cmd.args(["--reject", r]);
        }
        for t in tempfail {
            cmd.args(["--tempfail", t]);
        }
        let mut child = cmd
            .spawn()
            .expect("python3 not found (run deploy/test-services.sh)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        if line.trim() != "ready" {
            let status = child.wait().unwrap();
            panic!(
                "the SMTP test server did not start ({status}); is aiosmtpd installed? \
                 run deploy/test-services.sh"
            );
        }
        SmtpServer { child, port, dir }
    }

    /// The messages saved so far, waiting up to `wait` for `n`: (envelope lines: sender then
    /// recipients, raw message), in arrival order.
    pub fn received_within(&self, n: usize, wait: Duration) -> Vec<(Vec<String>, Vec<u8>)> {
        let deadline = Instant::now() + wait;
        loop {
            let mut emls: Vec<(u64, PathBuf)> = std::fs::read_dir(self.dir.path())
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "eml"))
                .filter_map(|p| {
                    let n = p.file_stem()?.to_str()?.parse().ok()?;
                    Some((n, p))
                })
                .collect();
            if emls.len() >= n || Instant::now() > deadline {
                emls.sort();
                return emls
                    .into_iter()
                    .map(|(_, p)| {
                        let rcpt = std::fs::read_to_string(p.with_extension("rcpt")).unwrap();
                        let lines = rcpt.lines().map(str::to_owned).collect();
                        (lines, std::fs::read(&p).unwrap())
                    })
                    .collect();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// [`Self::received_within`] 5 s.
    pub fn received(&self, n: usize) -> Vec<(Vec<String>, Vec<u8>)> {
        self.received_within(n, Duration::from_secs(5))
    }
}
