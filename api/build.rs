//! The release `rouge` lays out first, side by side, the functions a running server touches
//! (`text-order.txt`, written by `scripts/text-order`). The kernel maps a program's pages 64 KiB
//! around each one it touches, so the same code scattered over the text kept about half of it
//! resident (docs/performance.md §14).

use std::path::Path;

fn main() {
    println!("cargo::rerun-if-changed=text-order.txt");
    println!("cargo::rerun-if-env-changed=ROUGE_TEXT_ORDER");
    let env = |key: &str| std::env::var(key).unwrap_or_default();
    // Test and debug builds gain nothing from it. The option is lld's, rustc's default linker on
    // this target since 1.90 only; `ROUGE_TEXT_ORDER=off` builds without it.
    if env("PROFILE") != "release"
        || env("TARGET") != "x86_64-unknown-linux-gnu"
        || env("ROUGE_TEXT_ORDER") == "off"
        || !links_with_lld(&env("RUSTC"))
    {
        return;
    }
    let order = Path::new(&env("CARGO_MANIFEST_DIR")).join("text-order.txt");
    if order.is_file() {
        println!(
            "cargo::rustc-link-arg-bin=rouge=-Wl,--symbol-ordering-file={}",
            order.display()
        );
        // Names a rebuild no longer has (a dependency updated since) are skipped, not errors.
        println!("cargo::rustc-link-arg-bin=rouge=-Wl,--no-warn-symbol-ordering");
    }
}

/// Whether `rustc` is 1.90 or later, whose default linker on x86_64 Linux is its own lld.
fn links_with_lld(rustc: &str) -> bool {
    let Ok(out) = std::process::Command::new(rustc).arg("--version").output() else {
        return false;
    };
    // "rustc 1.95.0 (59807616e 2026-04-14)"
    let text = String::from_utf8_lossy(&out.stdout);
    let mut numbers = text
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .split('.')
        .map(|n| n.parse::<u32>().unwrap_or(0));
    let (major, minor) = (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0));
    (major, minor) >= (1, 90)
}
