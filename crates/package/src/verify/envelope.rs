//! The package envelope: `PALISADE | version | sections`, parsed strictly.
//! See the "Package format" section of [`manual`](crate::manual).

use crate::format::{
    ALGORITHM_ED25519, FORMAT_VERSION, HEADER_BYTES, KIND_SIGSTORE_BUNDLE, MAGIC,
    MAX_COMPONENT_BYTES, MAX_MANIFEST_BYTES, MAX_SIGNATURE_SECTION_BYTES, MAX_SIGNATURES,
    SECTION_HEADER_BYTES, SIGNATURE_SECTION_BYTES, TAG_COMPONENT, TAG_MANIFEST, TAG_SIGNATURE,
};
use crate::verify::error::PackageError;

/// One ed25519 signature section.
#[derive(Clone, Copy)]
pub(crate) struct RawSignature {
    /// Offset of the section's tag byte in the package.
    pub(crate) offset: usize,
    pub(crate) key_id: [u8; 32],
    pub(crate) signature: [u8; 64],
}

/// One signature section of either kind, borrowing the package's bytes.
#[derive(Clone, Copy)]
pub(crate) enum Signature<'a> {
    /// Kind 1.
    Ed25519(RawSignature),
    /// Kind 2: the bundle's JSON, not yet parsed (1 to [`MAX_BUNDLE_BYTES`] bytes).
    Bundle {
        /// Offset of the section's tag byte in the package.
        offset: usize,
        json: &'a [u8],
    },
}

/// A parsed envelope, borrowing the package's bytes.
pub(crate) struct Envelope<'a> {
    pub(crate) manifest: &'a [u8],
    pub(crate) component: &'a [u8],
    pub(crate) signatures: Vec<Signature<'a>>,
}

/// Parses `bytes` as a package envelope. Every length is checked against its bound
/// and against the bytes left *before* anything is sliced; nothing here panics.
pub(crate) fn parse(bytes: &[u8]) -> Result<Envelope<'_>, PackageError> {
    let header = bytes.get(..HEADER_BYTES).ok_or(PackageError::TooShort {
        size: bytes.len(),
        minimum: HEADER_BYTES,
    })?;
    let (magic, version) = header.split_at(8);
    if magic != MAGIC {
        return Err(PackageError::BadMagic {
            found: magic.to_vec(),
        });
    }
    let version = u16::from_le_bytes([version[0], version[1]]);
    if version != FORMAT_VERSION {
        return Err(PackageError::UnsupportedFormatVersion {
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
            return Err(PackageError::TrailingBytes {
                offset,
                count: rest.len(),
            });
        };
        let declared = u64::from(u32::from_le_bytes([len[0], len[1], len[2], len[3]]));
        let (section, limit) = match tag {
            TAG_MANIFEST => ("manifest", MAX_MANIFEST_BYTES),
            TAG_COMPONENT => ("component", MAX_COMPONENT_BYTES),
            TAG_SIGNATURE => ("signature", MAX_SIGNATURE_SECTION_BYTES),
            _ => return Err(PackageError::UnknownSection { tag, offset }),
        };
        // Order: manifest, component, then signatures; each at most once (signatures 16).
        match tag {
            TAG_MANIFEST if manifest.is_some() => {
                return Err(PackageError::DuplicateSection { section, offset });
            }
            TAG_COMPONENT if component.is_some() => {
                return Err(PackageError::DuplicateSection { section, offset });
            }
            TAG_COMPONENT | TAG_SIGNATURE if manifest.is_none() => {
                return Err(PackageError::OutOfOrder {
                    section,
                    offset,
                    expected: "manifest",
                });
            }
            TAG_SIGNATURE if component.is_none() => {
                return Err(PackageError::OutOfOrder {
                    section,
                    offset,
                    expected: "component",
                });
            }
            TAG_SIGNATURE if signatures.len() >= MAX_SIGNATURES => {
                return Err(PackageError::TooManySignatures {
                    offset,
                    limit: MAX_SIGNATURES,
                });
            }
            _ => {}
        }
        if declared > limit {
            return Err(PackageError::SectionTooLarge {
                section,
                offset,
                declared,
                limit,
            });
        }
        let body_start = offset + SECTION_HEADER_BYTES;
        let available = (bytes.len() - body_start) as u64;
        if declared > available {
            return Err(PackageError::SectionPastEnd {
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
        manifest: manifest.ok_or(PackageError::MissingSection {
            section: "manifest",
        })?,
        component: component.ok_or(PackageError::MissingSection {
            section: "component",
        })?,
        signatures,
    })
}

fn parse_signature(offset: usize, body: &[u8]) -> Result<Signature<'_>, PackageError> {
    let length_error = || PackageError::SignatureLength {
        offset,
        declared: body.len() as u64,
        expected: SIGNATURE_SECTION_BYTES,
    };
    let (&kind, rest) = body.split_first().ok_or_else(length_error)?;
    match kind {
        ALGORITHM_ED25519 => {
            if body.len() as u64 != SIGNATURE_SECTION_BYTES {
                return Err(length_error());
            }
            let (key_id, signature) = rest.split_at_checked(32).ok_or_else(length_error)?;
            Ok(Signature::Ed25519(RawSignature {
                offset,
                key_id: key_id.try_into().map_err(|_| length_error())?,
                signature: signature.try_into().map_err(|_| length_error())?,
            }))
        }
        // The section's bound already caps the bundle at MAX_BUNDLE_BYTES.
        KIND_SIGSTORE_BUNDLE if rest.is_empty() => Err(PackageError::BundleMalformed {
            offset,
            reason: "the bundle is empty".into(),
        }),
        KIND_SIGSTORE_BUNDLE => Ok(Signature::Bundle { offset, json: rest }),
        algorithm => Err(PackageError::UnknownAlgorithm { offset, algorithm }),
    }
}

/// Writes an envelope. The caller has checked every bound.
pub(crate) fn encode(manifest: &[u8], component: &[u8], signatures: &[Signature<'_>]) -> Vec<u8> {
    let signature_bytes: usize = signatures
        .iter()
        .map(|s| match s {
            Signature::Ed25519(_) => SIGNATURE_SECTION_BYTES as usize,
            Signature::Bundle { json, .. } => 1 + json.len(),
        })
        .sum();
    let mut out = Vec::with_capacity(
        HEADER_BYTES
            + (2 + signatures.len()) * SECTION_HEADER_BYTES
            + manifest.len()
            + component.len()
            + signature_bytes,
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
        match s {
            Signature::Ed25519(s) => section(
                TAG_SIGNATURE,
                &[&[ALGORITHM_ED25519], &s.key_id, &s.signature],
            ),
            Signature::Bundle { json, .. } => {
                section(TAG_SIGNATURE, &[&[KIND_SIGSTORE_BUNDLE], json]);
            }
        }
    }
    out
}
