use super::*;

#[test]
fn classifies_every_kind_of_import() {
    for core in ["types", "call", "metadata"] {
        assert_eq!(
            classify_import(&format!("palisade:plugin/{core}@0.2.0")),
            ImportClass::Core,
            "{core}"
        );
    }
    assert_eq!(
        classify_import("palisade:plugin/crypto@0.2.0"),
        ImportClass::Needs(Capability::Crypto)
    );
    // The previous contract, and a later one.
    assert_eq!(
        classify_import("palisade:plugin/types@0.1.0"),
        ImportClass::WrongVersion
    );
    assert_eq!(
        classify_import("palisade:plugin/crypto@0.3.0"),
        ImportClass::WrongVersion
    );
    assert_eq!(
        classify_import("palisade:plugin/secrets@0.2.0"),
        ImportClass::Unknown
    );
    assert_eq!(
        classify_import("wasi:cli/environment@0.2.6"),
        ImportClass::VirtualWasi
    );
    assert_eq!(
        classify_import("wasi:clocks/wall-clock@0.2.0"),
        ImportClass::Needs(Capability::Clock)
    );
    assert!(matches!(
        classify_import("wasi:filesystem/preopens@0.2.6"),
        ImportClass::Forbidden(_)
    ));
    assert!(matches!(
        classify_import("wasi:sockets/tcp@0.2.6"),
        ImportClass::Forbidden(_)
    ));
    assert_eq!(classify_import("wasi:cli/run@0.2.6"), ImportClass::Unknown);
    assert_eq!(
        classify_import("wasi:cli/environment@0.3.0"),
        ImportClass::Unknown
    );
    assert_eq!(classify_import("evil"), ImportClass::Unknown);
}

#[test]
fn an_interceptor_of_another_version_is_recognised() {
    let exports = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        other_interceptor_version(&exports(&[
            "x:y/z@1.0.0",
            "palisade:plugin/interceptor@0.1.0"
        ]))
        .map(String::as_str),
        Some("palisade:plugin/interceptor@0.1.0")
    );
    assert_eq!(
        other_interceptor_version(&exports(&["palisade:plugin/interceptor-v2@0.1.0", "x"])),
        None
    );
}

#[test]
fn garbage_and_core_modules_are_not_components() {
    for bytes in [&b""[..], b"\0asm", b"not wasm at all", b"\0asm\x01\0\0\0"] {
        let err = read_surface("p", bytes).unwrap_err();
        assert!(matches!(err, PolicyError::NotAComponent { .. }), "{err}");
    }
}

#[test]
fn the_contract_version_is_the_wit_packages() {
    let world = include_str!("../../../../wit/world.wit");
    let package = format!("package palisade:plugin@{CONTRACT_VERSION};");
    assert!(world.lines().any(|l| l == package), "{package}");
    assert_eq!(
        INTERCEPTOR_EXPORT,
        format!("palisade:plugin/interceptor@{CONTRACT_VERSION}")
    );
}

#[test]
fn import_labels_and_flags_for_inspect() {
    let kv = Grants::none().kv(4096);
    let cases = [
        ("palisade:plugin/call@0.2.0", "core", false, false),
        (
            "palisade:plugin/kv@0.2.0",
            "needs kv",
            false,
            true, // requested by nothing
        ),
        (
            "wasi:filesystem/types@0.2.6",
            "forbidden (file system access)",
            true,
            true,
        ),
        ("palisade:plugin/call@0.1.0", "wrong version", true, true),
        ("example:other/thing", "unknown", true, true),
    ];
    for (import, label, flagged_with_kv, flagged_with_none) in cases {
        let class = classify_import(import);
        assert_eq!(class.label(), label, "{import}");
        assert_eq!(class.is_flagged(Some(&kv)), flagged_with_kv, "{import}");
        assert_eq!(
            class.is_flagged(Some(&Grants::none())),
            flagged_with_none,
            "{import}"
        );
    }
    // A bare component has no manifest: a capability import is not flagged.
    assert!(!classify_import("palisade:plugin/kv@0.2.0").is_flagged(None));
}
