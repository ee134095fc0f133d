use super::*;

#[test]
fn classifies_every_kind_of_import() {
    assert_eq!(
        classify_import("palisade:plugin/types@0.1.0"),
        ImportClass::Core
    );
    assert_eq!(
        classify_import("palisade:plugin/crypto@0.1.0"),
        ImportClass::Needs(Capability::Crypto)
    );
    assert_eq!(
        classify_import("palisade:plugin/crypto@0.2.0"),
        ImportClass::WrongVersion
    );
    assert_eq!(
        classify_import("palisade:plugin/secrets@0.1.0"),
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
fn garbage_and_core_modules_are_not_components() {
    for bytes in [&b""[..], b"\0asm", b"not wasm at all", b"\0asm\x01\0\0\0"] {
        let err = read_surface("p", bytes).unwrap_err();
        assert!(matches!(err, PolicyError::NotAComponent { .. }), "{err}");
    }
}
