//! Fuzzing on the stable toolchain.
//!
//! Why not cargo-fuzz/libFuzzer: it needs nightly (`-Z sanitizer`), or on stable an instrumented
//! second build of the whole dependency tree (sancov passes), which CI's two cores cannot afford
//! next to the normal build. This harness is an ordinary workspace crate, built with everything
//! else: a seeded, deterministic mutator (bit flips, byte insert/delete, splices, interesting
//! values, and for GraphQL structure-aware operations) over a seed corpus per target. Blind rather
//! than coverage-guided, so the seeds carry the structure and the mutations stay local to them.
//!
//! A crash is a panic (caught with `catch_unwind`); a hang is an input that takes longer than the
//! hang threshold three runs in a row, or never returns (a watchdog thread then saves it and exits). Reproducers are
//! written to the artifacts folder. `scripts/fuzz <target|all> <seconds>` runs them; each target
//! also runs for a fixed number of inputs in the normal test suite.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod targets;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub use targets::targets;

/// A structure-aware mutation: a new input from the rng and a pool input.
pub type Mutator = fn(&mut StdRng, &[u8]) -> Vec<u8>;

/// One thing to fuzz: its seeds, what runs one input, and optionally its own mutation.
pub struct Target {
    pub name: &'static str,
    pub seeds: fn() -> Vec<Vec<u8>>,
    /// Must not panic or hang on any input; asserts its own invariants.
    pub run: fn(&[u8]),
    /// A structure-aware mutation, used for half of the inputs when given.
    pub mutate: Option<Mutator>,
}

pub struct Options {
    pub duration: Duration,
    /// Stop after this many inputs even when time is left.
    pub max_execs: u64,
    pub seed: u64,
    pub hang_after: Duration,
    pub artifacts: PathBuf,
}

#[derive(Debug, Default)]
pub struct Report {
    pub execs: u64,
    pub crashes: Vec<PathBuf>,
    pub hangs: Vec<PathBuf>,
}

impl Report {
    pub fn clean(&self) -> bool {
        self.crashes.is_empty() && self.hangs.is_empty()
    }
}

const INTERESTING: &[&[u8]] = &[
    b"0",
    b"-1",
    b"9223372036854775807",
    b"-9223372036854775808",
    b"18446744073709551616",
    b"1e308",
    b"NaN",
    b"\x00",
    b"\xff",
    b"\x7f",
    b"\x80",
    b"\xef\xbf\xbd",
    b"\xf0\x9f\x92\x84",
    b"\"",
    b"\\",
    b"\\u0000",
    b"\\ud800",
    b"{",
    b"}",
    b"[",
    b"]",
    b"null",
    b"true",
    b"",
    b".",
    b"=",
    b"==",
    b" ",
    b"\n",
    b"-",
    b"O",
    b"I",
    b"L",
];

