//! quire as real processes (`quire api`, `quire worker`, ...) for the tests that need one
//! recorder or exporter per process: each is given only the settings the test names.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;

/// A child process killed when dropped (a failing test leaves nothing running).
pub struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn quire(env: &[(String, String)], args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_quire"));
    // Only what is given: the test's own QUIRE_TEST_* would be unknown settings to quire.
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null());
    command
}

pub fn spawn(mut command: Command, log: &std::path::Path) -> Process {
    let out = std::fs::File::create(log).unwrap();
    let err = out.try_clone().unwrap();
    Process(
        command
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("process starts"),
    )
}

pub async fn wait_ready(url: &str, what: &str, log: &std::path::Path) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = reqwest::get(url).await
            && r.status() == StatusCode::OK
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} never ready at {url}: {}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
