//! Where a client command connects: `--url`/`QUIRE_URL` and `--key`/`QUIRE_KEY`, else the
//! named profile of `<config dir>/quire/profiles.toml` (written by `quire login`, mode 0600
//! because it holds keys), else the embedded default's address without a key.
//!
//! A profile's key belongs to the profile's origin (scheme, host, port): a `--url` elsewhere
//! does not get it, so `QUIRE_URL=http://elsewhere` cannot hand a saved admin key to another
//! host. And no key at all goes over plain `http://` to a host that is not loopback unless
//! `--insecure-http` says so: anyone on the path would read it.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::failure::Failure;

/// Where `quire run` listens with nothing configured.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8080";

/// Connection flags, on every client command.
#[derive(Debug, Clone, clap::Args)]
pub struct Conn {
    /// The quire to talk to [default: the profile's, else http://127.0.0.1:8080].
    #[arg(long, env = "QUIRE_URL", global = true, value_name = "URL")]
    pub url: Option<String>,
    /// API key [default: the profile's]. A flag shows in the process list: prefer QUIRE_KEY
    /// or `quire login`.
    #[arg(
        long,
        env = "QUIRE_KEY",
        global = true,
        hide_env_values = true,
        value_name = "KEY"
    )]
    pub key: Option<String>,
    /// The profile `quire login` saved.
    #[arg(
        long,
        env = "QUIRE_PROFILE",
        global = true,
        default_value = "default",
        value_name = "NAME"
    )]
    pub profile: String,
    /// Print the API's JSON on stdout instead of tables (errors too, as the API's error body).
    #[arg(long, global = true)]
    pub json: bool,
    /// Send the key over plain http:// to a host that is not loopback (refused otherwise:
    /// anyone on the path could read it).
    #[arg(long, env = "QUIRE_INSECURE_HTTP", global = true)]
    pub insecure_http: bool,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Profiles {
    #[serde(default)]
    profiles: BTreeMap<String, Profile>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Profile {
    pub url: String,
    pub key: String,
}

/// `profiles.toml` under the user's config directory (`$XDG_CONFIG_HOME/quire` on Linux).
pub fn path() -> Result<PathBuf, Failure> {
    dirs::config_dir()
        .map(|d| d.join("quire").join("profiles.toml"))
        .ok_or_else(|| Failure::Other("no config directory (set HOME or XDG_CONFIG_HOME)".into()))
}

fn read() -> Result<Profiles, Failure> {
    let path = path()?;
    match std::fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text)
            .map_err(|e| Failure::Other(format!("{}: {}", path.display(), e.message()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Profiles::default()),
        Err(e) => Err(Failure::Other(format!("{}: {e}", path.display()))),
    }
}

impl Conn {
    /// The URL and key to use: the flags (or environment) over the profile. The profile's
    /// key only for the profile's own origin; any key only over https or to loopback, unless
    /// `--insecure-http`.
    pub fn resolve(&self) -> Result<(String, Option<String>), Failure> {
        let profile = read()?.profiles.remove(&self.profile);
        if profile.is_none() && self.profile != "default" {
            return Err(Failure::Usage(format!(
                "no profile `{}` (save one with `quire login --profile {}`)",
                self.profile, self.profile
            )));
        }
        let url = self
            .url
            .clone()
            .or_else(|| profile.as_ref().map(|p| p.url.clone()))
            .unwrap_or_else(|| DEFAULT_URL.to_owned());
        let key = match (&self.key, profile) {
            (Some(key), _) => Some(key.clone()),
            (None, Some(p)) if same_origin(&p.url, &url) => Some(p.key),
            (None, Some(p)) => {
                eprintln!(
                    "quire: not sending profile `{}`'s key to {} (it was saved for {}); give \
                     --key or QUIRE_KEY for that address",
                    self.profile,
                    origin_of(&url),
                    origin_of(&p.url)
                );
                None
            }
            (None, None) => None,
        };
        if key.is_some() {
            self.check_transport(&url)?;
        }
        Ok((url, key))
    }

    /// Refuses to send a key to `url` over plain http to a host other than loopback, unless
    /// `--insecure-http` was given (exit 2).
    pub fn check_transport(&self, url: &str) -> Result<(), Failure> {
        let Ok(parsed) = reqwest::Url::parse(url) else {
            // Api::new names a malformed URL.
            return Ok(());
        };
        if parsed.scheme() == "http" && !is_loopback(&parsed) && !self.insecure_http {
            return Err(Failure::Usage(format!(
                "refusing to send the API key over plain http:// to {} (not loopback): use \
                 https://, or --insecure-http (QUIRE_INSECURE_HTTP=1) if the network is yours",
                origin_of(url)
            )));
        }
        Ok(())
    }
}

/// Whether two URLs have the same origin: scheme, host and port (a default port spelled out
/// or not is the same port).
fn same_origin(a: &str, b: &str) -> bool {
    match (reqwest::Url::parse(a), reqwest::Url::parse(b)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin() && a.origin().is_tuple(),
        _ => false,
    }
}

/// `scheme://host:port` of `url`, for messages (never its path or query).
fn origin_of(url: &str) -> String {
    reqwest::Url::parse(url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|_| "that URL".into())
}

/// `localhost`, 127.0.0.0/8 or `::1`: traffic that never leaves the machine.
fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => bare.eq_ignore_ascii_case("localhost"),
    }
}

/// Saves `profile` as `name`, readable by its owner only; written to a temporary name and
/// renamed, so a crash leaves the old file whole.
pub fn save(name: &str, profile: Profile) -> Result<PathBuf, Failure> {
    let path = path()?;
    let mut all = read()?;
    all.profiles.insert(name.to_owned(), profile);
    let text = toml::to_string(&all)
        .map_err(|e| Failure::Other(format!("cannot write the profile: {e}")))?;
    let local = |e: std::io::Error| Failure::Other(format!("{}: {e}", path.display()));
    let dir = path.parent().expect("the path has a directory");
    std::fs::create_dir_all(dir).map_err(local)?;
    let partial = path.with_extension("toml.part");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&partial).map_err(local)?;
    #[cfg(unix)]
    {
        // `mode` applies only to a new file: an older one keeps its bits otherwise.
        use std::os::unix::fs::PermissionsExt as _;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(local)?;
    }
    file.write_all(text.as_bytes()).map_err(local)?;
    file.sync_all().map_err(local)?;
    std::fs::rename(&partial, &path).map_err(local)?;
    Ok(path)
}
