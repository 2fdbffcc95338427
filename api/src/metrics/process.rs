//! The process's own metrics, read from Linux's /proc on each scrape and written in the
//! Prometheus text format under the names every Prometheus client library uses
//! (`process_cpu_seconds_total`, `process_resident_memory_bytes`, ...). Elsewhere, nothing.

use std::fmt::Write as _;

/// The kernel reports times in /proc in clock ticks of `USER_HZ`, 100 on every Linux ABI.
const TICKS_PER_SECOND: f64 = 100.0;

/// One family: name, type, help and value.
struct Sample {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    value: f64,
}

/// The process families as Prometheus text (empty where /proc is not readable).
pub fn render() -> String {
    let mut text = String::new();
    for s in samples() {
        let _ = writeln!(text, "# HELP {} {}", s.name, s.help);
        let _ = writeln!(text, "# TYPE {} {}", s.name, s.kind);
        let _ = writeln!(text, "{} {}", s.name, s.value);
    }
    text
}

fn samples() -> Vec<Sample> {
    let mut samples = Vec::new();
    if let Some(stat) = read("/proc/self/stat").as_deref().and_then(Stat::parse) {
        samples.push(Sample {
            name: "process_cpu_seconds_total",
            kind: "counter",
            help: "Total user and system CPU time spent in seconds.",
            value: (stat.utime + stat.stime) as f64 / TICKS_PER_SECOND,
        });
        if let Some(boot) = read("/proc/stat").as_deref().and_then(boot_time) {
            samples.push(Sample {
                name: "process_start_time_seconds",
                kind: "gauge",
                help: "Start time of the process since unix epoch in seconds.",
                value: boot as f64 + stat.starttime as f64 / TICKS_PER_SECOND,
            });
        }
        samples.push(Sample {
            name: "process_threads",
            kind: "gauge",
            help: "Number of OS threads in the process.",
            value: stat.threads as f64,
        });
    }
    if let Some(status) = read("/proc/self/status") {
        for (key, name, help) in [
            (
                "VmRSS:",
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
            ),
            (
                "VmSize:",
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes.",
            ),
        ] {
            if let Some(kib) = status_kib(&status, key) {
                samples.push(Sample {
                    name,
                    kind: "gauge",
                    help,
                    value: (kib * 1024) as f64,
                });
            }
        }
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        samples.push(Sample {
            name: "process_open_fds",
            kind: "gauge",
            help: "Number of open file descriptors.",
            value: fds.count() as f64,
        });
    }
    if let Some(max) = read("/proc/self/limits")
        .as_deref()
        .and_then(max_open_files)
    {
        samples.push(Sample {
            name: "process_max_fds",
            kind: "gauge",
            help: "Maximum number of open file descriptors.",
            value: max as f64,
        });
    }
    samples
}

fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// The fields of /proc/self/stat that matter here.
#[derive(Debug, PartialEq)]
struct Stat {
    utime: u64,
    stime: u64,
    threads: u64,
    starttime: u64,
}

impl Stat {
    /// The command name (field 2) may hold spaces and parentheses: fields are counted after
    /// its last `)`. Numbering follows proc(5): utime is 14, stime 15, threads 20, starttime 22.
    fn parse(text: &str) -> Option<Self> {
        let rest = &text[text.rfind(')')? + 1..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // `fields[0]` is field 3 (state).
        let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
        Some(Self {
            utime: field(14)?,
            stime: field(15)?,
            threads: field(20)?,
            starttime: field(22)?,
        })
    }
}

/// `btime` of /proc/stat: the boot time in seconds since the epoch.
fn boot_time(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

fn status_kib(text: &str, key: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].split_whitespace().next()?.parse().ok()
}

/// The soft limit of "Max open files" in /proc/self/limits.
fn max_open_files(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        let stat = "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 \
                    7 0 123456 1000000 500 18446744073709551615";
        assert_eq!(
            Stat::parse(stat),
            Some(Stat {
                utime: 250,
                stime: 50,
                threads: 7,
                starttime: 123_456,
            })
        );
        assert_eq!(
            boot_time("cpu 1 2 3\nbtime 1700000000\nprocesses 9\n"),
            Some(1_700_000_000)
        );
        assert_eq!(
            status_kib(
                "Name:\trouge\nVmSize:\t  20480 kB\nVmRSS:\t    1024 kB\n",
                "VmRSS:"
            ),
            Some(1024)
        );
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max open files            1024                 524288               files\n";
        assert_eq!(max_open_files(limits), Some(1024));
    }

    /// On Linux the families are there, each with its help and type.
    #[test]
    #[cfg(target_os = "linux")]
    fn renders_this_process() {
        let text = render();
        for name in [
            "process_cpu_seconds_total",
            "process_resident_memory_bytes",
            "process_open_fds",
            "process_max_fds",
            "process_start_time_seconds",
        ] {
            assert!(text.contains(&format!("# HELP {name} ")), "{name}: {text}");
            assert!(text.contains(&format!("\n{name} ")), "{name}: {text}");
        }
    }
}
