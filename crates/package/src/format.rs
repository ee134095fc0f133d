//! The package format's constants and bounds, shared by the reader of bytes
//! (`load`, which bounds what it reads by them) and the envelope parser (`verify`).
//! The format itself is described in the manual (`palisade::manual`, "Package
//! format").

/// The largest component the host reads. Example plugins are 40–200 KB; a bound well
/// above that keeps a hostile or corrupt file from making the host allocate at will.
pub const MAX_COMPONENT_BYTES: u64 = 32 * 1024 * 1024;

/// The first 8 bytes of every package.
pub const MAGIC: [u8; 8] = *b"PALISADE";
/// The one package format version this host reads.
pub const FORMAT_VERSION: u16 = 1;
/// The largest manifest section.
pub const MAX_MANIFEST_BYTES: u64 = 64 * 1024;
/// The most signature sections in one package.
pub const MAX_SIGNATURES: usize = 16;
/// Signature kind byte for ed25519 (`kind | key id | signature`).
pub const ALGORITHM_ED25519: u8 = 1;
/// Signature kind byte for a sigstore bundle (`kind | bundle JSON`).
pub const KIND_SIGSTORE_BUNDLE: u8 = 2;
/// Bytes of an ed25519 signature section's body: kind, key id, signature.
pub const SIGNATURE_SECTION_BYTES: u64 = 1 + 32 + 64;
/// The largest sigstore bundle (its JSON). A keyless bundle from the public
/// instance is 4 to 10 KiB.
pub const MAX_BUNDLE_BYTES: u64 = 64 * 1024;
/// The largest signature section's body (a sigstore bundle at its bound).
pub(crate) const MAX_SIGNATURE_SECTION_BYTES: u64 = 1 + MAX_BUNDLE_BYTES;
/// The largest well-formed package: every section at its bound.
pub const MAX_PACKAGE_BYTES: u64 = HEADER_BYTES as u64
    + SECTION_HEADER_BYTES as u64 * (2 + MAX_SIGNATURES as u64)
    + MAX_MANIFEST_BYTES
    + MAX_COMPONENT_BYTES
    + MAX_SIGNATURE_SECTION_BYTES * MAX_SIGNATURES as u64;

pub(crate) const HEADER_BYTES: usize = 8 + 2;
pub(crate) const SECTION_HEADER_BYTES: usize = 1 + 4;
pub(crate) const TAG_MANIFEST: u8 = 1;
pub(crate) const TAG_COMPONENT: u8 = 2;
pub(crate) const TAG_SIGNATURE: u8 = 3;