/// One random change to `data`; `corpus` feeds splices.
pub fn mutate_bytes(rng: &mut StdRng, data: &mut Vec<u8>, corpus: &[Vec<u8>]) {
    let len = data.len();
    match rng.gen_range(0..9) {
        0 if len > 0 => {
            let i = rng.gen_range(0..len);
            data[i] ^= 1 << rng.gen_range(0..8);
        }
        1 if len > 0 => {
            let i = rng.gen_range(0..len);
            data[i] = rng.r#gen();
        }
        2 => {
            let i = rng.gen_range(0..=len);
            data.insert(i, rng.r#gen());
        }
        3 if len > 0 => {
            let i = rng.gen_range(0..len);
            let n = rng.gen_range(1..=(len - i).min(16));
            data.drain(i..i + n);
        }
        4 => {
            let i = rng.gen_range(0..=len);
            let v = INTERESTING[rng.gen_range(0..INTERESTING.len())];
            data.splice(i..i, v.iter().copied());
        }
        5 if !corpus.is_empty() => {
            // Splice: our head, another input's tail.
            let other = &corpus[rng.gen_range(0..corpus.len())];
            let cut = rng.gen_range(0..=len);
            let from = rng.gen_range(0..=other.len());
            data.truncate(cut);
            data.extend_from_slice(&other[from..]);
        }
        6 if len > 0 => {
            // Duplicate a chunk (deep nesting, long repeats).
            let i = rng.gen_range(0..len);
            let n = rng.gen_range(1..=(len - i).min(64));
            let chunk: Vec<u8> = data[i..i + n].to_vec();
            let times = rng.gen_range(1..=8);
            for _ in 0..times {
                data.splice(i..i, chunk.iter().copied());
            }
        }
        7 if len > 0 => {
            data.truncate(rng.gen_range(0..len));
        }
        _ if len > 1 => {
            let (a, b) = (rng.gen_range(0..len), rng.gen_range(0..len));
            data.swap(a, b);
        }
        _ => data.push(rng.r#gen()),
    }
}

/// What the watchdog sees: when the running input started, and the input.
type Running = Arc<Mutex<Option<(Instant, Vec<u8>)>>>;

fn save(dir: &Path, target: &str, kind: &str, input: &[u8]) -> PathBuf {
    let _ = std::fs::create_dir_all(dir);
    // Named by content, so the same finding is written once.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in input {
        h = (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
    }
    let path = dir.join(format!("{target}-{kind}-{h:016x}"));
    let _ = std::fs::write(&path, input);
    path
}

/// Runs one target until the time or the input budget is spent.
pub fn fuzz(target: &Target, options: &Options) -> Report {
    let mut rng = StdRng::seed_from_u64(options.seed);
    let seeds = (target.seeds)();
    let mut pool: Vec<Vec<u8>> = seeds.clone();
    let mut report = Report::default();

    let running: Running = Arc::new(Mutex::new(None));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watchdog = {
        let (running, done) = (running.clone(), done.clone());
        let (artifacts, name) = (options.artifacts.clone(), target.name);
        // An input that never returns cannot be caught in-thread: save it and stop the process.
        let limit = (options.hang_after * 10).max(Duration::from_secs(10));
        std::thread::spawn(move || {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(100));
                let stuck = running
                    .lock()
                    .ok()
                    .and_then(|r| r.as_ref().filter(|(at, _)| at.elapsed() > limit).cloned());
                if let Some((_, input)) = stuck {
                    let path = save(&artifacts, name, "hang", &input);
                    eprintln!(
                        "{name}: HANG (no answer after {limit:?}), input saved to {}",
                        path.display()
                    );
                    std::process::exit(3);
                }
            }
        })
    };

    // Warm-up, neither timed nor counted: targets build their state on first use.
    if let Some(first) = seeds.first() {
        let _ = catch_unwind(AssertUnwindSafe(|| (target.run)(first)));
    }
    let started = Instant::now();
    let mut i: u64 = 0;
    while report.execs < options.max_execs && started.elapsed() < options.duration {
        // Every seed once as it is, then mutations.
        let input = if (i as usize) < seeds.len() {
            seeds[i as usize].clone()
        } else {
            let base = &pool[rng.gen_range(0..pool.len())];
            match target.mutate {
                Some(mutate) if rng.gen_bool(0.5) => mutate(&mut rng, base),
                _ => {
                    let mut data = base.clone();
                    for _ in 0..rng.gen_range(1..=6) {
                        mutate_bytes(&mut rng, &mut data, &pool);
                    }
                    data.truncate(64 * 1024);
                    data
                }
            }
        };
        i += 1;
        if let Ok(mut r) = running.lock() {
            *r = Some((Instant::now(), input.clone()));
        }
        let t = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| (target.run)(&input)));
        let took = t.elapsed();
        if let Ok(mut r) = running.lock() {
            *r = None;
        }
        report.execs += 1;
        if let Err(panic) = outcome {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            let path = save(&options.artifacts, target.name, "crash", &input);
            if report.crashes.len() < 10 {
                eprintln!(
                    "{}: CRASH {message:?}, input saved to {}",
                    target.name,
                    path.display()
                );
            }
            report.crashes.push(path);
        } else if took > options.hang_after && confirmed_slow(target, &input, options.hang_after) {
            let path = save(&options.artifacts, target.name, "slow", &input);
            eprintln!(
                "{}: HANG {took:?} > {:?}, input saved to {}",
                target.name,
                options.hang_after,
                path.display()
            );
            report.hangs.push(path);
        } else if pool.len() < 4096 && rng.gen_ratio(1, 16) {
            // Keep some inputs that ran clean, so mutations can stack over rounds.
            pool.push(input);
        }
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = watchdog.join();
    report
}

/// Panics print nothing while fuzzing (they are reported with their input instead).
pub fn quiet_panics() {
    std::panic::set_hook(Box::new(|_| {}));
}

pub fn target(name: &str) -> Option<Target> {
    targets().into_iter().find(|t| t.name == name)
}

/// A slow run on a shared, loaded machine is often the scheduler, not the input: it counts as a
/// hang only when two more runs of the same input are slow as well (the fastest of three decides).
fn confirmed_slow(target: &Target, input: &[u8], hang_after: Duration) -> bool {
    (0..2).all(|_| {
        let t = Instant::now();
        let _ = catch_unwind(AssertUnwindSafe(|| (target.run)(input)));
        t.elapsed() > hang_after
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each target for a fixed number of inputs, so the normal test run exercises them.
    fn smoke(name: &str, execs: u64) {
        let target = target(name).expect("target");
        let report = fuzz(
            &target,
            &Options {
                duration: Duration::from_secs(60),
                max_execs: execs,
                seed: 1,
                hang_after: Duration::from_secs(5),
                artifacts: std::env::temp_dir().join("rouge-fuzz-smoke"),
            },
        );
        assert_eq!(report.execs, execs);
        assert!(report.clean(), "{name}: {report:?}");
    }

    #[test]
    fn pay_notify_smoke() {
        smoke("pay_notify", 300);
    }

    #[test]
    fn pay_decrypt_smoke() {
        smoke("pay_decrypt", 3_000);
    }

    #[test]
    fn phone_decrypt_smoke() {
        smoke("phone_decrypt", 3_000);
    }

    #[test]
    fn pack_code_smoke() {
        smoke("pack_code", 5_000);
    }

    #[test]
    fn signed_code_smoke() {
        smoke("signed_code", 5_000);
    }

    #[test]
    fn graphql_smoke() {
        smoke("graphql", 300);
    }

    #[test]
    fn mutations_are_deterministic() {
        let run = || {
            let mut rng = StdRng::seed_from_u64(7);
            let mut data = b"{\"a\":1}".to_vec();
            for _ in 0..100 {
                mutate_bytes(&mut rng, &mut data, &[b"xyz".to_vec()]);
            }
            data
        };
        assert_eq!(run(), run());
    }
}
