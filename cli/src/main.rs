//! `palisade`: generate publisher keys, sign plugin packages, verify them against
//! trusted keys, inspect what a package or component asks for, and check an
//! operator configuration file.
//!
//! Exit status: 0 success, 1 refused (verification failed, or the configuration is
//! refused by lockdown rules), 2 broken (bad usage,
//! unreadable file, malformed input).

use std::fmt::Write as _;
use std::fs::OpenOptions;
use std::io::{IsTerminal as _, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, anyhow, bail};

use clap::{Args, Parser, Subcommand};
use palisade::LoadConfig;
use palisade::load::Readers;
use palisade::policy::grants_toml::GrantsToml;
use palisade::{
    BundleSigner, Capability, ConfiguredSource, FailurePolicy, Grants, Host, Identity, ImportClass,
    KeyKind, LoadError, OperatorConfig, PublicKey, SigningKey, SigstoreTrustRoot, SubjectPattern,
    TrustPolicy, classify_import, component_imports, inspect_package, verify_package,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Sign, verify and inspect Palisade plugin packages.
#[derive(Parser)]
#[command(name = "palisade", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate an ed25519 publisher key pair: NAME.key (secret, mode 0600) and NAME.pub.
    /// With --dev, a development key: NAME.pub is marked `dev:`, and a lockdown
    /// config refuses to trust it.
    Keygen(KeygenArgs),
    /// Sign a component with its manifest into a package, or add a signature to one.
    /// With --bundle, attach a sigstore bundle made elsewhere (e.g. by
    /// `cosign sign-blob --bundle` over the manifest file) instead of signing.
    Sign(SignArgs),
    /// Verify a package against trusted public keys and/or sigstore identities.
    Verify(VerifyArgs),
    /// Show a package's manifest, signatures and the component's actual imports,
    /// without checking any signature. Also works on a bare `.wasm` component.
    Inspect(InspectArgs),
    /// Check an operator configuration file: print its mode and its plugins with
    /// their grants (after the ceilings). Exit 1 if lockdown refuses it, 2 if it is
    /// malformed. Plugins are not read or compiled unless --load is given.
    CheckConfig(CheckConfigArgs),
    /// Run the chain as a sidecar proxy in front of an upstream (gRPC and HTTP), per
    /// the config's `[serve]` and `[transport]` sections. SIGHUP reloads the config
    /// (verified in full before it replaces the running chain); SIGTERM or ctrl-c
    /// stops accepting and lets in-flight calls finish. Logs go to stderr (RUST_LOG
    /// filters them; default `info`).
    Serve(ServeArgs),
}

