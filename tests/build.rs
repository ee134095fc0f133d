//! Compiles every guest (the example plugins, the hostile fixtures and the benchmark
//! guests in `tests/guests/`) for `wasm32-wasip2`, and writes their paths as
//! constants plus a `foreach_hostile!` macro, so that a fixture without a test is a
//! compile error.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";

fn main() {
    let root = PathBuf::from(env("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| fail("tests/ has no parent directory"));
    for dir in [
        "wit",
        "plugin-sdk",
        "plugins",
        "tests/hostile",
        "tests/guests",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    check_target_installed();

    let plugins = crates_in(&root.join("plugins"));
    let hostile = crates_in(&root.join("tests/hostile"));
    let bench = crates_in(&root.join("tests/guests"));
    // One directory shared by every build of this crate (test, clippy, demo), so that
    // guests compile once; it is not OUT_DIR, which differs per build configuration.
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("wasm-guests");

    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&root)
        .args(["build", "--release", "--target", TARGET])
        .arg("--target-dir")
        .arg(&target_dir);
    for (package, _) in plugins.iter().chain(&hostile).chain(&bench) {
        cmd.args(["-p", package]);
    }
    // The outer build's flags and wrappers (clippy-driver among them) are for the host
    // target; they must not leak into the guest build.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CLIPPY_ARGS",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd
        .status()
        .unwrap_or_else(|e| fail(&format!("cannot run cargo to build the guests: {e}")));
    if !status.success() {
        fail("building the guests for wasm32-wasip2 failed (see the errors above)");
    }

    let out_dir = target_dir.join(TARGET).join("release");
    let mut code = String::new();
    let mut all = Vec::new();
    for (prefix, list) in [("", &plugins), ("HOSTILE_", &hostile), ("GUEST_", &bench)] {
        for (package, dir_name) in list {
            let file = out_dir.join(format!("{}.wasm", package.replace('-', "_")));
            if !file.exists() {
                fail(&format!("{} was not produced", file.display()));
            }
            let konst = format!("{prefix}{}", dir_name.replace('-', "_").to_uppercase());
            let _ = writeln!(
                code,
                "/// The component built from `{package}`.\npub const {konst}: &str = {:?};",
                file.display().to_string()
            );
            all.push(konst);
        }
    }
    let _ = writeln!(
        code,
        "/// Every guest component, by constant name.\npub const ALL: &[&str] = &[{}];",
        all.join(", ")
    );
    let names: Vec<String> = hostile
        .iter()
        .map(|(_, dir)| format!("$m!({});", dir.replace('-', "_")))
        .collect();
    let _ = writeln!(
        code,
        "/// Calls `$m!(name)` for every hostile fixture.\n#[macro_export]\nmacro_rules! foreach_hostile {{ ($m:ident) => {{ {} }}; }}",
        names.join(" ")
    );
    let dest = PathBuf::from(env("OUT_DIR")).join("guests.rs");
    std::fs::write(&dest, code)
        .unwrap_or_else(|e| fail(&format!("cannot write {}: {e}", dest.display())));
}

/// `(package name, directory name)` of every crate directly under `dir`.
fn crates_in(dir: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|e| fail(&format!("cannot list {}: {e}", dir.display())));
    for entry in entries.flatten() {
        let manifest = entry.path().join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        let name = text
            .lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix("name = \"")?
                    .strip_suffix('"')
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| fail(&format!("no package name in {}", manifest.display())));
        found.push((name, entry.file_name().to_string_lossy().into_owned()));
    }
    found.sort();
    found
}

fn check_target_installed() {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .unwrap_or_default();
    let lib = Path::new(sysroot.trim()).join("lib/rustlib").join(TARGET);
    if !lib.exists() {
        fail(
            "the wasm32-wasip2 target is not installed: run `rustup target add wasm32-wasip2` (scripts/test.sh does this for you)",
        );
    }
}

#[expect(
    clippy::disallowed_methods,
    reason = "build scripts receive their inputs from cargo through the environment"
)]
fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| fail(&format!("{name} is not set")))
}

#[expect(clippy::panic, reason = "a build script reports failure by panicking")]
fn fail(message: &str) -> ! {
    panic!("palisade-tests build: {message}")
}
