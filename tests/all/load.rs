//! Bad input gets a clear, typed error: never a panic.

use palisade::{
    CryptoGrant, Error, Grants, KeyUse, Limits, LoadError, PluginSource, PluginSpec, PolicyError,
};
use palisade_tests::guests::{ADD_HEADER, FIXTURE_OLD_CONTRACT, FIXTURE_WRONG_SIGNATURE};
use palisade_tests::spec;

use crate::support::host;

async fn load_bytes(bytes: Vec<u8>) -> Error {
    host()
        .load(PluginSpec::new("bad", PluginSource::Bytes(bytes)))
        .await
        .unwrap_err()
}

#[tokio::test]
async fn garbage_is_not_a_component() {
    let err = load_bytes(b"definitely not wasm".to_vec()).await;
    assert!(
        matches!(err, Error::Policy(PolicyError::NotAComponent { .. })),
        "{err}"
    );
    assert!(
        err.to_string()
            .starts_with("plugin `bad` is not a WebAssembly component")
    );
}

#[tokio::test]
async fn empty_input_is_not_a_component() {
    let err = load_bytes(Vec::new()).await;
    assert!(
        matches!(err, Error::Policy(PolicyError::NotAComponent { .. })),
        "{err}"
    );
}

#[tokio::test]
async fn core_module_is_refused_with_a_hint() {
    let err = load_bytes(b"\0asm\x01\0\0\0".to_vec()).await;
    assert!(err.to_string().contains("core module"), "{err}");
}

#[tokio::test]
async fn truncated_component_is_refused() {
    let bytes = crate::support::component_bytes(ADD_HEADER);
    let err = load_bytes(bytes[..bytes.len() / 2].to_vec()).await;
    assert!(
        matches!(err, Error::Policy(PolicyError::NotAComponent { .. })),
        "{err}"
    );
}

/// Where, in a real component, a flipped byte lands: each class of position is
/// caught by its own stage, with its own error.
#[derive(Debug, Clone, Copy)]
enum Flip {
    /// The `\0asm` magic: refused before parsing.
    Magic,
    /// The version and layer words after it: the parser's refusal.
    Version,
    /// The size of the component's first section: the parse runs past a section.
    SectionSize,
    /// The first instruction of a function body in an inner core module, made an
    /// opcode that does not exist: only compilation (which validates code) sees it.
    Opcode,
}

/// The offset of the first function body's first instruction in `component`.
fn first_instruction(component: &[u8]) -> usize {
    for payload in wasmparser::Parser::new(0).parse_all(component) {
        if let wasmparser::Payload::CodeSectionEntry(body) = payload.unwrap() {
            return body.get_operators_reader().unwrap().original_position();
        }
    }
    panic!("no function body in the component");
}

#[tokio::test]
async fn flipped_bytes_are_refused_by_the_stage_that_reads_them() {
    let original = crate::support::component_bytes(ADD_HEADER);
    for flip in [Flip::Magic, Flip::Version, Flip::SectionSize, Flip::Opcode] {
        let mut bytes = original.clone();
        match flip {
            Flip::Magic => bytes[1] ^= 0xff,
            Flip::Version => bytes[4] ^= 0xff,
            // The header is 8 bytes; the first section's id is byte 8, its LEB128 size
            // starts at byte 9. Setting its high bits makes it claim far more bytes
            // than the file has.
            Flip::SectionSize => bytes[9] |= 0x7f,
            // 0xff is no opcode (nor the prefix of one).
            Flip::Opcode => bytes[first_instruction(&original)] = 0xff,
        }
        // add-header's grant, so that a component intact but for its code passes the
        // import check and reaches compilation.
        let err = host()
            .load(
                PluginSpec::new("bad", PluginSource::Bytes(bytes)).grants(Grants::none().config()),
            )
            .await
            .unwrap_err();
        match flip {
            Flip::Magic => assert!(
                matches!(&err, Error::Policy(PolicyError::NotAComponent { reason, .. })
                    if reason.starts_with("no WebAssembly header")),
                "{flip:?}: {err}"
            ),
            Flip::Version | Flip::SectionSize => assert!(
                matches!(&err, Error::Policy(PolicyError::NotAComponent { plugin, .. }) if plugin == "bad"),
                "{flip:?}: {err}"
            ),
            Flip::Opcode => assert!(
                matches!(&err, Error::Compile(palisade::CompileError::Invalid { plugin, .. }) if plugin == "bad"),
                "{flip:?}: {err}"
            ),
        }
    }
}

#[tokio::test]
async fn oversized_input_is_refused_before_parsing() {
    let err = load_bytes(vec![0; palisade::load::MAX_COMPONENT_BYTES as usize + 1]).await;
    assert!(
        matches!(err, Error::Load(LoadError::TooLarge { limit, .. }) if limit == palisade::load::MAX_COMPONENT_BYTES),
        "{err}"
    );
}

#[tokio::test]
async fn missing_file_names_the_path() {
    let err = host()
        .load(spec("missing", "/nonexistent/plugin.wasm"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Load(LoadError::Io { .. })), "{err}");
    assert!(
        err.to_string().contains("/nonexistent/plugin.wasm"),
        "{err}"
    );
}

#[tokio::test]
async fn bad_names_are_refused() {
    for name in ["", "Upper", "has space", &"x".repeat(65)] {
        let err = host().load(spec(name, ADD_HEADER)).await.unwrap_err();
        assert!(
            matches!(err, Error::Load(LoadError::InvalidName { .. })),
            "{name:?}: {err}"
        );
    }
}

