//! The `quire` binary: key management, migrations, configuration errors.

use std::process::Command;

use reqwest::StatusCode;

use crate::helpers::*;

fn quire(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_quire"));
    // Only what the test sets: no configuration leaks in from the environment.
    for (name, _) in std::env::vars() {
        if name.starts_with("QUIRE_") || name == "DATABASE_URL" || name == "REDIS_URL" {
            cmd.env_remove(name);
        }
    }
    cmd.env("QUIRE_DATA_DIR", dir).env("RUST_LOG", "error");
    cmd
}

#[tokio::test]
async fn keys_created_by_the_cli_work_against_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let out = quire(dir.path()).arg("migrate").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = quire(dir.path())
        .args(["keys", "create", "--name", "ci"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let key = stdout.lines().last().unwrap().trim().to_owned();
    assert!(key.starts_with("qk_") && key.len() > 40, "{stdout}");

    let out = quire(dir.path()).args(["keys", "list"]).output().unwrap();
    let listing = String::from_utf8(out.stdout).unwrap();
    assert!(
        listing.contains("ci") && !listing.contains(&key),
        "{listing}"
    );

    // The same data directory, served: the key authenticates.
    let mut config = base_config(&dir);
    config.data_dir = dir.path().to_path_buf();
    let app = quire::App::start(config, quire::Roles::API, true)
        .await
        .unwrap();
    assert!(
        app.first_admin_key.is_none(),
        "keys exist: no admin key is created"
    );
    let url = format!("http://{}/v1/jobs", app.addr.unwrap());
    let client = reqwest::Client::new();
    assert_eq!(
        client
            .get(&url)
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );

    // Revoked through the CLI: refused (the key was cached; the cache lives 10 s at most).
    let id = listing
        .lines()
        .find(|l| l.contains(" ci"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let out = quire(dir.path())
        .args(["keys", "revoke", &id])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let status = client
            .get(&url)
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .status();
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "revoked key still accepted"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    app.stop().await.unwrap();
}

#[test]
fn invalid_settings_stop_start_up_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let out = quire(dir.path())
        .env("QUIRE_BIND", "not-an-address")
        .arg("migrate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bind"), "{stderr}");

    let out = quire(dir.path())
        .env("DATABASE_URL", "mysql://user:hunter2@db/x")
        .arg("migrate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("database_url") && !stderr.contains("hunter2"),
        "{stderr}"
    );

    let out = quire(dir.path())
        .env("QUIRE_QUEUES__CERTIFICATES__CONCURRENCY", "0")
        .arg("migrate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("queues.certificates.concurrency"));

    // A production role refuses an unmigrated database instead of failing later.
    let out = quire(dir.path()).arg("api").output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("quire migrate"));
}

#[test]
fn help_describes_every_subcommand() {
    let out = Command::new(env!("CARGO_BIN_EXE_quire"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for sub in [
        "run",
        "api",
        "worker",
        "scheduler",
        "migrate",
        "keys",
        "settings",
    ] {
        assert!(help.contains(sub), "{sub} missing from --help");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_quire"))
        .args(["worker", "--help"])
        .output()
        .unwrap();
    assert!(String::from_utf8(out.stdout).unwrap().contains("QUIRE_"));
}
