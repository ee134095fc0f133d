//! The package envelope: `PALISADE | version | sections`, parsed strictly.
//! See the "Package format" section of [`manual`](crate::manual).

use crate::error::VerifyError;
use crate::load::MAX_COMPONENT_BYTES;

/// The first 8 bytes of every package.
pub const MAGIC: [u8; 8] = *b"PALISADE";
/// The one package format version this host reads.
pub const FORMAT_VERSION: u16 = 1;
/// The largest manifest section.
pub const MAX_MANIFEST_BYTES: u64 = 64 * 1024;
/// The most signature sections in one package.
pub const MAX_SIGNATURES: usize = 16;
/// Signature algorithm byte for ed25519.
pub const ALGORITHM_ED25519: u8 = 1;
/// Bytes of one signature section's body: algorithm, key id, signature.
pub const SIGNATURE_SECTION_BYTES: u64 = 1 + 32 + 64;
/// The largest well-formed package: every section at its bound.
pub const MAX_PACKAGE_BYTES: u64 = HEADER_BYTES as u64
    + SECTION_HEADER_BYTES as u64 * (2 + MAX_SIGNATURES as u64)
    + MAX_MANIFEST_BYTES
    + MAX_COMPONENT_BYTES
    + SIGNATURE_SECTION_BYTES * MAX_SIGNATURES as u64;

const HEADER_BYTES: usize = 8 + 2;
const SECTION_HEADER_BYTES: usize = 1 + 4;
const TAG_MANIFEST: u8 = 1;
const TAG_COMPONENT: u8 = 2;
const TAG_SIGNATURE: u8 = 3;

/// One signature section.
#[derive(Clone, Copy)]
pub(crate) struct RawSignature {
    /// Offset of the section's tag byte in the package.
    pub(crate) offset: usize,
    pub(crate) key_id: [u8; 32],
    pub(crate) signature: [u8; 64],
}

/// A parsed envelope, borrowing the package's bytes.
pub(crate) struct Envelope<'a> {
    pub(crate) manifest: &'a [u8],
    pub(crate) component: &'a [u8],
    pub(crate) signatures: Vec<RawSignature>,
}