#[tokio::test]
async fn a_plugin_built_for_the_previous_contract_is_refused_by_version() {
    let err = host()
        .load(spec("old", FIXTURE_OLD_CONTRACT))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Policy(PolicyError::UnsupportedVersion { interface, supported: "0.2.0", .. })
                if interface == "palisade:plugin/types@0.1.0"
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "plugin `old` uses `palisade:plugin/types@0.1.0`, but this host serves version 0.2.0 \
         of the contract: rebuild it with a palisade-sdk for 0.2.0"
    );
}

#[tokio::test]
async fn a_wrongly_typed_import_of_the_right_version_fails_to_link() {
    // `metadata.get` returning `string`: the hand-linked `get` must not be reachable.
    let err = host()
        .load(spec("wrong", FIXTURE_WRONG_SIGNATURE))
        .await
        .unwrap_err();
    let Error::Link(palisade::LinkError::Mismatch { plugin, reason }) = &err else {
        panic!("expected a link mismatch, got {err}");
    };
    assert_eq!(plugin, "wrong");
    assert!(
        reason.contains("palisade:plugin/metadata@0.2.0") && reason.contains("get"),
        "{reason}"
    );
}

#[tokio::test]
async fn crypto_grant_of_an_unknown_key_fails_at_load() {
    let grants = Grants::none()
        .config()
        .crypto(CryptoGrant::default().key("no-such-key", KeyUse::Verify));
    let err = host()
        .load(spec("add-header", ADD_HEADER).grants(grants))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Policy(PolicyError::UnknownKey { key, .. }) if key == "no-such-key"),
        "{err}"
    );
}

#[tokio::test]
async fn limits_out_of_range_are_refused() {
    let zero_memory = Limits::default().with_max_memory_bytes(0);
    let err = host()
        .load(
            spec("add-header", ADD_HEADER)
                .grants(Grants::none().config())
                .limits(zero_memory),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Policy(PolicyError::LimitOutOfRange {
                limit: "max_memory_bytes",
                ..
            })
        ),
        "{err}"
    );
    let fuel = Limits::default().with_fuel(Some(1000));
    let err = host()
        .load(
            spec("add-header", ADD_HEADER)
                .grants(Grants::none().config())
                .limits(fuel),
        )
        .await
        .unwrap_err();
    // Its own variant, not an out-of-range limit: the value is fine, the host is not
    // built to enforce it.
    assert!(
        matches!(&err, Error::Policy(PolicyError::FuelWithoutMetering { plugin }) if plugin == "add-header"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "plugin `add-header` has a fuel limit, but the host was built without fuel metering \
         (enable it in the host's configuration, or remove the limit)"
    );
}

#[tokio::test]
async fn memory_limit_below_the_components_minimum_fails_at_load() {
    let tiny = Limits::default().with_max_memory_bytes(4096);
    let err = host()
        .load(
            spec("add-header", ADD_HEADER)
                .grants(Grants::none().config())
                .limits(tiny),
        )
        .await
        .unwrap_err();
    // Refused as the first instance is made: no interface mismatch, and no trap.
    assert!(
        matches!(
            &err,
            Error::Instantiate(palisade::InstantiateError::MemoryLimit { plugin, limit: 4096 })
                if plugin == "add-header"
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "plugin `add-header` needs more memory to start than its limit of 4096 bytes"
    );
}

/// Runs `work` on its own thread and gives up after a minute: an open that blocks
/// (a FIFO opened for reading waits for a writer) fails the test instead of hanging
/// it. A liveness bound, not a timing assertion.
fn within_a_minute<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, result) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(work());
    });
    result
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("blocked for a minute on a path that is not a regular file")
}

/// A FIFO, a directory and two devices, with what the refusal calls each.
fn special_files(dir: &std::path::Path) -> Vec<(std::path::PathBuf, &'static str)> {
    let fifo = dir.join("package.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success(), "mkfifo failed");
    vec![
        (fifo, "a FIFO (named pipe)"),
        (dir.to_owned(), "a directory"),
        ("/dev/zero".into(), "a character device"),
        ("/dev/null".into(), "a character device"),
    ]
}

#[test]
fn a_path_that_is_not_a_regular_file_is_refused_before_reading() {
    let dir = palisade_tests::temp_dir("load", "special");
    for (path, what) in special_files(&dir) {
        let reason = format!("not a regular file (it is {what}); give the path of a file");
        for source in [
            PluginSource::Package(path.clone()),
            PluginSource::File(path.clone()),
        ] {
            let error = within_a_minute(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime
                    .block_on(host().load(PluginSpec::new("special", source)))
                    .err()
            })
            .expect("loaded");
            let Error::Load(LoadError::Io { source, .. }) = &error else {
                panic!("{}: expected LoadError::Io, got {error}", path.display());
            };
            assert_eq!(source.kind(), std::io::ErrorKind::InvalidInput, "{error}");
            // The OS error is the source, printed once by an error-chain printer.
            assert_eq!(source.to_string(), reason);
            assert_eq!(
                palisade::message_with_causes(&error),
                format!(
                    "cannot read plugin `special` from {}: {reason}",
                    path.display()
                )
            );
        }
        // The operator's config and the PEM files it names go through the same door.
        let config = path.clone();
        let error =
            within_a_minute(move || palisade::OperatorConfig::from_file(config).unwrap_err());
        assert_eq!(
            error.to_string(),
            format!("cannot read config {}: {reason}", path.display())
        );
        let pem = palisade::transport::Pem::file(&path);
        let material = palisade::transport::TlsMaterial {
            cert: pem.clone(),
            key: pem.clone(),
            ca: pem,
        };
        let error =
            within_a_minute(move || palisade::transport::ServerTls::new(&material).unwrap_err());
        assert!(error.to_string().ends_with(&reason), "{error}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
