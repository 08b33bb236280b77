//! The `quire` binary: key management, migrations, configuration errors.

use std::process::Command;

use reqwest::StatusCode;

use crate::helpers::*;

fn quire(dir: &std::path::Path) -> Command {
    let mut cmd = quire_binary();
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

/// `quire keys create|set` email flags: listed, and applied by a running API within the key
/// cache's 10 s.
#[tokio::test]
async fn email_limits_set_by_the_cli_apply_to_a_running_api() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = quire(dir.path()).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    run(&["migrate"]);
    let created = run(&[
        "keys",
        "create",
        "--name",
        "partner",
        "--email-domains",
        "Example.com, example.org",
        "--email-quota-per-day",
        "0",
    ]);
    let key = created.lines().last().unwrap().trim().to_owned();
    let line = run(&["keys", "list"]);
    let line = line.lines().find(|l| l.ends_with(" partner")).unwrap();
    assert!(
        line.contains("default/h unlimited/d example.com,example.org"),
        "{line}"
    );
    let id = line.split_whitespace().next().unwrap().to_owned();
    let bad = quire(dir.path())
        .args(["keys", "set", &id, "--email-domains", "not a domain"])
        .output()
        .unwrap();
    assert!(!bad.status.success());

    let mut config = base_config(&dir);
    config.data_dir = dir.path().to_path_buf();
    let app = quire::App::start(config, quire::Roles::API, true)
        .await
        .unwrap();
    let url = format!("http://{}/v1/certificates", app.addr.unwrap());
    let client = reqwest::Client::new();
    let submit = || {
        let mut body = certificate("Partner Holder");
        body["notify"] = serde_json::json!({"email": "ops@elsewhere.net"});
        client.post(&url).bearer_auth(&key).json(&body).send()
    };
    assert_eq!(
        submit().await.unwrap().status(),
        StatusCode::UNPROCESSABLE_ENTITY
    );

    let set = run(&["keys", "set", &id, "--email-domains", "any"]);
    assert!(set.contains("default/h unlimited/d any"), "{set}");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let status = submit().await.unwrap().status();
        if status == StatusCode::ACCEPTED {
            break;
        }
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            tokio::time::Instant::now() < deadline,
            "the lifted domain list never applied"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    app.stop().await.unwrap();
}

#[test]
fn invalid_settings_stop_start_up_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    // (variable, value, what stderr must name); no stderr may echo the password.
    let cases = [
        ("QUIRE_BIND", "not-an-address", "bind"),
        ("DATABASE_URL", "mysql://user:hunter2@db/x", "database_url"),
        (
            "QUIRE_QUEUES__CERTIFICATES__CONCURRENCY",
            "0",
            "queues.certificates.concurrency",
        ),
    ];
    for (variable, value, named) in cases {
        let out = quire(dir.path())
            .env(variable, value)
            .arg("migrate")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{variable}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(named) && !stderr.contains("hunter2"),
            "{variable}: {stderr}"
        );
    }

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
        "submit",
        "batch",
        "jobs",
        "status",
        "completions",
        "Exit codes",
    ] {
        assert!(help.contains(sub), "{sub} missing from --help");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_quire"))
        .args(["worker", "--help"])
        .output()
        .unwrap();
    assert!(String::from_utf8(out.stdout).unwrap().contains("QUIRE_"));
}

/// The newcomer's path, as a real process: `quire run` with nothing configured prints an admin
/// key, serves a certificate end to end, and stops cleanly on SIGTERM.
#[tokio::test]
async fn quire_run_with_no_configuration_serves_and_stops_on_sigterm() {
    use tokio::io::AsyncBufReadExt;

    let dir = tempfile::tempdir().unwrap();
    let port = crate::helpers::free_port();
    let mut child = tokio::process::Command::from(quire(dir.path()))
        .env("QUIRE_BIND", format!("127.0.0.1:{port}"))
        .arg("run")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // The key is printed on stdout before the process serves.
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let key = tokio::time::timeout(std::time::Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(key) = line.split_whitespace().find(|w| w.starts_with("qk_")) {
                return key.to_owned();
            }
        }
        panic!("quire run exited without printing a key");
    })
    .await
    .expect("key printed");
    assert!(dir.path().join("app.db").exists() && dir.path().join("queue.db").exists());

    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let submitted: serde_json::Value = client
        .post(format!("{base}/v1/certificates"))
        .bearer_auth(&key)
        .json(&certificate("Newcomer Nadia"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let job_url = submitted["links"]["self"].as_str().unwrap().to_owned();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let job: serde_json::Value = client
            .get(&job_url)
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if job["status"] == "succeeded" {
            break;
        }
        assert!(
            job["status"] != "dead" && tokio::time::Instant::now() < deadline,
            "{job}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let pdf = client
        .get(format!("{job_url}/file"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(pdf_text(&pdf).contains("Newcomer Nadia"));

    let pid = child.id().unwrap().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = tokio::time::timeout(std::time::Duration::from_secs(40), child.wait())
        .await
        .expect("stops within the grace period")
        .unwrap();
    assert!(status.success(), "exit status {status}");
}