#[derive(Args)]
struct ServeArgs {
    /// The operator configuration file (TOML) with a `[serve]` section.
    #[arg(long, value_name = "CONFIG")]
    config: PathBuf,
    /// How log lines are written to stderr: `text` (colour only when stderr is a
    /// terminal) or `json` (one object per line, for a log shipper). `RUST_LOG`
    /// sets the levels (default `info`; `palisade::access=warn` turns off the line
    /// per refused call).
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

/// The format of `palisade serve`'s log lines.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

#[derive(Args)]
struct CheckConfigArgs {
    /// The configuration file (TOML).
    #[arg(value_name = "CONFIG")]
    config: PathBuf,
    /// Also load every plugin as a host would (verify its package, check its imports
    /// against its grants, compile, instantiate), writing the config's audit log;
    /// exit 1 if one is refused. No host-held crypto keys exist here, so a plugin
    /// granted a `crypto` key is refused (`unknown_key`).
    #[arg(long)]
    load: bool,
}

#[derive(Args)]
struct KeygenArgs {
    /// Path prefix of the key pair: writes NAME.key and NAME.pub (never overwrites).
    #[arg(long, value_name = "NAME")]
    out: PathBuf,
    /// A development key, for examples and local builds: its public key is written
    /// as `dev:<hex>`, which lockdown refuses to trust and development mode trusts
    /// with a warning.
    #[arg(long)]
    dev: bool,
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["manifest", "add"])))]
#[command(group(clap::ArgGroup::new("signer").required(true).args(["key", "bundle"])))]
struct SignArgs {
    /// The secret key (from `palisade keygen`); refused if group- or world-readable.
    #[arg(long, value_name = "NAME.key")]
    key: Option<PathBuf>,
    /// A sigstore bundle (JSON) over the manifest file's exact bytes, to attach
    /// instead of signing with a key.
    #[arg(long, value_name = "BUNDLE.json")]
    bundle: Option<PathBuf>,
    /// The manifest (TOML). With --key, `component_sha256` is filled in from the
    /// component; with --bundle, the file is packaged byte for byte and must already
    /// carry it (the bundle signs those bytes).
    #[arg(long, value_name = "MANIFEST.toml", requires = "component")]
    manifest: Option<PathBuf>,
    /// Add a signature to this existing package instead.
    #[arg(long, value_name = "PACKAGE", conflicts_with_all = ["manifest", "component"])]
    add: Option<PathBuf>,
    /// The component to package (with --manifest).
    #[arg(value_name = "COMPONENT.wasm")]
    component: Option<PathBuf>,
    /// Where to write the package.
    #[arg(long, value_name = "PACKAGE")]
    out: PathBuf,
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("trusted").required(true).multiple(true).args(["trust", "identity"])))]
struct VerifyArgs {
    /// A trusted public key file (NAME.pub); repeat for several.
    #[arg(long = "trust", value_name = "KEY.pub")]
    trust: Vec<PathBuf>,
    /// A sigstore trust root (Sigstore's trusted_root.json: Fulcio CAs, Rekor keys)
    /// to verify bundles against, offline.
    #[arg(long, value_name = "trusted_root.json", requires = "identity")]
    trust_root: Option<PathBuf>,
    /// A trusted sigstore signer: OIDC issuer, `=`, subject (e-mail or URI; a
    /// trailing `*` after `/` or `@` matches a prefix). Repeat for several.
    #[arg(long, value_name = "ISSUER=SUBJECT", requires = "trust_root")]
    identity: Vec<String>,
    /// Signatures from this many distinct trusted keys and identities are needed.
    #[arg(long, default_value_t = 1, value_name = "N")]
    threshold: usize,
    /// The plugin name the manifest must carry (default: accept the manifest's).
    #[arg(long)]
    name: Option<String>,
    /// The package to verify.
    #[arg(value_name = "PACKAGE")]
    package: PathBuf,
}

#[derive(Args)]
struct InspectArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// A package, or a bare `.wasm` component.
    #[arg(value_name = "PACKAGE")]
    package: PathBuf,
}

/// `writeln!` into the command's output buffer (writing to a `String` cannot fail).
macro_rules! say {
    ($out:expr, $($arg:tt)*) => {{
        let _ = writeln!($out, $($arg)*);
    }};
}

/// Prints a command's output in one write; a closed pipe (`| head`) is not an error.
fn emit(out: &str) {
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
}

