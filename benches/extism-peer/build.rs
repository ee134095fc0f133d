//! Builds the Extism guest (`guest/`, extism-pdk, wasm32-unknown-unknown) and tells
//! the benchmark where it is.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let guest = dir.join("guest");
    println!("cargo:rerun-if-changed={}", guest.join("src").display());
    println!("cargo:rerun-if-changed={}", guest.join("Cargo.toml").display());
    let target_dir = dir.join("target").join("extism-guest");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&guest)
        .args(["build", "--release", "--target", "wasm32-unknown-unknown"])
        .arg("--target-dir")
        .arg(&target_dir);
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd.status().expect("cannot run cargo for the Extism guest");
    assert!(
        status.success(),
        "building the Extism guest failed: is wasm32-unknown-unknown installed? \
         (rustup target add wasm32-unknown-unknown)"
    );
    let wasm = target_dir.join("wasm32-unknown-unknown/release/extism_trivial.wasm");
    println!("cargo:rustc-env=EXTISM_TRIVIAL_WASM={}", wasm.display());
}
