//! `rouge-fuzz <target|all> <seconds> [seed]`: runs targets (see the crate docs), prints
//! executions, crashes and hangs per target, and fails when any target crashed or hung.

use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || {
        let names: Vec<&str> = rouge_fuzz::targets().iter().map(|t| t.name).collect();
        eprintln!(
            "usage: rouge-fuzz <{}|all> <seconds> [seed]",
            names.join("|")
        );
        ExitCode::from(2)
    };
    let Some(which) = args.first() else {
        return usage();
    };
    if let (Some(target), Some("replay"), Some(file)) = (
        rouge_fuzz::target(which),
        args.get(1).map(String::as_str),
        args.get(2),
    ) {
        // `rouge-fuzz <target> replay <file>`: runs one saved input, panics shown as they are.
        let Ok(input) = std::fs::read(file) else {
            return usage();
        };
        (target.run)(&input[..1.min(input.len())]);
        let started = std::time::Instant::now();
        (target.run)(&input);
        println!("{} ran in {:?}", target.name, started.elapsed());
        return ExitCode::SUCCESS;
    }
    let Some(seconds) = args.get(1).and_then(|s| s.parse().ok()) else {
        return usage();
    };
    let seed = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let targets = if which == "all" {
        rouge_fuzz::targets()
    } else {
        match rouge_fuzz::target(which) {
            Some(t) => vec![t],
            None => return usage(),
        }
    };
    rouge_fuzz::quiet_panics();
    let artifacts = std::env::var_os("ROUGE_FUZZ_ARTIFACTS").map_or_else(
        || std::path::PathBuf::from("target/fuzz-artifacts"),
        Into::into,
    );
    let mut clean = true;
    for target in &targets {
        let report = rouge_fuzz::fuzz(
            target,
            &rouge_fuzz::Options {
                duration: Duration::from_secs(seconds),
                max_execs: u64::MAX,
                seed,
                hang_after: Duration::from_secs(1),
                artifacts: artifacts.clone(),
            },
        );
        println!(
            "{:<14} {:>6} s  {:>10} execs  {} crashes  {} hangs",
            target.name,
            seconds,
            report.execs,
            report.crashes.len(),
            report.hangs.len()
        );
        clean &= report.clean();
    }
    if clean {
        ExitCode::SUCCESS
    } else {
        eprintln!("reproducers in {}", artifacts.display());
        ExitCode::FAILURE
    }
}
