//! The git revision this build came from, for the `quire_build_info` metric
//! (`BUILD_GIT_REVISION` from the environment wins: image builds without `.git`).
//!
//! Here, in the binary's package, so a commit rebuilds only this package, and only for
//! release builds: debug and test builds report `dev` and never watch `.git`, so a commit does
//! not relink every test binary.

fn main() {
    println!("cargo:rerun-if-env-changed=BUILD_GIT_REVISION");
    let release = std::env::var("PROFILE").is_ok_and(|p| p == "release");
    let revision = std::env::var("BUILD_GIT_REVISION").ok().or_else(|| {
        if !release {
            return Some("dev".to_owned());
        }
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
    if release {
        // Rebuild when HEAD moves (a commit or a checkout).
        for path in ["../.git/HEAD", "../.git/refs/heads"] {
            if std::path::Path::new(path).exists() {
                println!("cargo:rerun-if-changed={path}");
            }
        }
    }
}
