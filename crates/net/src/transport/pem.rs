//! PEM input from files or bytes, parsed with `rustls-pki-types`, each error naming
//! the input and what it should have held.

use std::borrow::Cow;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use zeroize::Zeroize;

use super::TransportError;

/// The largest PEM file the transport reads: far above any real chain or bundle,
/// and small enough that a wrong path (a log file, a device) is refused quickly.
pub const MAX_PEM_BYTES: u64 = 1024 * 1024;

/// PEM text: a file, read when a configuration is built, or bytes already in memory.
#[derive(Clone, PartialEq, Eq)]
pub enum Pem {
    /// A file, at most [`MAX_PEM_BYTES`].
    File(PathBuf),
    /// PEM text in memory (made by a development CA, say).
    Bytes(Vec<u8>),
}

impl fmt::Debug for Pem {
    /// Never prints the bytes: they may be a private key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => f.debug_tuple("File").field(path).finish(),
            Self::Bytes(bytes) => write!(f, "Bytes(<{} bytes>)", bytes.len()),
        }
    }
}

impl Drop for Pem {
    /// PEM text in memory may be a private key: wiped when dropped.
    fn drop(&mut self) {
        if let Self::Bytes(bytes) = self {
            bytes.zeroize();
        }
    }
}

impl Pem {
    /// The PEM file at `path`.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Self::File(path.into())
    }

    /// PEM text in memory.
    pub fn bytes(bytes: impl Into<Vec<u8>>) -> Self {
        Self::Bytes(bytes.into())
    }

    /// Where the input comes from, for errors.
    pub(crate) fn origin(&self) -> String {
        match self {
            Self::File(path) => path.display().to_string(),
            Self::Bytes(_) => "<bytes>".to_owned(),
        }
    }

    fn read(&self, what: &'static str) -> Result<Cow<'_, [u8]>, TransportError> {
        match self {
            Self::Bytes(bytes) => Ok(bytes.as_slice().into()),
            Self::File(path) => palisade_package::load::read_config(path, MAX_PEM_BYTES)
                .map(Into::into)
                .map_err(|reason| TransportError::Read {
                    what,
                    origin: self.origin(),
                    reason,
                }),
        }
    }
}

fn pem_error(what: &'static str, input: &Pem, error: pem::Error) -> TransportError {
    TransportError::Pem {
        what,
        origin: input.origin(),
        reason: pem_reason(&error),
    }
}

/// What is wrong with a PEM input, in words only: the parser's own `Display` quotes
/// the offending line and base64 symbol, which in a key file would be key material.
fn pem_reason(error: &pem::Error) -> String {
    match error {
        pem::Error::MissingSectionEnd { .. } => "a PEM block has no `-----END` line".to_owned(),
        pem::Error::IllegalSectionStart { .. } => "a malformed `-----BEGIN` line".to_owned(),
        pem::Error::Base64Decode(_) => "a PEM block is not valid base64".to_owned(),
        pem::Error::Io(error) => error.to_string(),
        pem::Error::NoItemsFound => "no PEM block".to_owned(),
        pem::Error::SectionTooLarge => "a PEM block is too large".to_owned(),
        _ => "malformed PEM".to_owned(),
    }
}

/// Every `CERTIFICATE` block of `input`, in order; at least one.
pub(crate) fn certificates(
    input: &Pem,
    what: &'static str,
) -> Result<Vec<CertificateDer<'static>>, TransportError> {
    let text = input.read(what)?;
    let certs = CertificateDer::pem_slice_iter(&text)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(what, input, e))?;
    if certs.is_empty() {
        return Err(TransportError::Missing {
            what,
            origin: input.origin(),
            block: "CERTIFICATE",
        });
    }
    Ok(certs)
}

/// The first private key of `input` (PKCS#8, PKCS#1 or SEC1). The file's text is
/// wiped once parsed.
pub(crate) fn private_key(input: &Pem) -> Result<PrivateKeyDer<'static>, TransportError> {
    const WHAT: &str = "private key";
    let text = input.read(WHAT)?;
    let key = PrivateKeyDer::from_pem_slice(&text);
    if let Cow::Owned(mut text) = text {
        text.zeroize();
    }
    key.map_err(|e| match e {
        pem::Error::NoItemsFound => TransportError::Missing {
            what: WHAT,
            origin: input.origin(),
            block: "PRIVATE KEY",
        },
        other => pem_error(WHAT, input, other),
    })
}

/// The trust anchors of a CA bundle; every certificate in it must be usable as one.
pub(crate) fn roots(input: &Pem) -> Result<Arc<RootCertStore>, TransportError> {
    const WHAT: &str = "CA bundle";
    let mut store = RootCertStore::empty();
    for cert in certificates(input, WHAT)? {
        store.add(cert).map_err(|e| TransportError::Invalid {
            what: "CA certificate",
            origin: input.origin(),
            reason: e.to_string(),
        })?;
    }
    Ok(Arc::new(store))
}
