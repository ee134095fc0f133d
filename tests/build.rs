//! Compiles every guest (the example plugins, the hostile fixtures, the test
//! plugins of `tests/fixtures/` and the benchmark guests of `tests/guests/`) for `wasm32-wasip2`, signs each example plugin (its
//! `manifest.toml` and component) into a package with a development key, and writes
//! their paths as constants plus the list of hostile fixtures, which a test checks
//! against the test functions (each fixture needs a test that loads it). Also generates the echo gRPC service of `tests/proto/`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use palisade_package::verify::{self, KeyKind, SigningKey};

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
        "tests/fixtures",
        "tests/guests",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    check_target_installed();

    let plugins = crates_in(&root.join("plugins"));
    let hostile = crates_in(&root.join("tests/hostile"));
    let fixtures = crates_in(&root.join("tests/fixtures"));
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
    for (package, _) in plugins
        .iter()
        .chain(&hostile)
        .chain(&fixtures)
        .chain(&bench)
    {
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
    let dev_key = dev_key(&target_dir.join("dev-key"));
    let packages_dir = target_dir.join("packages");
    std::fs::create_dir_all(&packages_dir)
        .unwrap_or_else(|e| fail(&format!("cannot create {}: {e}", packages_dir.display())));
    let mut code = String::new();
    let _ = writeln!(
        code,
        "/// The development key's public half (`dev:<hex>`), which signed every example package.\npub const DEV_KEY_PUB: &str = {:?};\n/// Its secret half (mode 0600).\npub const DEV_KEY_SECRET: &str = {:?};",
        dev_key.public_path.display().to_string(),
        dev_key.secret_path.display().to_string()
    );
    let mut packages = Vec::new();
    for (package, dir_name) in &plugins {
        let component = out_dir.join(format!("{}.wasm", package.replace('-', "_")));
        let manifest = root.join("plugins").join(dir_name).join("manifest.toml");
        let out = packages_dir.join(format!("{dir_name}.pkg"));
        sign_example(&dev_key.key, &manifest, &component, &out);
        let konst = format!("{}_PKG", dir_name.replace('-', "_").to_uppercase());
        let _ = writeln!(
            code,
            "/// `{dir_name}` as a package signed with the development key.\npub const {konst}: &str = {:?};",
            out.display().to_string()
        );
        packages.push(konst);
    }
    let _ = writeln!(
        code,
        "/// Every example package, by constant name.\npub const PACKAGES: &[&str] = &[{}];",
        packages.join(", ")
    );
    let mut all = Vec::new();
    for (prefix, list) in [
        ("", &plugins),
        ("HOSTILE_", &hostile),
        ("FIXTURE_", &fixtures),
        ("GUEST_", &bench),
    ] {
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
        .map(|(_, dir)| {
            let name = dir.replace('-', "_");
            format!("({name:?}, \"HOSTILE_{}\")", name.to_uppercase())
        })
        .collect();
    let _ = writeln!(
        code,
        "/// Every hostile fixture: its test's name (the fixture's, `-` as `_`) and the\n\
         /// constant of its component.\npub const HOSTILE: &[(&str, &str)] = &[{}];",
        names.join(", ")
    );
    python_guests(&root, &target_dir, &dev_key.key, &packages_dir, &mut code);
    let dest = PathBuf::from(env("OUT_DIR")).join("guests.rs");
    std::fs::write(&dest, code)
        .unwrap_or_else(|e| fail(&format!("cannot write {}: {e}", dest.display())));

    compile_protos(&root);
}

/// The componentize-py release the Python guests are built and tested with (the
/// SDK's `palisade_build.py` accepts any 0.25.x; `scripts/setup-python.sh` installs
/// this one).
const COMPONENTIZE_PY: &str = "0.25.1";

/// Builds the Python guests (every `plugins/*` directory with a `plugin.py`, and
/// `tests/hostile-py/*`) with the SDK's own build script, which skips a component
/// whose inputs did not change, so the ~19 s per component are paid once; signs the
/// Python examples like the Rust ones; and writes their paths into `python`. When
/// componentize-py is not installed the paths are still written, with
/// `python::UNAVAILABLE` saying how to install it: the tests that load a Python guest
/// fail with that message, and nothing else is held up.
fn python_guests(
    root: &Path,
    target_dir: &Path,
    key: &SigningKey,
    packages_dir: &Path,
    code: &mut String,
) {
    for dir in ["plugin-sdk-py", "tests/hostile-py"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    // scripts/setup-python.sh installs componentize-py in a venv beside the guests;
    // PALISADE_PYTHON names another Python that has it.
    let venv = target_dir
        .parent()
        .unwrap_or(target_dir)
        .join("python-venv");
    let (python, marker) = match std::env::var_os("PALISADE_PYTHON") {
        Some(python) => (PathBuf::from(&python), PathBuf::from(python)),
        None => (venv.join("bin/python3"), venv.join("bin/componentize-py")),
    };
    println!("cargo:rerun-if-env-changed=PALISADE_PYTHON");
    // Also reruns once it is installed (a missing file counts as changed).
    println!("cargo:rerun-if-changed={}", marker.display());
    let examples: Vec<PathBuf> = python_dirs(&root.join("plugins"));
    let hostile: Vec<PathBuf> = python_dirs(&root.join("tests/hostile-py"));
    let out_dir = target_dir.join("python");
    let unavailable = if marker.exists() {
        let status = Command::new(&python)
            .arg("-B")
            .arg(root.join("plugin-sdk-py/palisade_build.py"))
            .arg("--quiet")
            .arg("--out-dir")
            .arg(&out_dir)
            .args(examples.iter().chain(&hostile))
            .env_remove("VIRTUAL_ENV")
            .status()
            .unwrap_or_else(|e| fail(&format!("cannot run {}: {e}", python.display())));
        if !status.success() {
            fail("building the Python guests failed (see palisade_build's message above)");
        }
        None
    } else {
        let why = format!(
            "the Python guests were not built: componentize-py {COMPONENTIZE_PY} is not installed \
             (no {}); run `scripts/setup-python.sh` (scripts/test.sh does), or set PALISADE_PYTHON \
             to a Python that has it, then build again",
            marker.display()
        );
        println!("cargo:warning=palisade-tests: {why}");
        Some(why)
    };
    let component = |dir: &Path| {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().replace('-', "_"))
            .unwrap_or_default();
        (name.to_uppercase(), out_dir.join(format!("{name}.wasm")))
    };
    let _ = writeln!(
        code,
        "/// The Python guests, built by componentize-py (`plugin-sdk-py/palisade_build.py`).\n\
         pub mod python {{\n\
         /// Why the Python guests could not be built, when they could not.\n\
         pub const UNAVAILABLE: Option<&str> = {unavailable:?};\n\
         /// `path`, once the Python guests exist; otherwise a panic saying how to build them.\n\
         #[allow(clippy::panic, reason = \"a test that needs a Python guest cannot go on without it\")]\n\
         pub fn built(path: &'static str) -> &'static str {{\n\
             if let Some(why) = UNAVAILABLE {{ panic!(\"{{why}}\") }}\n\
             path\n\
         }}\n\
         /// The Python that builds them (it has componentize-py), for the examples' unit tests.\n\
         pub const PYTHON: &str = {:?};",
        python.display().to_string()
    );
    for dir in &examples {
        let (konst, file) = component(dir);
        let manifest = dir.join("manifest.toml");
        let dir_name = dir.file_name().unwrap_or_default().to_string_lossy();
        let package = packages_dir.join(format!("{dir_name}.pkg"));
        if unavailable.is_none() {
            sign_example(key, &manifest, &file, &package);
        }
        let _ = writeln!(
            code,
            "/// The component built from `plugins/{dir_name}` (use through [`built`]).\n\
             pub const {konst}: &str = {:?};\n\
             /// `plugins/{dir_name}` as a package signed with the development key.\n\
             pub const {konst}_PKG: &str = {:?};",
            file.display().to_string(),
            package.display().to_string()
        );
    }
    let mut names = Vec::new();
    for dir in &hostile {
        let (konst, file) = component(dir);
        let _ = writeln!(
            code,
            "/// The hostile Python guest `tests/hostile-py/{}`.\npub const HOSTILE_{konst}: &str = {:?};",
            dir.file_name().unwrap_or_default().to_string_lossy(),
            file.display().to_string()
        );
        names.push(format!("$m!({});", konst.to_lowercase()));
    }
    let _ = writeln!(code, "}}");
    let _ = writeln!(
        code,
        "/// Calls `$m!(name)` for every hostile Python fixture.\n#[macro_export]\nmacro_rules! foreach_hostile_py {{ ($m:ident) => {{ {} }}; }}",
        names.join(" ")
    );
}

/// The directories under `dir` that hold a Python plugin (`plugin.py`), sorted.
fn python_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| fail(&format!("cannot list {}: {e}", dir.display())))
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.join("plugin.py").is_file())
        .collect();
    found.sort();
    found
}

