//! Runs the real `palisade` binary: keygen, sign, verify, inspect, and the refusals.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code: a failed unwrap is a failed test, with its message"
)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use palisade_tests::guests::ADD_HEADER;

const BIN: &str = env!("CARGO_BIN_EXE_palisade");

/// The add-header manifest, from the repository.
fn manifest() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/add-header/manifest.toml")
}

/// A fresh, empty directory for one test, removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

fn temp_dir(test: &str) -> TempDir {
    TempDir(palisade_tests::temp_dir("cli", test))
}

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

fn code(output: &Output) -> i32 {
    output.status.code().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs and expects `expected` as the exit status, showing the output if not.
fn expect(dir: &Path, args: &[&str], expected: i32) -> Output {
    let output = run(dir, args);
    assert_eq!(
        code(&output),
        expected,
        "palisade {args:?}\nstdout: {}\nstderr: {}",
        text(&output.stdout),
        text(&output.stderr)
    );
    output
}

/// Generates keys `a` and `b` and signs add-header with `a` into `add-header.pkg`.
fn signed_package(dir: &Path) {
    let manifest = manifest();
    let manifest = manifest.to_str().unwrap();
    expect(dir, &["keygen", "--out", "a"], 0);
    expect(dir, &["keygen", "--out", "b"], 0);
    expect(
        dir,
        &[
            "sign",
            "--key",
            "a.key",
            "--manifest",
            manifest,
            ADD_HEADER,
            "--out",
            "add-header.pkg",
        ],
        0,
    );
}

#[test]
fn keygen_sign_verify_inspect() {
    let dir = temp_dir("flow");
    signed_package(&dir);
    let mode = std::fs::metadata(dir.join("a.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // keygen never overwrites.
    expect(&dir, &["keygen", "--out", "a"], 2);

    let ok = expect(&dir, &["verify", "--trust", "a.pub", "add-header.pkg"], 0);
    let stdout = text(&ok.stdout);
    // The name and version as the signed manifest gives them, on their own lines
    // (the package's path, printed too, would satisfy a bare `contains("add-header")`).
    assert!(stdout.contains("\nname:        add-header\n"), "{stdout}");
    assert!(stdout.contains("\nversion:     0.1.0\n"), "{stdout}");

    let refused = expect(&dir, &["verify", "--trust", "b.pub", "add-header.pkg"], 1);
    assert!(text(&refused.stderr).contains("refused"));

    let inspect = expect(&dir, &["inspect", "--json", "add-header.pkg"], 0);
    let json: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(json["kind"], "package");
    assert_eq!(json["manifest"]["name"], "add-header");
    assert!(json["manifest"]["capabilities"].get("config").is_some());
    let imports = json["imports"].as_array().unwrap();
    let config = imports
        .iter()
        .find(|i| i["name"] == "palisade:plugin/config@0.2.0")
        .expect("the config import is listed");
    assert_eq!(config["capability"], "config");
    assert_eq!(config["flagged"], false);
    assert_eq!(json["unrequested"].as_array().unwrap().len(), 0);
    assert_eq!(json["signatures"].as_array().unwrap().len(), 1);
}

#[test]
fn inspect_bare_component_and_text() {
    let dir = temp_dir("bare");
    let out = expect(&dir, &["inspect", "--json", ADD_HEADER], 0);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["kind"], "component");
    assert!(json["manifest"].is_null());
    let out = expect(&dir, &["inspect", ADD_HEADER], 0);
    assert!(text(&out.stdout).contains("needs config"));
}

#[test]
fn group_readable_key_is_refused() {
    let dir = temp_dir("mode");
    signed_package(&dir);
    std::fs::set_permissions(dir.join("a.key"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = expect(
        &dir,
        &[
            "sign",
            "--key",
            "a.key",
            "--add",
            "add-header.pkg",
            "--out",
            "x.pkg",
        ],
        2,
    );
    let stderr = text(&out.stderr);
    assert!(stderr.contains("0644"), "{stderr}");
    assert!(stderr.contains("a.key"), "{stderr}");
    let seed = std::fs::read_to_string(dir.join("a.key")).unwrap();
    assert!(!stderr.contains(seed.trim()), "the key leaked");
}

#[test]
fn threshold_two_of_two() {
    let dir = temp_dir("threshold");
    signed_package(&dir);
    expect(
        &dir,
        &[
            "sign",
            "--key",
            "b.key",
            "--add",
            "add-header.pkg",
            "--out",
            "both.pkg",
        ],
        0,
    );
    let both = [
        "verify",
        "--trust",
        "a.pub",
        "--trust",
        "b.pub",
        "--threshold",
        "2",
        "both.pkg",
    ];
    expect(&dir, &both, 0);
    expect(
        &dir,
        &["verify", "--trust", "a.pub", "--threshold", "2", "both.pkg"],
        1,
    );
    // The singly signed package does not meet 2 either.
    let mut single = both;
    single[7] = "add-header.pkg";
    expect(&dir, &single, 1);
}

#[test]
fn broken_input_exits_2() {
    let dir = temp_dir("broken");
    expect(&dir, &["verify", "--trust", "missing.pub", "x.pkg"], 2);
    expect(&dir, &["frobnicate"], 2);
    std::fs::write(dir.join("junk.pkg"), b"PALISADE\x01").unwrap();
    expect(&dir, &["inspect", "junk.pkg"], 2);
    for command in ["keygen", "sign", "verify", "inspect"] {
        let out = expect(&dir, &[command, "--help"], 0);
        assert!(text(&out.stdout).contains("Usage"));
    }
}

#[test]
fn check_config_exit_codes() {
    let dir = temp_dir("check-config");
    expect(&dir, &["keygen", "--out", "a"], 0);
    let key = std::fs::read_to_string(dir.join("a.pub")).unwrap();
    let key = key.trim();
    let write = |name: &str, body: String| std::fs::write(dir.join(name), body).unwrap();
    write(
        "ok.toml",
        format!(
            "mode = \"lockdown\"\naudit_log = \"audit.jsonl\"\n[trust]\nkeys = [\"{key}\"]\n[ceilings]\nforbid = [\"kv\"]\n\
             [[plugins]]\nname = \"add-header\"\npackage = \"add-header.pkg\"\n\
             [plugins.grants]\nconfig = {{}}\nkv = {{ quota_bytes = 10 }}\n"
        ),
    );
    let output = expect(&dir, &["check-config", "ok.toml"], 0);
    let stdout = text(&output.stdout);
    assert!(stdout.contains("mode:        lockdown"), "{stdout}");
    assert!(
        stdout.contains("\n1. add-header (package add-header.pkg, fail closed)\n"),
        "{stdout}"
    );
    assert!(stdout.contains(r#"{"config":{}}"#), "{stdout}");
    write(
        "open.toml",
        format!(
            "[trust]\nkeys = [\"{key}\"]\n[[plugins]]\nname = \"x\"\npackage = \"x.pkg\"\nfailure = \"open\"\n"
        ),
    );
    let output = expect(&dir, &["check-config", "open.toml"], 1);
    assert!(text(&output.stderr).contains("failure"));
    write(
        "bad.toml",
        "mode = \"lockdown\"\n[trust]\nkeyz = []\n".into(),
    );
    let output = expect(&dir, &["check-config", "bad.toml"], 2);
    assert!(
        text(&output.stderr).contains("bad.toml:3:1"),
        "{}",
        text(&output.stderr)
    );
    expect(&dir, &["check-config", "missing.toml"], 2);
}

#[test]
fn dev_key_is_marked_and_verifies_with_a_warning() {
    let dir = temp_dir("dev");
    let manifest = manifest();
    expect(&dir, &["keygen", "--dev", "--out", "dev"], 0);
    let public = std::fs::read_to_string(dir.join("dev.pub")).unwrap();
    let key_line = public.lines().find(|l| !l.starts_with('#')).unwrap();
    assert!(key_line.starts_with("dev:"), "{public}");
    assert!(public.contains("DEVELOPMENT"), "{public}");
    expect(
        &dir,
        &[
            "sign",
            "--key",
            "dev.key",
            "--manifest",
            manifest.to_str().unwrap(),
            ADD_HEADER,
            "--out",
            "dev.pkg",
        ],
        0,
    );
    let out = expect(&dir, &["verify", "--trust", "dev.pub", "dev.pkg"], 0);
    assert!(
        text(&out.stderr).contains("DEVELOPMENT key"),
        "{}",
        text(&out.stderr)
    );
    assert!(text(&out.stdout).contains("(DEVELOPMENT key)"));
    // A lockdown config refuses to trust it, naming the setting.
    std::fs::write(
        dir.join("lockdown.toml"),
        format!("mode = \"lockdown\"\n[trust]\nkeys = [\"{key_line}\"]\n"),
    )
    .unwrap();
    let out = expect(&dir, &["check-config", "lockdown.toml"], 1);
    assert!(
        text(&out.stderr).contains("trust.keys[0] (development key"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn check_config_load_loads_or_refuses_and_audits() {
    let dir = temp_dir("load");
    signed_package(&dir);
    let key = std::fs::read_to_string(dir.join("a.pub")).unwrap();
    let config = format!(
        "mode = \"lockdown\"\naudit_log = \"audit.jsonl\"\n[trust]\nkeys = [\"{}\"]\n\
         [[plugins]]\nname = \"add-header\"\npackage = \"add-header.pkg\"\n\
         [plugins.grants]\nconfig = {{}}\n",
        key.trim()
    );
    std::fs::write(dir.join("palisade.toml"), config).unwrap();
    let out = expect(&dir, &["check-config", "--load", "palisade.toml"], 0);
    assert!(text(&out.stdout).contains("loaded:      add-header"));
    #[expect(
        clippy::disallowed_methods,
        reason = "the test corrupts the package it made"
    )]
    let mut package = std::fs::read(dir.join("add-header.pkg")).unwrap();
    let at = package.len() / 2;
    package[at] ^= 1;
    std::fs::write(dir.join("add-header.pkg"), package).unwrap();
    let out = expect(&dir, &["check-config", "--load", "palisade.toml"], 1);
    assert!(
        text(&out.stderr).contains("component sha256"),
        "{}",
        text(&out.stderr)
    );
    let audit = std::fs::read_to_string(dir.join("audit.jsonl")).unwrap();
    let events: Vec<String> = audit
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["event"].to_string())
        .collect();
    assert_eq!(events, [r#""verified""#, r#""loaded""#, r#""refused""#]);
}

#[test]
fn oversized_input_is_refused_before_reading() {
    let dir = temp_dir("huge");
    expect(&dir, &["keygen", "--out", "a"], 0);
    let file = std::fs::File::create(dir.join("huge.pkg")).unwrap();
    file.set_len(100 << 20).unwrap();
    let out = expect(&dir, &["verify", "--trust", "a.pub", "huge.pkg"], 2);
    assert!(
        text(&out.stderr).contains("104857600 bytes, larger than"),
        "{}",
        text(&out.stderr)
    );
}

/// Keyless signing: a bundle minted by the test's own CA and log (nothing reaches
/// the network) is attached with `sign --bundle`, shown by `inspect`, and checked by
/// `verify --trust-root --identity`.
#[test]
#[expect(
    clippy::disallowed_methods,
    reason = "test setup reads the built component to hash it"
)]
fn sigstore_bundle_sign_verify_inspect() {
    use palisade_tests::sigstore::{Fulcio, Rekor, Signer, bundle, trusted_root};
    use sha2::{Digest, Sha256};

    const ISSUER: &str = "https://token.ci.test";
    const SUBJECT: &str = "https://ci.test/org/repo/.github/workflows/release.yml@refs/tags/v1";
    let dir = temp_dir("sigstore");
    let component = std::fs::read(ADD_HEADER).unwrap();
    let digest = hex::encode(Sha256::digest(&component));
    let template = std::fs::read_to_string(manifest()).unwrap();
    std::fs::write(dir.join("unpinned.toml"), &template).unwrap();
    let manifest_text = template.replacen(
        "\n[capabilities]",
        &format!("component_sha256 = \"{digest}\"\n\n[capabilities]"),
        1,
    );
    assert!(manifest_text.contains(&digest));
    std::fs::write(dir.join("manifest.toml"), &manifest_text).unwrap();
    let fulcio = Fulcio::new("fulcio");
    let mut rekor = Rekor::new();
    std::fs::write(
        dir.join("trusted_root.json"),
        trusted_root(&[&fulcio], &[&rekor]),
    )
    .unwrap();
    let signer = Signer::new(ISSUER, SUBJECT);
    let json = bundle(&fulcio, &mut rekor, &signer, manifest_text.as_bytes());
    std::fs::write(dir.join("manifest.sigstore.json"), json).unwrap();

    // The bundle signs the manifest's bytes, so they are packaged as they are: a
    // manifest without its digest is refused, with the line to add.
    let unpinned = expect(
        &dir,
        &[
            "sign",
            "--bundle",
            "manifest.sigstore.json",
            "--manifest",
            "unpinned.toml",
            ADD_HEADER,
            "--out",
            "x.pkg",
        ],
        2,
    );
    assert!(
        text(&unpinned.stderr).contains(&format!("component_sha256 = \"{digest}\"")),
        "{}",
        text(&unpinned.stderr)
    );
    let signed = expect(
        &dir,
        &[
            "sign",
            "--bundle",
            "manifest.sigstore.json",
            "--manifest",
            "manifest.toml",
            ADD_HEADER,
            "--out",
            "add-header.pkg",
        ],
        0,
    );
    assert!(
        text(&signed.stdout).contains(SUBJECT),
        "{}",
        text(&signed.stdout)
    );

    let identity = format!("{ISSUER}={SUBJECT}");
    let ok = expect(
        &dir,
        &[
            "verify",
            "--trust-root",
            "trusted_root.json",
            "--identity",
            &identity,
            "add-header.pkg",
        ],
        0,
    );
    let stdout = text(&ok.stdout);
    assert!(
        stdout.contains(&format!(
            "signed by:   {SUBJECT} (issuer {ISSUER}), log index 5 (sigstore)"
        )),
        "{stdout}"
    );
    // Another identity: refused, naming who did sign.
    let other = format!("{ISSUER}=https://ci.test/other/*");
    let refused = expect(
        &dir,
        &[
            "verify",
            "--trust-root",
            "trusted_root.json",
            "--identity",
            &other,
            "add-header.pkg",
        ],
        1,
    );
    assert!(
        text(&refused.stderr).contains("untrusted identity"),
        "{}",
        text(&refused.stderr)
    );
    // A bad pattern or a missing trust root is a usage error.
    let bad = format!("{ISSUER}=*");
    expect(
        &dir,
        &[
            "verify",
            "--trust-root",
            "trusted_root.json",
            "--identity",
            &bad,
            "add-header.pkg",
        ],
        2,
    );
    expect(
        &dir,
        &["verify", "--identity", &identity, "add-header.pkg"],
        2,
    );

    let inspect = expect(&dir, &["inspect", "--json", "add-header.pkg"], 0);
    let json: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    let bundles = json["sigstore_bundles"].as_array().unwrap();
    assert_eq!(bundles.len(), 1);
    assert_eq!(bundles[0]["issuer"], ISSUER);
    assert_eq!(bundles[0]["subject"], SUBJECT);
    assert_eq!(bundles[0]["log_index"], 5);
    let inspect = expect(&dir, &["inspect", "add-header.pkg"], 0);
    assert!(
        text(&inspect.stdout).contains("bundle:      https://ci.test/org/repo"),
        "{}",
        text(&inspect.stdout)
    );

    // Co-signing with a key makes 2-of-n across kinds.
    expect(&dir, &["keygen", "--out", "a"], 0);
    expect(
        &dir,
        &[
            "sign",
            "--key",
            "a.key",
            "--add",
            "add-header.pkg",
            "--out",
            "both.pkg",
        ],
        0,
    );
    expect(
        &dir,
        &[
            "verify",
            "--trust",
            "a.pub",
            "--trust-root",
            "trusted_root.json",
            "--identity",
            &identity,
            "--threshold",
            "2",
            "both.pkg",
        ],
        0,
    );
}

/// A signed manifest's text is the package author's: `inspect` escapes it, so a
/// newline and ESC in `description` cannot print a forged line (here a fake
/// `signature:` and an erased WARNING) on the operator's terminal.
#[test]
fn inspect_escapes_the_manifest_text() {
    let dir = temp_dir("inspect-escape");
    let manifest = std::fs::read_to_string(manifest())
        .unwrap()
        .replace(
            "description = \"Sets one configured header on every request and marks responses with x-added-by.\"",
            "description = \"ok\\nsignature:   0000 (trusted)\\u001B[2K\\u202E\"",
        );
    assert!(manifest.contains("\\u001B"), "the example manifest changed");
    std::fs::write(dir.join("evil.toml"), manifest).unwrap();
    expect(&dir, &["keygen", "--out", "a"], 0);
    expect(
        &dir,
        &[
            "sign",
            "--key",
            "a.key",
            "--manifest",
            "evil.toml",
            ADD_HEADER,
            "--out",
            "evil.pkg",
        ],
        0,
    );
    let out = expect(&dir, &["inspect", "evil.pkg"], 0);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("description: ok\\nsignature:   0000 (trusted)\\u{1b}[2K\\u{202e}\n"),
        "{stdout}"
    );
    assert!(
        !stdout.contains('\u{1b}') && !stdout.contains('\u{202e}'),
        "{stdout}"
    );
    assert!(
        !stdout.lines().any(|l| l.starts_with("signature:   0000")),
        "{stdout}"
    );
}

/// Runs `palisade args` in a child process and waits at most a minute for it: a
/// command that blocks (on a FIFO, say) fails the test instead of hanging it. A
/// liveness bound, not a timing assertion.
fn run_within_a_minute(dir: &Path, args: &[&str]) -> Output {
    use std::process::Stdio;
    let mut child = Command::new(BIN)
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    for _ in 0..1200 {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("palisade {args:?} was still running after a minute");
}

#[test]
fn special_files_are_refused_promptly_by_every_command() {
    let dir = temp_dir("special");
    signed_package(&dir);
    let made = Command::new("mkfifo")
        .arg(dir.join("p.fifo"))
        .status()
        .unwrap();
    assert!(made.success(), "mkfifo failed");
    std::fs::create_dir(dir.join("d.pkg")).unwrap();
    let key = std::fs::read_to_string(dir.join("a.pub")).unwrap();
    for (path, what) in [
        ("p.fifo", "a FIFO (named pipe)"),
        ("d.pkg", "a directory"),
        ("/dev/zero", "a character device"),
    ] {
        let reason = format!("not a regular file (it is {what}); give the path of a file");
        let config = format!(
            "mode = \"lockdown\"\naudit_log = \"audit.jsonl\"\n[trust]\nkeys = [\"{}\"]\n\
             [[plugins]]\nname = \"add-header\"\n\
             package = \"{path}\"\n[plugins.grants]\nconfig = {{}}\n",
            key.trim()
        );
        std::fs::write(dir.join("special.toml"), config).unwrap();
        let cases: [(&[&str], String); 6] = [
            (
                &["verify", "--trust", "a.pub", path],
                format!("palisade: error: cannot read {path}: {reason}\n"),
            ),
            (
                &["inspect", path],
                format!("palisade: error: cannot read {path}: {reason}\n"),
            ),
            (
                &["check-config", path],
                format!("palisade: error: cannot read {path}: {reason}\n"),
            ),
            (
                &["serve", "--config", path],
                format!("palisade: error: cannot read {path}: {reason}\n"),
            ),
            (
                &[
                    "sign",
                    "--key",
                    path,
                    "--add",
                    "add-header.pkg",
                    "--out",
                    "x.pkg",
                ],
                format!("palisade: error: cannot read {path}: {reason}\n"),
            ),
            (
                &["check-config", "--load", "special.toml"],
                // `{:#}` prints the I/O error once, as the source of the load error.
                format!(
                    "palisade: error: loading the plugins: cannot read plugin `add-header` from \
                     {path}: {reason}\n"
                ),
            ),
        ];
        for (args, expected) in cases {
            let out = run_within_a_minute(&dir, args);
            assert_eq!(code(&out), 2, "palisade {args:?}: {}", text(&out.stderr));
            assert_eq!(text(&out.stderr), expected, "palisade {args:?}");
        }
    }
}

/// The secret seed every key-file case uses (its key file is `me.key`, mode 0600).
const SEED: &str = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";
/// A broken key file: 63 hex digits, which nothing recognises as a key.
const SHORT: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f6";

/// Every place the CLI reads a file, given a key file (by mistake or on purpose):
/// the exact output is a golden in `tests/ui/key-files/` (set `PALISADE_BLESS=1` to
/// rewrite them), and no output holds eight characters in a row of any secret.
#[test]
fn no_error_quotes_a_key_file() {
    let dir = temp_dir("key-files");
    let private = |name: &str, body: &str| {
        std::fs::write(dir.join(name), body).unwrap();
        std::fs::set_permissions(dir.join(name), std::fs::Permissions::from_mode(0o600)).unwrap();
    };
    private("me.key", &format!("{SEED}\n"));
    private("short.key", &format!("{SHORT}\n"));
    let ca = palisade_tests::pki::TestCa::new("key-files CA").unwrap();
    let tls = ca.issue("spiffe://test/proxy").unwrap();
    private("tls.key", &tls.key_pem);
    // The same key with one base64 symbol broken in its body.
    let mut broken: Vec<String> = tls.key_pem.lines().map(str::to_owned).collect();
    broken[1].replace_range(5..6, "!");
    private("broken-tls.key", &(broken.join("\n") + "\n"));
    std::fs::write(dir.join("tls.pem"), &tls.cert_pem).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.cert_pem()).unwrap();
    std::fs::copy(ADD_HEADER, dir.join("c.wasm")).unwrap();
    std::fs::copy(manifest(), dir.join("m.toml")).unwrap();
    expect(&dir, &["keygen", "--out", "other"], 0);
    expect(
        &dir,
        &[
            "sign",
            "--key",
            "me.key",
            "--manifest",
            "m.toml",
            "c.wasm",
            "--out",
            "x.pkg",
        ],
        0,
    );
    let write = |name: &str, body: &str| std::fs::write(dir.join(name), body).unwrap();
    let plugin = |source: &str| {
        format!(
            "mode = \"development\"\n[[plugins]]\nname = \"add-header\"\n{source}\n\
             [plugins.grants]\nconfig = {{}}\n"
        )
    };
    write("as-package.toml", &plugin("package = \"me.key\""));
    write("as-component.toml", &plugin("component = \"me.key\""));
    write(
        "broken-tls.toml",
        "mode = \"development\"\n[transport]\ncert = \"tls.pem\"\nkey = \"broken-tls.key\"\n\
         ca = \"ca.pem\"\n[serve]\nlisten = \"127.0.0.1:0\"\nupstream = \"http://127.0.0.1:9\"\n",
    );
    let cases: &[(&str, &[&str])] = &[
        (
            "sign-key-as-manifest",
            &[
                "sign",
                "--key",
                "me.key",
                "--manifest",
                "me.key",
                "c.wasm",
                "--out",
                "o.pkg",
            ],
        ),
        (
            "sign-key-as-component",
            &[
                "sign",
                "--key",
                "me.key",
                "--manifest",
                "m.toml",
                "me.key",
                "--out",
                "o.pkg",
            ],
        ),
        (
            "sign-key-as-package",
            &[
                "sign", "--key", "me.key", "--add", "me.key", "--out", "o.pkg",
            ],
        ),
        (
            "sign-key-as-bundle",
            &[
                "sign",
                "--bundle",
                "me.key",
                "--manifest",
                "m.toml",
                "c.wasm",
                "--out",
                "o.pkg",
            ],
        ),
        (
            "sign-broken-key",
            &[
                "sign",
                "--key",
                "short.key",
                "--manifest",
                "m.toml",
                "c.wasm",
                "--out",
                "o.pkg",
            ],
        ),
        (
            "sign-broken-key-as-manifest",
            &[
                "sign",
                "--key",
                "me.key",
                "--manifest",
                "short.key",
                "c.wasm",
                "--out",
                "o.pkg",
            ],
        ),
        (
            "sign-tls-key-as-manifest",
            &[
                "sign",
                "--key",
                "me.key",
                "--manifest",
                "tls.key",
                "c.wasm",
                "--out",
                "o.pkg",
            ],
        ),
        (
            "sign-tls-key-as-key",
            &[
                "sign", "--key", "tls.key", "--add", "x.pkg", "--out", "o.pkg",
            ],
        ),
        (
            "verify-key-as-package",
            &["verify", "--trust", "other.pub", "me.key"],
        ),
        (
            "verify-key-as-trusted-key",
            &["verify", "--trust", "me.key", "x.pkg"],
        ),
        (
            "verify-broken-key-as-trusted-key",
            &["verify", "--trust", "short.key", "x.pkg"],
        ),
        (
            "verify-key-as-trust-root",
            &[
                "verify",
                "--trust-root",
                "me.key",
                "--identity",
                "https://issuer.example=a@b.example",
                "x.pkg",
            ],
        ),
        ("inspect-key", &["inspect", "me.key"]),
        ("inspect-broken-key", &["inspect", "--json", "short.key"]),
        ("check-config-key", &["check-config", "me.key"]),
        ("check-config-broken-key", &["check-config", "short.key"]),
        (
            "check-config-load-key-as-package",
            &["check-config", "--load", "as-package.toml"],
        ),
        (
            "check-config-load-key-as-component",
            &["check-config", "--load", "as-component.toml"],
        ),
        ("serve-key-as-config", &["serve", "--config", "me.key"]),
        (
            "serve-broken-tls-key",
            &["serve", "--config", "broken-tls.toml"],
        ),
    ];
    let secrets = [
        SEED.to_owned(),
        SHORT.to_owned(),
        broken[1].clone(),
        tls.key_pem.lines().nth(1).unwrap().to_owned(),
    ];
    let golden_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui/key-files");
    let bless = std::env::var_os("PALISADE_BLESS").is_some();
    let mut failures = Vec::new();
    for (name, args) in cases {
        let out = run_within_a_minute(&dir, args);
        let stdout = text(&out.stdout);
        // Log lines (a timestamp, colours) are not part of the golden.
        let stderr: String = text(&out.stderr)
            .lines()
            .filter(|line| !line.contains('\x1b'))
            .map(|line| format!("{line}\n"))
            .collect();
        let actual = format!(
            "$ palisade {}\nexit: {}\n--- stdout\n{stdout}--- stderr\n{stderr}",
            args.join(" "),
            code(&out)
        );
        for secret in &secrets {
            for window in secret.as_bytes().windows(8) {
                let window = std::str::from_utf8(window).unwrap();
                assert!(
                    !stdout.contains(window) && !stderr.contains(window),
                    "{name}: the output quotes a key file ({window}):\n{actual}"
                );
            }
        }
        let golden = golden_dir.join(format!("{name}.txt"));
        if bless {
            std::fs::create_dir_all(&golden_dir).unwrap();
            std::fs::write(&golden, &actual).unwrap();
        } else {
            let expected = std::fs::read_to_string(&golden).unwrap_or_default();
            if expected != actual {
                failures.push(format!(
                    "{name}:\n--- expected\n{expected}--- actual\n{actual}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