/// Why a command failed, which picks the exit status.
enum Failure {
    /// Verification failed: exit 1.
    Refused(anyhow::Error),
    /// Bad usage, unreadable file, malformed input: exit 2.
    Broken(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        Self::Broken(error)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Keygen(args) => keygen(&args),
        Command::Sign(args) => sign(&args),
        Command::Verify(args) => verify(&args),
        Command::Inspect(args) => inspect(&args),
        Command::CheckConfig(args) => check_config(&args),
        Command::Serve(args) => serve(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Refused(error)) => {
            eprintln!("palisade: refused: {error:#}");
            ExitCode::from(1)
        }
        Err(Failure::Broken(error)) => {
            eprintln!("palisade: error: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// The largest file this tool reads (a package at its bound is larger than any
/// component, manifest or key).
const MAX_INPUT_BYTES: u64 = palisade::verify::MAX_PACKAGE_BYTES;

/// Reads `path`, at most [`MAX_INPUT_BYTES`], a regular file only (a FIFO would
/// block, a device never ends); with `private`, refused if its group or others may
/// read it.
fn read_file(path: &Path, private: bool) -> anyhow::Result<Vec<u8>> {
    let readers = if private {
        Readers::OwnerOnly
    } else {
        Readers::Any
    };
    Ok(palisade::load::read_file(path, MAX_INPUT_BYTES, readers)?)
}

/// Reads `path` as `what` (an input that is never a key), refusing one that looks
/// like a key file: then no parser of ours or of a dependency gets to quote a line of
/// it in an error (a TOML error shows the offending line, a wasm one the first bytes).
fn read_input(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    let bytes = read_file(path, false)?;
    if looks_like_a_key(&bytes) {
        bail!(
            "{} looks like a key file, not {what} (its contents are not shown)",
            path.display()
        );
    }
    Ok(bytes)
}

/// The first bytes of every WebAssembly binary.
const WASM_MAGIC: &[u8] = b"\0asm";

/// Reads a component: a key file, or anything not WebAssembly, is refused without
/// quoting it.
fn read_component(path: &Path) -> anyhow::Result<Vec<u8>> {
    let bytes = read_input(path, "a component")?;
    if !bytes.starts_with(WASM_MAGIC) {
        bail!(
            "{} is not a WebAssembly component (it does not start with `\\0asm`)",
            path.display()
        );
    }
    Ok(bytes)
}

/// Reads a package: a key file, or anything without the package magic, is refused
/// without quoting it.
fn read_package(path: &Path) -> anyhow::Result<Vec<u8>> {
    let bytes = read_input(path, "a package")?;
    if !bytes.starts_with(&palisade::verify::MAGIC) {
        bail!(
            "{} is not a palisade package (it does not start with `PALISADE`)",
            path.display()
        );
    }
    Ok(bytes)
}

/// Whether `bytes` is what `palisade keygen` writes (64 hex digits) or holds a PEM
/// private key.
fn looks_like_a_key(bytes: &[u8]) -> bool {
    let trimmed = bytes.trim_ascii();
    let hex_seed = trimmed.len() == 64 && trimmed.iter().all(u8::is_ascii_hexdigit);
    let pem_key = bytes
        .windows(b"PRIVATE KEY-----".len())
        .any(|w| w == b"PRIVATE KEY-----");
    hex_seed || pem_key
}

/// A TOML error as `PATH:LINE:COLUMN: MESSAGE`, without the snippet of the offending
/// line that the error's `Display` shows (the line may be a secret).
fn toml_error(path: &Path, text: &str, error: &toml::de::Error) -> anyhow::Error {
    let (line, column) = error.span().map_or((0, 0), |span| {
        let before = text.get(..span.start).unwrap_or_default();
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        (
            before.matches('\n').count() + 1,
            before.get(line_start..).map_or(0, |s| s.chars().count()) + 1,
        )
    });
    anyhow!(
        "{}:{line}:{column}: not valid TOML: {}",
        path.display(),
        error.message().trim_end()
    )
}

fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

/// Creates `path` with `mode`, refusing to overwrite.
fn create_new(path: &Path, mode: u32, bytes: &[u8]) -> anyhow::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("cannot write {}", path.display()))
}

fn with_extension(prefix: &Path, extension: &str) -> PathBuf {
    let mut name = prefix.as_os_str().to_owned();
    name.push(".");
    name.push(extension);
    PathBuf::from(name)
}

fn keygen(args: &KeygenArgs) -> Result<(), Failure> {
    let mut o = String::new();
    let key_path = with_extension(&args.out, "key");
    let pub_path = with_extension(&args.out, "pub");
    if pub_path.exists() {
        return Err(anyhow!("{} already exists; not overwriting", pub_path.display()).into());
    }
    let key = SigningKey::generate().map_err(anyhow::Error::new)?;
    create_new(&key_path, 0o600, key.to_secret_text().as_bytes())?;
    let kind = if args.dev {
        KeyKind::Development
    } else {
        KeyKind::Release
    };
    create_new(&pub_path, 0o644, key.public_text(kind).as_bytes())?;
    say!(o, "{}", key.key_id());
    emit(&o);
    Ok(())
}

/// Reads a secret key file. The text and the seed are wiped when dropped; no error
/// quotes either.
fn load_signing_key(path: &Path) -> anyhow::Result<SigningKey> {
    let text = Zeroizing::new(read_file(path, true)?);
    SigningKey::from_secret_text(&text).map_err(|e| anyhow!("{} is {e}", path.display()))
}

/// A `.pub` file: the key and whether it is marked as a development key.
fn load_public_key(path: &Path) -> anyhow::Result<(PublicKey, KeyKind)> {
    let text = read_file(path, false)?;
    let text = String::from_utf8(text).map_err(|_| anyhow!("{} is not UTF-8", path.display()))?;
    PublicKey::parse_text(&text).with_context(|| format!("{} is not a public key", path.display()))
}

fn sign(args: &SignArgs) -> Result<(), Failure> {
    if let Some(bundle) = &args.bundle {
        return attach_bundle(args, bundle);
    }
    let Some(key) = &args.key else {
        return Err(anyhow!("give --key or --bundle").into());
    };
    let mut o = String::new();
    let key = load_signing_key(key)?;
    let package = match (&args.manifest, &args.component, &args.add) {
        (Some(manifest), Some(component), None) => {
            let component_bytes = read_component(component)?;
            let text = read_input(manifest, "a manifest")?;
            let text = String::from_utf8(text)
                .map_err(|_| anyhow!("{} is not UTF-8", manifest.display()))?;
            // Checked here too, for an error with the file's line and column and no
            // snippet of the line (it may be a secret).
            text.parse::<toml::Table>()
                .map_err(|e| toml_error(manifest, &text, &e))?;
            let filled = palisade::verify::fill_component_digest(&text, &component_bytes)
                .with_context(|| format!("{}", manifest.display()))?;
            palisade::sign_package(&filled, &component_bytes, &key)
                .with_context(|| format!("cannot sign {}", manifest.display()))?
        }
        (None, None, Some(package)) => {
            let bytes = read_package(package)?;
            palisade::add_signature(&bytes, &key)
                .with_context(|| format!("cannot add a signature to {}", package.display()))?
        }
        _ => {
            return Err(
                anyhow!("use either --manifest MANIFEST COMPONENT, or --add PACKAGE").into(),
            );
        }
    };
    write_file(&args.out, &package)?;
    say!(o, "{} signed by {}", args.out.display(), key.key_id());
    emit(&o);
    Ok(())
}

/// `sign --bundle`: packages the manifest byte for byte with the bundle, or adds the
/// bundle to an existing package.
fn attach_bundle(args: &SignArgs, bundle_path: &Path) -> Result<(), Failure> {
    let mut o = String::new();
    let bundle = read_input(bundle_path, "a sigstore bundle")?;
    let package = match (&args.manifest, &args.component, &args.add) {
        (Some(manifest), Some(component), None) => {
            let component_bytes = read_component(component)?;
            let manifest_bytes = read_input(manifest, "a manifest")?;
            let has_digest = std::str::from_utf8(&manifest_bytes)
                .ok()
                .and_then(|text| text.parse::<toml::Table>().ok())
                .is_some_and(|table| table.contains_key("component_sha256"));
            if !has_digest {
                return Err(anyhow!(
                    "{} has no `component_sha256`; with --bundle the manifest is packaged as \
                     signed, so add `component_sha256 = \"{}\"` and sign that file",
                    manifest.display(),
                    hex::encode(Sha256::digest(&component_bytes))
                )
                .into());
            }
            palisade::package_with_bundle(&manifest_bytes, &component_bytes, &bundle)
                .with_context(|| format!("cannot package {}", manifest.display()))?
        }
        (None, None, Some(package)) => {
            let bytes = read_package(package)?;
            palisade::add_bundle(&bytes, &bundle)
                .with_context(|| format!("cannot add a bundle to {}", package.display()))?
        }
        _ => {
            return Err(
                anyhow!("use either --manifest MANIFEST COMPONENT, or --add PACKAGE").into(),
            );
        }
    };
    let info = inspect_package(&package).context("the new package does not read back")?;
    write_file(&args.out, &package)?;
    match info.info.identities.last() {
        Some(signer) => say!(
            o,
            "{} carries a sigstore bundle by {} (not verified here)",
            args.out.display(),
            signer_text(signer)
        ),
        None => say!(o, "{} written", args.out.display()),
    }
    emit(&o);
    Ok(())
}

/// `SUBJECT (issuer ISSUER), log index N`.
/// A sigstore signer as text, escaped: the certificate's subject is the signer's text.
fn signer_text(signer: &BundleSigner) -> String {
    palisade::escape_untrusted(&signer.to_string()).into_owned()
}

/// Parses `--identity ISSUER=SUBJECT`.
fn parse_identity(text: &str) -> anyhow::Result<Identity> {
    let (issuer, subject) = text
        .split_once('=')
        .ok_or_else(|| anyhow!("--identity {text:?}: expected ISSUER=SUBJECT"))?;
    let subject = SubjectPattern::parse(subject).with_context(|| format!("--identity {text:?}"))?;
    Identity::new(issuer, subject).with_context(|| format!("--identity {text:?}"))
}

fn verify(args: &VerifyArgs) -> Result<(), Failure> {
    let mut o = String::new();
    let mut trust = TrustPolicy::new().threshold(args.threshold);
    for path in &args.trust {
        trust = match load_public_key(path)? {
            (key, KeyKind::Development) => {
                eprintln!(
                    "palisade: warning: {} is a DEVELOPMENT key ({}); a lockdown config refuses to trust it",
                    path.display(),
                    key.key_id()
                );
                trust.trust_development(key)
            }
            (key, _) => trust.trust(key),
        };
    }
    if let Some(path) = &args.trust_root {
        let root = SigstoreTrustRoot::from_json(&read_input(path, "a sigstore trust root")?)
            .with_context(|| format!("{}", path.display()))?;
        trust = trust.sigstore_trust_root(root);
    }
    for identity in &args.identity {
        trust = trust.trust_identity(parse_identity(identity)?);
    }
    let bytes = read_package(&args.package)?;
    match verify_package(&bytes, args.name.as_deref(), &trust) {
        Ok(info) => {
            say!(o, "verified:    {}", args.package.display());
            say!(o, "name:        {}", info.name);
            say!(o, "version:     {}", info.version);
            say!(o, "sha256:      {}", hex::encode(info.component_sha256));
            for signer in &info.signers {
                let mark = if trust.is_development(signer) {
                    " (DEVELOPMENT key)"
                } else {
                    ""
                };
                say!(o, "signed by:   {signer}{mark}");
            }
            for signer in &info.identities {
                say!(o, "signed by:   {} (sigstore)", signer_text(signer));
            }
            emit(&o);
            Ok(())
        }
        Err(error) => {
            let refused = error.is_refusal();
            let error = anyhow::Error::new(error).context(format!("{}", args.package.display()));
            Err(if refused {
                Failure::Refused(error)
            } else {
                Failure::Broken(error)
            })
        }
    }
}

/// One import, classified: (class label, capability it needs, whether that is a problem).
fn classify(import: &str, requested: Option<&Grants>) -> (String, Option<Capability>, bool) {
    let class = classify_import(import);
    let capability = match class {
        ImportClass::Needs(capability) => Some(capability),
        _ => None,
    };
    (class.label(), capability, class.is_flagged(requested))
}

fn inspect(args: &InspectArgs) -> Result<(), Failure> {
    let mut o = String::new();
    let bytes = read_input(&args.package, "a package or a component")?;
    let is_package = bytes.starts_with(&palisade::verify::MAGIC);
    let (info, component) = if is_package {
        let package = inspect_package(&bytes)
            .with_context(|| format!("{} is not a valid package", args.package.display()))?;
        (Some(package.info), package.component)
    } else {
        (None, bytes)
    };
    let sha256 = hex::encode(Sha256::digest(&component));
    let imports = component_imports(&component)
        .with_context(|| format!("cannot read the imports of {}", args.package.display()))?;
    let requested = info.as_ref().map(|i| &i.capabilities);
    let classified: Vec<_> = imports
        .iter()
        .map(|import| (import, classify(import, requested)))
        .collect();
    let unrequested: Vec<&String> = classified
        .iter()
        .filter(|(_, (_, capability, missing))| capability.is_some() && *missing)
        .map(|(import, _)| *import)
        .collect();

    if args.json {
        let manifest = info.as_ref().map(|info| {
            let hooks: Vec<&str> = [
                (info.hooks.request, "request"),
                (info.hooks.response, "response"),
            ]
            .into_iter()
            .filter_map(|(on, name)| on.then_some(name))
            .collect();
            json!({
                "name": info.name,
                "version": info.version,
                "description": info.description,
                "hooks": hooks,
                "capabilities": GrantsToml::from(&info.capabilities),
                "component_sha256": hex::encode(info.component_sha256),
            })
        });
        let signatures: Vec<String> = info
            .as_ref()
            .map(|i| i.signers.iter().map(ToString::to_string).collect())
            .unwrap_or_default();
        let bundles: Vec<Value> = info
            .as_ref()
            .map(|i| {
                i.identities
                    .iter()
                    .map(|s| {
                        json!({
                            "issuer": s.identity.issuer,
                            "subject": s.identity.subject,
                            "log_index": s.log_index,
                        })
                    })
                    .chain(
                        i.unreadable_bundles
                            .iter()
                            .map(|reason| json!({ "unreadable": reason })),
                    )
                    .collect()
            })
            .unwrap_or_default();
        let imports: Vec<Value> = classified
            .iter()
            .map(|(import, (class, capability, flagged))| {
                json!({
                    "name": import,
                    "class": class,
                    "capability": capability.map(Capability::name),
                    "flagged": flagged,
                })
            })
            .collect();
        let out = json!({
            "kind": if is_package { "package" } else { "component" },
            "manifest": manifest,
            "signatures": signatures,
            "sigstore_bundles": bundles,
            "component_sha256": sha256,
            "imports": imports,
            "unrequested": unrequested,
        });
        say!(o, "{out:#}");
        emit(&o);
        return Ok(());
    }

    // Everything below but the path and the digests is the package author's text, so
    // it is escaped: a control character must not forge or hide a WARNING line.
    use palisade::Untrusted;
    match &info {
        Some(info) => {
            say!(o, "package:     {}", args.package.display());
            say!(o, "name:        {}", Untrusted(&info.name));
            say!(o, "version:     {}", info.version);
            say!(o, "description: {}", Untrusted(&info.description));
            let mut hooks = Vec::new();
            if info.hooks.request {
                hooks.push("request");
            }
            if info.hooks.response {
                hooks.push("response");
            }
            say!(o, "hooks:       {}", hooks.join(", "));
            let caps =
                serde_json::to_value(GrantsToml::from(&info.capabilities)).unwrap_or_default();
            let caps: Vec<String> = caps
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(name, detail)| match detail.as_object() {
                            // JSON escapes control characters, not bidirectional ones.
                            Some(d) if !d.is_empty() => {
                                format!("{name} {}", Untrusted(&detail.to_string()))
                            }
                            _ => name.clone(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            say!(
                o,
                "requests:    {}",
                if caps.is_empty() {
                    "(nothing)".into()
                } else {
                    caps.join(", ")
                }
            );
            if info.signers.is_empty()
                && info.identities.is_empty()
                && info.unreadable_bundles.is_empty()
            {
                say!(o, "signatures:  (none)");
            }
            for signer in &info.signers {
                say!(o, "signature:   {signer} (not checked)");
            }
            for signer in &info.identities {
                say!(
                    o,
                    "bundle:      {} (sigstore, not checked)",
                    signer_text(signer)
                );
            }
            for reason in &info.unreadable_bundles {
                say!(o, "bundle:      unreadable: {}", Untrusted(reason));
            }
            let declared = hex::encode(info.component_sha256);
            if declared != sha256 {
                say!(
                    o,
                    "WARNING: the manifest declares component sha256 {declared}"
                );
            }
        }
        None => say!(o, "component:   {} (no manifest)", args.package.display()),
    }
    say!(o, "sha256:      {sha256}");
    say!(o, "imports:");
    for (import, (class, _, flagged)) in &classified {
        let mark = if *flagged { "  !" } else { "" };
        let import = Untrusted(import).to_string();
        say!(o, "  {import:<48} {class}{mark}");
    }
    for import in &unrequested {
        say!(
            o,
            "WARNING: {} needs a capability the manifest does not request",
            Untrusted(import)
        );
    }
    emit(&o);
    Ok(())
}

fn check_config(args: &CheckConfigArgs) -> Result<(), Failure> {
    read_input(&args.config, "a configuration file")?;
    let config = match OperatorConfig::from_file(&args.config) {
        Ok(config) => config,
        Err(error) => {
            let refused = error.is_lockdown_refusal();
            let error = anyhow::Error::new(error).context(format!("{}", args.config.display()));
            return Err(if refused {
                Failure::Refused(error)
            } else {
                Failure::Broken(error)
            });
        }
    };
    let mut o = String::new();
    say!(o, "config:      {}", args.config.display());
    say!(o, "mode:        {}", config.mode);
    if let Some(path) = &config.audit_log {
        say!(o, "audit log:   {}", path.display());
    }
    if !config.ceilings.is_empty() {
        let names: Vec<_> = config.ceilings.iter().map(|c| c.name()).collect();
        say!(o, "forbidden:   {}", names.join(", "));
    }
    say!(o, "plugins:     {}", config.plugins.len());
    for (index, plugin) in config.plugins.iter().enumerate() {
        let source = match &plugin.source {
            ConfiguredSource::Package(path) => format!("package {}", path.display()),
            ConfiguredSource::Component(path) => {
                format!("UNSIGNED component {}", path.display())
            }
            _ => "unknown source".to_owned(),
        };
        let failure = match plugin.failure_policy {
            FailurePolicy::FailClosed => "closed",
            FailurePolicy::FailOpen => "open",
        };
        say!(
            o,
            "{}. {} ({source}, fail {failure})",
            index + 1,
            plugin.name
        );
        say!(
            o,
            "   grants:  {}",
            palisade::audit::grants_json(&plugin.grants)
        );
    }
    emit(&o);
    if args.load {
        load_config(&config)?;
    }
    Ok(())
}

fn serve(args: &ServeArgs) -> Result<(), Failure> {
    use palisade_cli::serve::{Serve, ServeError};
    use tracing_subscriber::EnvFilter;

    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match args.log_format {
        // Colour codes only for a person at a terminal, never into a file or a pipe.
        LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).try_init(),
        LogFormat::Json => logs.json().flatten_event(true).try_init(),
    };
    read_input(&args.config, "a configuration file")?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the tokio runtime")?;
    runtime.block_on(async {
        let serve = match Serve::start(&args.config).await {
            Ok(serve) => serve,
            Err(error) => {
                let refused = matches!(&error, ServeError::Config { source, .. } if source.is_lockdown_refusal());
                // `ServeError`'s message already names its cause (it is also what the
                // logs print), so the chain is not repeated after it.
                let error = anyhow::anyhow!("{}", palisade::message_with_causes(&error));
                return Err(if refused {
                    Failure::Refused(error)
                } else {
                    Failure::Broken(error)
                });
            }
        };
        // The handlers first: a SIGHUP that arrives once "accepting calls" is logged
        // must reload, not kill the process with the signal's default action.
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangup = signal(SignalKind::hangup()).context("cannot handle SIGHUP")?;
        let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
        let addr = serve.local_addr().context("the listener has no address")?;
        tracing::info!(%addr, "palisade serve: accepting calls");
        let reloader = serve.reloader();
        tokio::spawn(async move {
            while hangup.recv().await.is_some() {
                tracing::info!("SIGHUP: reloading");
                // The reloader logs the outcome and keeps the old chain on failure.
                let _ = reloader.reload().await;
            }
        });
        let shutdown = async move {
            tokio::select! {
                _ = terminate.recv() => tracing::info!("SIGTERM"),
                _ = tokio::signal::ctrl_c() => tracing::info!("interrupted"),
            }
        };
        serve
            .run(shutdown)
            .await
            .map_err(|e| Failure::Broken(anyhow::anyhow!("{}", palisade::message_with_causes(&e))))
    })
}

/// Loads every plugin of `config` on a fresh host; refusals (and development-key
/// warnings) are printed to stderr by the host's `tracing` events.
fn load_config(config: &OperatorConfig) -> Result<(), Failure> {
    let _ = tracing_subscriber::fmt()
        // Refusals are this command's own error message (and the audit log's lines).
        .with_env_filter("palisade=warn,palisade::audit=off")
        .with_writer(std::io::stderr)
        .try_init();
    let runtime = tokio::runtime::Runtime::new().context("cannot start the tokio runtime")?;
    // The host the config asks for, compiled cache included (a bad cache directory
    // is refused here as `serve` would refuse it; a good one is warmed).
    let host = Host::new(config.host_config()).with_context(|| match &config.compiled_cache {
        // The host names its own setting (`cache_dir`); the operator wrote this one.
        Some(dir) => format!(
            "cannot create the host (compiled_cache = {})",
            dir.display()
        ),
        None => "cannot create the host".to_owned(),
    })?;
    match runtime.block_on(host.load_config(config)) {
        Ok(_chain) => {
            let names: Vec<&str> = config.plugins.iter().map(|p| p.name.as_str()).collect();
            emit(&format!("loaded:      {}\n", names.join(" -> ")));
            Ok(())
        }
        Err(error) => {
            let broken = matches!(error, palisade::Error::Load(LoadError::Io { .. }));
            let error = anyhow::Error::new(error).context("loading the plugins");
            Err(if broken {
                Failure::Broken(error)
            } else {
                Failure::Refused(error)
            })
        }
    }
}