/// Parses `bytes` as a package envelope. Every length is checked against its bound
/// and against the bytes left *before* anything is sliced; nothing here panics.
pub(crate) fn parse(bytes: &[u8]) -> Result<Envelope<'_>, VerifyError> {
    let header = bytes.get(..HEADER_BYTES).ok_or(VerifyError::TooShort {
        size: bytes.len(),
        minimum: HEADER_BYTES,
    })?;
    let (magic, version) = header.split_at(8);
    if magic != MAGIC {
        return Err(VerifyError::BadMagic {
            found: magic.to_vec(),
        });
    }
    let version = u16::from_le_bytes([version[0], version[1]]);
    if version != FORMAT_VERSION {
        return Err(VerifyError::UnsupportedFormatVersion {
            version,
            supported: FORMAT_VERSION,
        });
    }
    let mut manifest = None;
    let mut component = None;
    let mut signatures = Vec::new();
    let mut offset = HEADER_BYTES;
    while offset < bytes.len() {
        let rest = &bytes[offset..];
        let Some((&tag, len)) = rest.split_first() else {
            break;
        };
        let Some(len) = len.get(..4) else {
            return Err(VerifyError::TrailingBytes {
                offset,
                count: rest.len(),
            });
        };
        let declared = u64::from(u32::from_le_bytes([len[0], len[1], len[2], len[3]]));
        let (section, limit) = match tag {
            TAG_MANIFEST => ("manifest", MAX_MANIFEST_BYTES),
            TAG_COMPONENT => ("component", MAX_COMPONENT_BYTES),
            TAG_SIGNATURE => ("signature", SIGNATURE_SECTION_BYTES),
            _ => return Err(VerifyError::UnknownSection { tag, offset }),
        };
        // Order: manifest, component, then signatures; each at most once (signatures 16).
        match tag {
            TAG_MANIFEST if manifest.is_some() => {
                return Err(VerifyError::DuplicateSection { section, offset });
            }
            TAG_COMPONENT if component.is_some() => {
                return Err(VerifyError::DuplicateSection { section, offset });
            }
            TAG_COMPONENT | TAG_SIGNATURE if manifest.is_none() => {
                return Err(VerifyError::OutOfOrder {
                    section,
                    offset,
                    expected: "manifest",
                });
            }
            TAG_SIGNATURE if component.is_none() => {
                return Err(VerifyError::OutOfOrder {
                    section,
                    offset,
                    expected: "component",
                });
            }
            TAG_SIGNATURE if signatures.len() >= MAX_SIGNATURES => {
                return Err(VerifyError::TooManySignatures {
                    offset,
                    limit: MAX_SIGNATURES,
                });
            }
            TAG_SIGNATURE if declared < SIGNATURE_SECTION_BYTES => {
                return Err(VerifyError::SignatureLength {
                    offset,
                    declared,
                    expected: SIGNATURE_SECTION_BYTES,
                });
            }
            _ => {}
        }
        if declared > limit {
            return Err(VerifyError::SectionTooLarge {
                section,
                offset,
                declared,
                limit,
            });
        }
        let body_start = offset + SECTION_HEADER_BYTES;
        let available = (bytes.len() - body_start) as u64;
        if declared > available {
            return Err(VerifyError::SectionPastEnd {
                section,
                offset,
                declared,
                available,
            });
        }
        // Both bounds hold, so this cannot overflow or go past the end.
        let body_end = body_start + declared as usize;
        let body = &bytes[body_start..body_end];
        match tag {
            TAG_MANIFEST => manifest = Some(body),
            TAG_COMPONENT => component = Some(body),
            _ => signatures.push(parse_signature(offset, body)?),
        }
        offset = body_end;
    }
    Ok(Envelope {
        manifest: manifest.ok_or(VerifyError::MissingSection {
            section: "manifest",
        })?,
        component: component.ok_or(VerifyError::MissingSection {
            section: "component",
        })?,
        signatures,
    })
}

fn parse_signature(offset: usize, body: &[u8]) -> Result<RawSignature, VerifyError> {
    let length_error = || VerifyError::SignatureLength {
        offset,
        declared: body.len() as u64,
        expected: SIGNATURE_SECTION_BYTES,
    };
    let (&algorithm, rest) = body.split_first().ok_or_else(length_error)?;
    if algorithm != ALGORITHM_ED25519 {
        return Err(VerifyError::UnknownAlgorithm { offset, algorithm });
    }
    let (key_id, signature) = rest.split_at_checked(32).ok_or_else(length_error)?;
    Ok(RawSignature {
        offset,
        key_id: key_id.try_into().map_err(|_| length_error())?,
        signature: signature.try_into().map_err(|_| length_error())?,
    })
}

/// Writes an envelope. The caller has checked every bound.
pub(crate) fn encode(manifest: &[u8], component: &[u8], signatures: &[RawSignature]) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        HEADER_BYTES
            + 2 * SECTION_HEADER_BYTES
            + manifest.len()
            + component.len()
            + signatures.len() * (SECTION_HEADER_BYTES + SIGNATURE_SECTION_BYTES as usize),
    );
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    let mut section = |tag: u8, parts: &[&[u8]]| {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        out.push(tag);
        out.extend_from_slice(&(len as u32).to_le_bytes());
        for part in parts {
            out.extend_from_slice(part);
        }
    };
    section(TAG_MANIFEST, &[manifest]);
    section(TAG_COMPONENT, &[component]);
    for s in signatures {
        section(
            TAG_SIGNATURE,
            &[&[ALGORITHM_ED25519], &s.key_id, &s.signature],
        );
    }
    out
}