/// Generates the echo service (`tests/proto/echo.proto`) with the vendored `protoc`,
/// so that nothing needs to be installed.
fn compile_protos(root: &Path) {
    let dir = root.join("tests/proto");
    println!("cargo:rerun-if-changed={}", dir.display());
    let protoc = protoc_bin_vendored::protoc_bin_path()
        .unwrap_or_else(|e| fail(&format!("no vendored protoc for this platform: {e}")));
    let mut config = prost_build::Config::new();
    config.protoc_executable(protoc);
    tonic_prost_build::configure()
        .compile_with_config(config, &[dir.join("echo.proto")], &[dir])
        .unwrap_or_else(|e| fail(&format!("cannot compile tests/proto/echo.proto: {e}")));
}

struct DevKey {
    key: SigningKey,
    secret_path: PathBuf,
    public_path: PathBuf,
}

/// The development key in `dir`, generated on first use: `examples.key` (hex seed,
/// mode 0600) and `examples.pub` (`dev:<hex>`), exactly as `palisade keygen --dev`
/// writes them. Kept across builds so that packages signed earlier stay verifiable.
fn dev_key(dir: &Path) -> DevKey {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::create_dir_all(dir)
        .unwrap_or_else(|e| fail(&format!("cannot create {}: {e}", dir.display())));
    let secret_path = dir.join("examples.key");
    let public_path = dir.join("examples.pub");
    // A deleted key is made again, and the examples signed with the new one.
    println!("cargo:rerun-if-changed={}", secret_path.display());
    if !secret_path.exists() {
        let key = SigningKey::generate().unwrap_or_else(|e| fail(&e.to_string()));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&secret_path)
            .unwrap_or_else(|e| fail(&format!("cannot create {}: {e}", secret_path.display())));
        file.write_all(key.to_secret_text().as_bytes())
            .unwrap_or_else(|e| fail(&format!("cannot write {}: {e}", secret_path.display())));
    }
    let text = std::fs::read_to_string(&secret_path)
        .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", secret_path.display())));
    let key = SigningKey::from_secret_text(text.as_bytes()).unwrap_or_else(|e| {
        fail(&format!(
            "{}: {e}; delete it to make a new one",
            secret_path.display()
        ))
    });
    std::fs::write(&public_path, key.public_text(KeyKind::Development))
        .unwrap_or_else(|e| fail(&format!("cannot write {}: {e}", public_path.display())));
    DevKey {
        key,
        secret_path,
        public_path,
    }
}

/// Signs an example as `palisade sign` does, with the package crate's own writer
/// (`palisade_package::verify`): the digest filled in, one ed25519 signature.
#[expect(
    clippy::disallowed_methods,
    reason = "the build script reads the components it just built"
)]
fn sign_example(key: &SigningKey, manifest: &Path, component: &Path, out: &Path) {
    let component = std::fs::read(component)
        .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", component.display())));
    let text = std::fs::read_to_string(manifest)
        .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", manifest.display())));
    if text
        .lines()
        .any(|l| l.trim_start().starts_with("component_sha256"))
    {
        fail(&format!(
            "{} sets component_sha256; leave it out, the build fills it in",
            manifest.display()
        ));
    }
    let filled = verify::fill_component_digest(&text, &component)
        .unwrap_or_else(|e| fail(&format!("{}: {e}", manifest.display())));
    let package = verify::sign_package(&filled, &component, key)
        .unwrap_or_else(|e| fail(&format!("cannot sign {}: {e}", manifest.display())));
    std::fs::write(out, package)
        .unwrap_or_else(|e| fail(&format!("cannot write {}: {e}", out.display())));
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
