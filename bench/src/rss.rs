//! Resident memory of other processes, from `/proc/PID/status`.

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct RssSample {
    pub pid: u32,
    /// The process name (`Name:`), e.g. `quire`.
    pub name: String,
    /// Peak resident set (`VmHWM`), MiB.
    pub peak_mb: f64,
    /// Current resident set (`VmRSS`), MiB.
    pub rss_mb: f64,
}

/// Parses the `Name`, `VmHWM` and `VmRSS` lines of a `/proc/PID/status` text.
pub fn parse_status(pid: u32, text: &str) -> anyhow::Result<RssSample> {
    let mut name = String::new();
    let (mut hwm, mut rss) = (None, None);
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let kib = || -> Option<f64> {
            let number = value.trim().strip_suffix("kB")?.trim();
            number.parse::<u64>().ok().map(|k| k as f64 / 1024.0)
        };
        match key {
            "Name" => name = value.trim().to_owned(),
            "VmHWM" => hwm = kib(),
            "VmRSS" => rss = kib(),
            _ => {}
        }
    }
    match (hwm, rss) {
        (Some(peak_mb), Some(rss_mb)) => Ok(RssSample {
            pid,
            name,
            peak_mb,
            rss_mb,
        }),
        _ => anyhow::bail!("/proc/{pid}/status has no VmHWM/VmRSS (a kernel thread or zombie?)"),
    }
}

pub fn sample(pid: u32) -> anyhow::Result<RssSample> {
    let path = format!("/proc/{pid}/status");
    let text =
        std::fs::read_to_string(&path).map_err(|e| anyhow::anyhow!("reading {path}: {e}"))?;
    parse_status(pid, &text)
}

/// Resets the peak (`VmHWM`) to the current RSS: `echo 5 > /proc/PID/clear_refs`.
pub fn reset_peak(pid: u32) -> anyhow::Result<()> {
    let path = format!("/proc/{pid}/clear_refs");
    std::fs::write(&path, "5").map_err(|e| anyhow::anyhow!("writing {path}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_status() {
        let text = "Name:\tquire\nUmask:\t0022\nVmPeak:\t  900000 kB\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\n";
        let s = parse_status(7, text).unwrap();
        assert_eq!(s.name, "quire");
        assert!((s.peak_mb - 200.0).abs() < 1e-9);
        assert!((s.rss_mb - 100.0).abs() < 1e-9);
        assert!(parse_status(7, "Name:\tkthreadd\n").is_err());
    }

    #[test]
    fn samples_this_process() {
        let s = sample(std::process::id()).unwrap();
        assert!(s.peak_mb > 0.0 && s.rss_mb > 0.0 && s.peak_mb >= s.rss_mb);
    }
}
