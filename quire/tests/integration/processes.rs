//! quire as real processes (`quire api`, `quire worker`, ...) for the tests that need one
//! recorder or exporter per process: each is given only the settings the test names.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

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

/// Settings as the processes are given them.
pub fn settings(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// `quire migrate`, then `quire keys create --admin`: the new key's secret.
pub fn migrate_and_admin_key(env: &[(String, String)]) -> String {
    let migrated = quire(env, &["migrate"]).output().unwrap();
    assert!(migrated.status.success(), "{migrated:?}");
    let created = quire(env, &["keys", "create", "--name", "admin", "--admin"])
        .output()
        .unwrap();
    assert!(created.status.success(), "{created:?}");
    let stdout = String::from_utf8(created.stdout).unwrap();
    stdout.lines().last().unwrap().trim().to_owned()
}

/// Polls a job through the API until its status is one of `done` (or 60 s pass).
pub async fn job_when(api: &str, key: &str, id: &str, done: &[&str]) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let job: Value = reqwest::Client::new()
            .get(format!("{api}/v1/jobs/{id}"))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if done.contains(&job["status"].as_str().unwrap_or_default()) {
            return job;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "job never reached {done:?}: {job}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Logs written to a file (as a supervisor or a container runtime collects them) are plain
/// text: no terminal colour codes, which a log file would show as `\x1b[2m…`.
#[tokio::test]
async fn logs_to_a_file_carry_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let port = crate::helpers::free_port();
    let env = settings(&[
        ("QUIRE_DATA_DIR", dir.path().to_str().unwrap()),
        ("QUIRE_BIND", &format!("127.0.0.1:{port}")),
        ("RUST_LOG", "info"),
    ]);
    let log = dir.path().join("run.log");
    let run = spawn(quire(&env, &["run"]), &log);
    wait_ready(&format!("http://127.0.0.1:{port}/ready"), "run", &log).await;
    drop(run);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("api listening"), "{text}");
    assert!(
        !text.contains('\u{1b}'),
        "colour codes in a log file: {text:?}"
    );
}
