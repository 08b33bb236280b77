//! The git revision this build came from, for the `quire_build_info` metric
//! (`BUILD_GIT_REVISION` from the environment wins: image builds without `.git`).

fn main() {
    println!("cargo:rerun-if-env-changed=BUILD_GIT_REVISION");
    let revision = std::env::var("BUILD_GIT_REVISION").ok().or_else(|| {
        let out = std::process::Command::new("git")
            .args(["rev-parse", "--short=12", "HEAD"])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    });
    if let Some(revision) = revision.filter(|r| !r.is_empty()) {
        println!("cargo:rustc-env=BUILD_GIT_REVISION={revision}");
    }
    // Rebuild when HEAD moves (a commit or a checkout).
    for path in ["../.git/HEAD", "../.git/refs/heads"] {
        if std::path::Path::new(path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}
