//! The client commands of the `quire` binary (`submit`, `batch`, `jobs`, `status`, ...), run
//! as a user runs them (`assert_cmd`) against a real quire on loopback: their `--json`
//! parsed, their files opened, their exit codes checked.

use std::io::Read as _;
use std::path::Path;
use std::process::Output;

use serde_json::{Value, json};

use crate::helpers::*;

/// The binary, pointed at `app` with `key`, and nothing of the environment's quire settings.
fn quire(app: &TestApp, key: Option<&str>) -> assert_cmd::Command {
    let mut cmd = quire_binary();
    pointed_at(&mut cmd, app, key);
    assert_cmd::Command::from_std(cmd)
}

/// Sets what a client command of `cmd` (itself, or one it starts) reads: `app`'s URL, `key`,
/// and a config directory of this test's own for profiles (`login` writes there).
fn pointed_at(cmd: &mut std::process::Command, app: &TestApp, key: Option<&str>) {
    cmd.env("XDG_CONFIG_HOME", app.dir.path().join("config"))
        .env("HOME", app.dir.path())
        .env("QUIRE_URL", &app.base);
    if let Some(key) = key {
        cmd.env("QUIRE_KEY", key);
    }
}

/// Runs `cmd` off the runtime (the app serves on it meanwhile).
async fn run(mut cmd: assert_cmd::Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs the command and expects exit code `code`; its stdout as JSON (`--json` is added).
async fn json_of(app: &TestApp, key: Option<&str>, args: &[&str], code: i32) -> Value {
    let mut cmd = quire(app, key);
    cmd.args(args).arg("--json");
    let out = run(cmd).await;
    assert_eq!(
        out.status.code(),
        Some(code),
        "quire {args:?}: stdout {} stderr {}",
        stdout(&out),
        stderr(&out)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("quire {args:?}: not JSON ({e}): {}", stdout(&out)))
}

/// Runs the command for people (no `--json`), expecting exit code `code`.
async fn human(app: &TestApp, key: Option<&str>, args: &[&str], code: i32) -> Output {
    let mut cmd = quire(app, key);
    cmd.args(args);
    let out = run(cmd).await;
    assert_eq!(
        out.status.code(),
        Some(code),
        "quire {args:?}: stdout {} stderr {}",
        stdout(&out),
        stderr(&out)
    );
    out
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn jobs_are_submitted_followed_and_downloaded_from_the_command_line() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let key = app.new_key("cli").await;
    let k = Some(key.as_str());
    let dir = app.dir.path();

    // Flags, followed to the end, the PDF saved.
    let pdf = dir.join("ada.pdf");
    let done = json_of(
        &app,
        k,
        &[
            "submit",
            "certificate",
            "--recipient",
            "Ada Lovelace",
            "--course",
            "Analytical Engines",
            "--wait",
            "--out",
            path(&pdf),
        ],
        0,
    )
    .await;
    assert_eq!(done["job"]["status"], "succeeded", "{done}");
    assert_eq!(
        done["saved"]["bytes"],
        std::fs::metadata(&pdf).unwrap().len()
    );
    assert!(pdf_text(&std::fs::read(&pdf).unwrap()).contains("Ada Lovelace"));
    let ada = done["job"]["id"].as_str().unwrap().to_owned();

    // From a YAML file, not followed: the id and status; then `jobs wait`.
    let yaml = dir.join("grace.yaml");
    std::fs::write(
        &yaml,
        "recipient_name: Grace Hopper\ncourse_name: Compilers\nissuer_name: Navy School\n",
    )
    .unwrap();
    let submitted = json_of(
        &app,
        k,
        &[
            "submit",
            "certificate",
            "-f",
            path(&yaml),
            "--priority",
            "low",
        ],
        0,
    )
    .await;
    let grace = submitted["id"].as_str().unwrap().to_owned();
    assert_eq!(submitted["status"], "queued", "{submitted}");
    let waited = json_of(&app, k, &["jobs", "wait", &grace], 0).await;
    assert_eq!(waited["jobs"][0]["status"], "succeeded", "{waited}");

    // show, list with filters, logs, download.
    let shown = json_of(&app, k, &["jobs", "show", &grace], 0).await;
    assert_eq!(shown["id"], grace.as_str());
    assert_eq!(shown["result"]["pages"], 1);
    assert_eq!(shown["priority"], "low");
    let table = human(&app, k, &["jobs", "show", &grace], 0).await;
    assert!(stdout(&table).contains("succeeded"), "{}", stdout(&table));
    let listed = json_of(&app, k, &["jobs", "list", "--kind", "certificate"], 0).await;
    let ids: Vec<&str> = listed["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&ada.as_str()) && ids.contains(&grace.as_str()),
        "{listed}"
    );
    let searched = json_of(
        &app,
        k,
        &["jobs", "list", "--search", "Grace Hopper", "--since", "1h"],
        0,
    )
    .await;
    assert_eq!(searched["jobs"].as_array().unwrap().len(), 1, "{searched}");
    assert_eq!(searched["jobs"][0]["id"], grace.as_str());
    let table = stdout(&human(&app, k, &["jobs", "list", "--limit", "1"], 0).await);
    assert!(
        table.lines().next().unwrap().contains("STATUS") && table.lines().count() == 2,
        "{table}"
    );
    let logs = json_of(&app, k, &["jobs", "logs", &grace], 0).await;
    let statuses: Vec<&str> = logs["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses.last(), Some(&"succeeded"), "{logs}");
    let copy = dir.join("grace.pdf");
    json_of(
        &app,
        k,
        &["jobs", "download", &grace, "--out", path(&copy)],
        0,
    )
    .await;
    assert!(pdf_text(&std::fs::read(&copy).unwrap()).contains("Grace Hopper"));

    // A report from a JSON file; an email with the certificate attached.
    let report = dir.join("report.json");
    std::fs::write(&report, crate::reports::report(1, 3).to_string()).unwrap();
    let done = json_of(
        &app,
        k,
        &[
            "submit",
            "report",
            "-f",
            path(&report),
            "--title",
            "Site Acceptance",
            "--wait",
        ],
        0,
    )
    .await;
    assert_eq!(done["job"]["kind"], "report");
    assert_eq!(done["job"]["status"], "succeeded", "{done}");
    let done = json_of(
        &app,
        k,
        &[
            "submit",
            "email",
            "--to",
            "ada@example.com",
            "--template",
            "certificate_issued",
            "--var",
            "recipient_name=Ada Lovelace",
            "--var",
            "course=Analytical Engines",
            "--var",
            "verification_code=AAAA-BBBB-CCCC",
            "--var",
            "verify_url=http://example.com/verify",
            "--var",
            &format!("job_id={ada}"),
            "--var",
            "attached:=true",
            "--var",
            "download_url:=null",
            "--attach",
            &ada,
            "--wait",
        ],
        0,
    )
    .await;
    assert_eq!(done["job"]["status"], "succeeded", "{done}");
    let mail: Vec<String> = std::fs::read_dir(app.config.mail_dir())
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert!(
        mail.iter()
            .any(|m| m.contains("ada@example.com") && m.contains("application/pdf")),
        "no email with the PDF"
    );

    // A scheduled job cancelled.
    let later = json_of(
        &app,
        k,
        &[
            "submit",
            "certificate",
            "--recipient",
            "Later",
            "--course",
            "C",
            "--delay",
            "3600",
        ],
        0,
    )
    .await;
    let later = later["id"].as_str().unwrap().to_owned();
    let cancelled = json_of(&app, k, &["jobs", "cancel", &later], 0).await;
    assert_eq!(cancelled["results"][0]["ok"], true, "{cancelled}");
    assert_eq!(app.job(&key, &later).await["status"], "cancelled");
    // Waiting on it ends at once, and says it did not succeed: exit 1.
    let out = human(&app, k, &["jobs", "wait", &later], 1).await;
    assert!(stderr(&out).contains("cancelled"), "{}", stderr(&out));

    // The API's refusal, told plainly: its message and the field, exit 2.
    let out = human(
        &app,
        k,
        &["submit", "certificate", "--course", "No Name"],
        2,
    )
    .await;
    let told = stderr(&out);
    assert!(told.contains("recipient_name"), "{told}");
    assert!(
        !told.contains("Api {") && !told.contains("Failure"),
        "{told}"
    );
    let body = json_of(
        &app,
        k,
        &["submit", "certificate", "--course", "No Name"],
        2,
    )
    .await;
    assert_eq!(body["error"]["field"], "recipient_name", "{body}");
    // A bad flag is a usage error too, found before any request.
    human(&app, k, &["jobs", "list", "--status", "sleeping"], 2).await;
    // Every value the API accepts is offered, and nothing else.
    json_of(&app, k, &["jobs", "list", "--kind", "webhook"], 0).await;
    human(
        &app,
        k,
        &["submit", "certificate", "--priority", "critical"],
        2,
    )
    .await;
    human(&app, k, &["jobs", "show", "not/an/id"], 2).await;

    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_addresses_and_keys_are_told_in_one_line_with_their_exit_codes() {
    let app = TestApp::spawn(Backend::Embedded).await;
    // No key: 4.
    let out = human(&app, None, &["jobs", "list"], 4).await;
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    // A wrong key: 4, and --json says so too.
    let body = json_of(&app, Some("qk_wrong"), &["jobs", "list"], 4).await;
    assert!(body["error"]["message"].is_string(), "{body}");
    // Nothing listening there: 3, one line naming the URL.
    let nowhere = format!("http://127.0.0.1:{}", free_port());
    let mut cmd = quire(&app, Some(&app.admin));
    cmd.args(["status", "--url", &nowhere]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(stderr(&out).lines().count(), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains(&nowhere), "{}", stderr(&out));
    // Not a URL: usage.
    let mut cmd = quire(&app, Some(&app.admin));
    cmd.args(["status", "--url", "ftp://example.com"]);
    assert_eq!(run(cmd).await.status.code(), Some(2));
    // An admin-only command with a client's key: 4.
    let key = app.new_key("client").await;
    human(&app, Some(&key), &["status"], 4).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_from_csv_is_followed_to_a_complete_zip() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let key = app.new_key("batches").await;
    let k = Some(key.as_str());
    let dir = app.dir.path();
    let csv = dir.join("people.csv");
    let mut text = String::from("recipient_name,course_name\n");
    for i in 0..12 {
        text.push_str(&format!("Person {i:02},Batch Course\n"));
    }
    std::fs::write(&csv, text).unwrap();

    // Not a terminal: plain progress lines on stderr, the batch and the ZIP at the end.
    let zip_path = dir.join("batch.zip");
    let mut cmd = quire(&app, k);
    cmd.args([
        "batch",
        "submit",
        path(&csv),
        "--template",
        "classic",
        "--wait",
        "--out",
        path(&zip_path),
        "--json",
    ]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let done: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(done["batch"]["complete"], true, "{done}");
    assert_eq!(done["batch"]["counts"]["succeeded"], 12, "{done}");
    let names = zip_entries(&zip_path);
    let pdfs: Vec<&String> = names.iter().filter(|n| n.ends_with(".pdf")).collect();
    assert_eq!(pdfs.len(), 12, "{names:?}");
    let id = done["batch"]["id"].as_str().unwrap().to_owned();

    // status, list, download.
    let status = json_of(&app, k, &["batch", "status", &id], 0).await;
    assert_eq!(status["finished"], 12);
    let list = json_of(&app, k, &["batch", "list"], 0).await;
    assert_eq!(list["batches"][0]["id"], id.as_str(), "{list}");
    let again = dir.join("again.zip");
    json_of(
        &app,
        k,
        &["batch", "download", &id, "--out", path(&again)],
        0,
    )
    .await;
    assert_eq!(zip_entries(&again).len(), names.len());

    // Without --json on a pipe: progress lines, ending at 12/12.
    let out = human(&app, k, &["batch", "submit", path(&csv), "--wait"], 0).await;
    let progress = stderr(&out);
    assert!(progress.contains("12/12 done (100%)"), "{progress}");

    // In a terminal: the bar, drawn on stderr, reaches 100%. `script` gives the command a
    // pseudo-terminal and records what it drew.
    let typescript = dir.join("typescript");
    let command = format!(
        "{} batch submit {} --wait",
        env!("CARGO_BIN_EXE_quire"),
        path(&csv)
    );
    let mut script = std::process::Command::new("script");
    pointed_at(&mut script, &app, k);
    script
        .args(["-q", "-e", "-c", &command, path(&typescript)])
        .env("COLUMNS", "120")
        .env("TERM", "xterm");
    let status = tokio::task::spawn_blocking(move || script.output().unwrap())
        .await
        .unwrap();
    assert!(
        status.status.success(),
        "script: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    let drawn = std::fs::read_to_string(&typescript).unwrap();
    assert!(drawn.contains("12/12 100%"), "{drawn}");
    assert!(drawn.contains('█'), "no bar drawn: {drawn}");

    // A bad row: nothing accepted, the row and field told, exit 2.
    std::fs::write(&csv, "recipient_name,course_name\nSomeone,\n").unwrap();
    let out = human(&app, k, &["batch", "submit", path(&csv)], 2).await;
    assert!(stderr(&out).contains("row 1"), "{}", stderr(&out));
    app.stop().await;
}

fn zip_entries(path: &Path) -> Vec<String> {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    (0..archive.len())
        .map(|i| {
            let mut entry = archive.by_index(i).unwrap();
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            assert!(!bytes.is_empty(), "{} is empty", entry.name());
            entry.name().to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn operators_inspect_and_repair_from_the_command_line() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let admin = Some(app.admin.as_str());
    let dir = app.dir.path();

    // Dead jobs, revived by `jobs retry --all-dead`: each runs a second attempt.
    let probe = || shared::jobs::Probe {
        sleep_ms: 0,
        outcome: shared::jobs::ProbeOutcome::FailPermanent,
    };
    let dead = [
        app.insert_probe(&app.admin, probe(), 1).await,
        app.insert_probe(&app.admin, probe(), 1).await,
    ];
    for id in &dead {
        app.wait_for(&app.admin, id, &["dead"]).await;
    }
    let none = json_of(
        &app,
        admin,
        &["jobs", "retry", "--all-dead", "--kind", "certificate"],
        0,
    )
    .await;
    assert_eq!(none["results"], json!([]), "{none}");
    let retried = json_of(&app, admin, &["jobs", "retry", "--all-dead"], 0).await;
    let mut revived: Vec<&str> = retried["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    revived.sort();
    let mut expected: Vec<&str> = dead.iter().map(String::as_str).collect();
    expected.sort();
    assert_eq!(revived, expected, "{retried}");
    for id in &dead {
        // Ends dead again (the probe always fails), after a second attempt.
        let out = human(&app, admin, &["jobs", "wait", id], 1).await;
        assert!(stderr(&out).contains("dead"), "{}", stderr(&out));
        assert_eq!(app.job(&app.admin, id).await["attempt"], 2);
    }

    // status and top.
    let status = json_of(&app, admin, &["status"], 0).await;
    assert!(
        status["status"]["workers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["alive"] == true),
        "{status}"
    );
    assert!(
        status["schedules"].as_array().unwrap().len() >= 3,
        "{status}"
    );
    let queues = &status["status"]["queues"];
    assert!(
        queues
            .as_array()
            .unwrap()
            .iter()
            .any(|q| q["jobs"]["dead"].as_i64() >= Some(2)),
        "{queues}"
    );
    let table = stdout(&human(&app, admin, &["status"], 0).await);
    for heading in ["QUEUE", "WORKER", "SCHEDULE", "succeeded"] {
        assert!(table.contains(heading), "{table}");
    }
    let mut cmd = quire(&app, admin);
    cmd.args(["top", "--interval", "1", "--iterations", "2", "--json"]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let frames: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(frames.len(), 2);
    assert!(frames[1]["status"]["queues"].is_array());

    // Schedules: paused, resumed, run now and followed.
    let paused = json_of(&app, admin, &["schedules", "pause", "cleanup"], 0).await;
    assert_eq!(paused["paused"], true, "{paused}");
    let list = json_of(&app, admin, &["schedules", "list"], 0).await;
    let cleanup = list["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "cleanup")
        .unwrap();
    assert_eq!(cleanup["paused"], true);
    let resumed = json_of(&app, admin, &["schedules", "resume", "cleanup"], 0).await;
    assert_eq!(resumed["paused"], false);
    let ran = json_of(&app, admin, &["schedules", "run", "health", "--wait"], 0).await;
    assert_eq!(ran["status"], "succeeded", "{ran}");
    human(&app, admin, &["schedules", "pause", "no-such-schedule"], 2).await;

    // Templates: pushed from a directory, listed, shown, pushed again (a new version),
    // previewed as PNG.
    let tdir = dir.join("cli-template");
    std::fs::create_dir_all(tdir.join("img")).unwrap();
    std::fs::write(
        tdir.join("main.typ"),
        "#let data = json(\"/data.json\")\n#set page(width: 10cm, height: 6cm)\n#image(\"/img/mark.svg\", width: 1cm)\nCertified: #data.at(\"recipient_name\", default: \"\") (#data.at(\"fields\", default: (:)).at(\"grade\", default: \"\"))\n",
    )
    .unwrap();
    std::fs::write(
        tdir.join("img/mark.svg"),
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10" fill="teal"/></svg>"#,
    )
    .unwrap();
    std::fs::write(
        tdir.join("template.json"),
        r#"{"description": "From the CLI", "fields": [{"name": "grade", "type": "text", "required": false}]}"#,
    )
    .unwrap();
    let pushed = json_of(&app, admin, &["templates", "push", path(&tdir)], 0).await;
    assert_eq!(pushed["name"], "cli-template", "{pushed}");
    assert_eq!(pushed["version"], 1);
    let pushed = json_of(&app, admin, &["templates", "push", path(&tdir)], 0).await;
    assert_eq!(pushed["version"], 2, "{pushed}");
    let shown = json_of(&app, admin, &["templates", "show", "cli-template"], 0).await;
    assert_eq!(shown["description"], "From the CLI");
    assert!(shown["assets"]["/img/mark.svg"].is_number(), "{shown}");
    let listed = json_of(&app, admin, &["templates", "list"], 0).await;
    assert!(
        listed["templates"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "cli-template"),
        "{listed}"
    );
    let png = dir.join("page.png");
    json_of(
        &app,
        admin,
        &[
            "templates",
            "preview",
            "cli-template",
            "--out",
            path(&png),
            "--recipient",
            "Preview Person",
            "--field",
            "grade=A",
        ],
        0,
    )
    .await;
    let image = image::open(&png).expect("a PNG");
    assert!(image.width() > 100, "{}", image.width());
    // A template that does not compile: typst's error, located.
    std::fs::write(tdir.join("main.typ"), "#let x = (\n").unwrap();
    let out = human(&app, admin, &["templates", "push", path(&tdir)], 2).await;
    assert!(stderr(&out).contains("/main.typ:"), "{}", stderr(&out));

    // Certificates: issued, verified (exit 0), revoked, verified again (exit 1).
    let cert = json_of(
        &app,
        admin,
        &[
            "submit",
            "certificate",
            "--recipient",
            "Verified Person",
            "--course",
            "Checks",
            "--template",
            "cli-template",
            "--field",
            "grade=B",
            "--wait",
        ],
        0,
    )
    .await;
    let id = cert["job"]["id"].as_str().unwrap().to_owned();
    let code = app
        .json_at(Some(&app.admin), app.url(&format!("/v1/certificates/{id}")))
        .await["verification_code"]
        .as_str()
        .unwrap()
        .to_owned();
    let verified = json_of(&app, None, &["certificates", "verify", &code], 0).await;
    assert_eq!(verified["status"], "valid");
    assert_eq!(verified["recipient_name"], "Verified Person");
    let revoked = json_of(
        &app,
        admin,
        &["certificates", "revoke", &id, "--reason", "Issued in error"],
        0,
    )
    .await;
    assert_eq!(revoked["status"], "revoked");
    let verified = json_of(&app, None, &["certificates", "verify", &code], 1).await;
    assert_eq!(verified["revocation_reason"], "Issued in error");

    // Cache.
    let stats = json_of(&app, admin, &["cache", "stats"], 0).await;
    let caches = stats["caches"].as_array().expect("per cache");
    assert!(
        caches
            .iter()
            .any(|c| c["name"] == "verifications" && c["hits"].is_u64()),
        "{stats}"
    );
    let cleared = json_of(&app, admin, &["cache", "clear"], 0).await;
    assert!(cleared["dropped"].is_u64(), "{cleared}");
    let health = json_of(&app, admin, &["cache", "health"], 0).await;
    assert_eq!(health["up"], true, "{health}");

    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn login_saves_a_private_profile_that_later_commands_use() {
    let app = TestApp::spawn(Backend::Embedded).await;
    // A wrong key is refused and nothing is saved.
    let mut cmd = quire(&app, None);
    cmd.args(["login", "--profile", "work"])
        .write_stdin("qk_wrong\n");
    assert_eq!(run(cmd).await.status.code(), Some(4));
    let file = app.dir.path().join("config/quire/profiles.toml");
    assert!(!file.exists());

    // The key on stdin (never on the command line).
    let mut cmd = quire(&app, None);
    cmd.args(["login", "--profile", "work"])
        .write_stdin(format!("{}\n", app.admin));
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", stderr(&out));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    // Neither URL nor key in the environment: the profile's are used.
    let mut cmd = quire(&app, None);
    cmd.env_remove("QUIRE_URL")
        .args(["jobs", "list", "--profile", "work", "--json"]);
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let page: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(page["jobs"].is_array());
    // An unknown profile is a usage error.
    human(&app, None, &["jobs", "list", "--profile", "nope"], 2).await;
    app.stop().await;
}

/// A server on loopback that records the head of every request it gets and answers each
/// with quire's `401` body: where a key went, and where none did.
struct Recorder {
    port: u16,
    heads: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Recorder {
    async fn start() -> Recorder {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let heads = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = heads.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let seen = seen.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    seen.lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&head).to_ascii_lowercase());
                    let body = r#"{"error":{"code":"unauthorized","message":"recorded"}}"#;
                    let answer = format!(
                        "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\n\
                         content-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(answer.as_bytes()).await;
                });
            }
        });
        Recorder { port, heads }
    }

    fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_saved_key_goes_only_to_its_own_address_and_no_key_goes_over_plain_http_elsewhere() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let mut cmd = quire(&app, None);
    cmd.args(["login", "--profile", "work"])
        .write_stdin(format!("{}\n", app.admin));
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let other = Recorder::start().await;
    let elsewhere = format!("http://127.0.0.1:{}", other.port);

    // `--url` elsewhere with the profile: the profile's key stays home.
    let mut cmd = quire(&app, None);
    cmd.env("QUIRE_URL", &elsewhere)
        .args(["jobs", "list", "--profile", "work"]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("not sending profile `work`'s key"),
        "{}",
        stderr(&out)
    );
    let heads = other.heads();
    assert_eq!(heads.len(), 1, "{heads:?}");
    assert!(!heads[0].contains("authorization"), "{}", heads[0]);
    assert!(!heads[0].contains(&app.admin.to_ascii_lowercase()));

    // The profile's own origin, spelled with a trailing slash: its key is used.
    let mut cmd = quire(&app, None);
    cmd.env("QUIRE_URL", format!("{}/", app.base)).args([
        "jobs",
        "list",
        "--profile",
        "work",
        "--json",
    ]);
    let out = run(cmd).await;
    assert!(out.status.success(), "{}", stderr(&out));

    // A key given explicitly is the user's choice (loopback: plain http is fine).
    let mut cmd = quire(&app, Some("qk_explicit"));
    cmd.env("QUIRE_URL", &elsewhere).args(["jobs", "list"]);
    assert_eq!(run(cmd).await.status.code(), Some(4));
    let heads = other.heads();
    assert_eq!(heads.len(), 2, "{heads:?}");
    assert!(
        heads[1].contains("authorization: bearer qk_explicit"),
        "{}",
        heads[1]
    );

    // Plain http to a host that is not loopback (0.0.0.0 reaches this machine, but is not a
    // loopback name): refused before anything is sent, login included.
    let far = format!("http://0.0.0.0:{}", other.port);
    let mut cmd = quire(&app, Some("qk_explicit"));
    cmd.env("QUIRE_URL", &far).args(["jobs", "list"]);
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let message = stderr(&out);
    assert!(
        message.contains("refusing to send the API key over plain http://")
            && message.contains("--insecure-http")
            && message.lines().count() == 1,
        "{message}"
    );
    let mut cmd = quire(&app, None);
    cmd.args(["login", "--profile", "far", "--url", &far])
        .write_stdin("qk_typed\n");
    let out = run(cmd).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(other.heads().len(), 2, "nothing more was sent");

    // Asked for explicitly: sent.
    let mut cmd = quire(&app, Some("qk_explicit"));
    cmd.env("QUIRE_URL", &far)
        .args(["jobs", "list", "--insecure-http"]);
    assert_eq!(run(cmd).await.status.code(), Some(4));
    let heads = other.heads();
    assert_eq!(heads.len(), 3, "{heads:?}");
    assert!(heads[2].contains("authorization: bearer qk_explicit"));
    app.stop().await;
}

#[test]
fn completions_and_man_pages_come_from_the_same_definitions() {
    for shell in ["bash", "zsh", "fish"] {
        let out = assert_cmd::Command::new(env!("CARGO_BIN_EXE_quire"))
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success());
        let script = String::from_utf8(out.stdout).unwrap();
        for word in ["submit", "batch", "retry", "--all-dead"] {
            assert!(script.contains(word), "{shell}: no {word}");
        }
    }
    let out = assert_cmd::Command::new(env!("CARGO_BIN_EXE_quire"))
        .arg("man")
        .output()
        .unwrap();
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(
        page.contains(".TH quire") && page.contains("Exit codes"),
        "{page}"
    );
    let dir = tempfile::tempdir().unwrap();
    assert_cmd::Command::new(env!("CARGO_BIN_EXE_quire"))
        .args(["man", "--dir", path(dir.path())])
        .assert()
        .success();
    let page = std::fs::read_to_string(dir.path().join("quire-jobs-retry.1")).unwrap();
    assert!(page.contains("all\\-dead"), "{page}");

    // The client's variables are not server settings: a shell that sets them still runs
    // the server's commands.
    let data = tempfile::tempdir().unwrap();
    let out = quire_binary()
        .env("QUIRE_DATA_DIR", data.path())
        .env("QUIRE_URL", "http://127.0.0.1:9")
        .env("QUIRE_KEY", "qk_client")
        .env("QUIRE_PROFILE", "work")
        .arg("migrate")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

/// `quire workflows`: a chain and its merge submitted from a file and followed to the end,
/// shown and listed; a workflow that cannot run (no worker) cancelled, after which `wait`
/// exits 1 saying so.
#[tokio::test(flavor = "multi_thread")]
async fn workflows_are_submitted_followed_and_cancelled_from_the_command_line() {
    let app = TestApp::spawn(Backend::Embedded).await;
    let key = app.new_key("cli-workflows").await;
    // Outlives the first app (the second submits it too).
    let files = tempfile::tempdir().unwrap();
    let file = files.path().join("workflow.json");
    let cert = |name: &str| json!({"recipient_name": name, "course_name": "Pipelines"});
    std::fs::write(
        &file,
        json!({"name": "cli-chain", "steps": [
            {"name": "first", "kind": "certificate", "certificate": cert("Grace Hopper")},
            {"name": "second", "kind": "certificate", "after": ["first"], "certificate": cert("Edsger Dijkstra")},
            {"name": "book", "kind": "merge", "after": ["first", "second"]}
        ]})
        .to_string(),
    )
    .unwrap();
    let done = json_of(
        &app,
        Some(&key),
        &["workflows", "submit", path(&file), "--wait"],
        0,
    )
    .await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["finished"], done["total"], "{done}");
    let id = done["id"].as_str().unwrap();
    let book = done["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "book")
        .unwrap();
    assert_eq!(book["job"]["status"], "succeeded", "{book}");
    assert_eq!(book["job"]["result"]["pages"], 2, "{book}");

    // For people: the record and one row per step with its state.
    let shown = stdout(&human(&app, Some(&key), &["workflows", "show", id], 0).await);
    assert!(
        shown.contains("cli-chain") && shown.contains("completed"),
        "{shown}"
    );
    for step in ["first", "second", "book"] {
        assert!(shown.contains(step), "{step}: {shown}");
    }
    let listed = json_of(&app, Some(&key), &["workflows", "list"], 0).await;
    assert_eq!(listed["workflows"][0]["id"], id, "{listed}");
    app.stop().await;

    // No worker: nothing runs, so the workflow is cancelled while it waits.
    let app = TestApp::spawn_with(Backend::Embedded, &[quire::Roles::API], |_| {}).await;
    let key = app.new_key("cli-cancel").await;
    let submitted = json_of(&app, Some(&key), &["workflows", "submit", path(&file)], 0).await;
    assert_eq!(submitted["status"], "running", "{submitted}");
    let id = submitted["id"].as_str().unwrap();
    let cancelled = json_of(&app, Some(&key), &["workflows", "cancel", id], 0).await;
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    let out = human(&app, Some(&key), &["workflows", "wait", id], 1).await;
    assert!(stderr(&out).contains("cancelled"), "{}", stderr(&out));
    // Another key does not see it.
    let other = app.new_key("cli-other").await;
    let out = human(&app, Some(&other), &["workflows", "show", id], 2).await;
    let said = stderr(&out).to_lowercase();
    assert!(
        said.contains("not found") || said.contains("not_found"),
        "{said}"
    );
    app.stop().await;
}
