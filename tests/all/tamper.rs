//! Property tests: random byte flips, runs of flipped bytes and truncations anywhere
//! in a real signed package (the add-header component, signed by two keys with a
//! threshold of two). Verification never succeeds and never panics; where the region
//! hit decides the error, the test asserts that variant.

use std::ops::Range;

use palisade::{PackageError, TrustError};
use palisade::{TrustPolicy, VerifyError, add_signature, verify_package};
use proptest::prelude::*;
use proptest::test_runner::Config;

use crate::verify::{key, package, sections};

/// The package's byte regions, in file order.
struct Layout {
    bytes: Vec<u8>,
    magic: Range<usize>,
    version: Range<usize>,
    /// Tag and length of every section: changing them changes the framing, and which
    /// framing error follows depends on the new value.
    headers: Vec<Range<usize>>,
    manifest: Range<usize>,
    component: Range<usize>,
    signatures: Vec<SignatureLayout>,
}

struct SignatureLayout {
    /// The section's offset (as errors report it).
    offset: usize,
    algorithm: usize,
    key_id: Range<usize>,
    signature: Range<usize>,
}

fn layout() -> Layout {
    let bytes = add_signature(&package(), &key(2)).unwrap();
    let mut at = 10;
    let mut headers = Vec::new();
    let mut bodies = Vec::new();
    for (_, body) in sections(&bytes) {
        headers.push(at..at + 5);
        bodies.push(at + 5..at + 5 + body.len());
        at += 5 + body.len();
    }
    assert_eq!(at, bytes.len());
    let signatures = headers[2..]
        .iter()
        .zip(&bodies[2..])
        .map(|(header, body)| SignatureLayout {
            offset: header.start,
            algorithm: body.start,
            key_id: body.start + 1..body.start + 33,
            signature: body.start + 33..body.end,
        })
        .collect();
    Layout {
        magic: 0..8,
        version: 8..10,
        manifest: bodies[0].clone(),
        component: bodies[1].clone(),
        headers,
        signatures,
        bytes,
    }
}

fn trust() -> TrustPolicy {
    TrustPolicy::new()
        .trust(key(1).public_key())
        .trust(key(2).public_key())
        .threshold(2)
}

/// The error a change must cause, when the region it hits decides it.
#[derive(Debug)]
enum Expect {
    BadMagic,
    Version,
    Algorithm,
    /// The signature section at this offset does not verify.
    InvalidSignature(usize),
    Threshold,
    Digest,
}

impl Expect {
    fn matches(&self, error: &VerifyError) -> bool {
        match self {
            Self::BadMagic => matches!(error, VerifyError::Package(PackageError::BadMagic { .. })),
            Self::Version => matches!(
                error,
                VerifyError::Package(PackageError::UnsupportedFormatVersion { .. })
            ),
            // A kind byte that becomes 2 names a sigstore bundle: with no trust root
            // in the policy it counts as an untrusted signature, so the threshold fails.
            Self::Algorithm => matches!(
                error,
                VerifyError::Package(PackageError::UnknownAlgorithm { .. })
                    | VerifyError::Trust(TrustError::ThresholdNotMet { .. })
            ),
            Self::InvalidSignature(at) => {
                matches!(error, VerifyError::Trust(TrustError::InvalidSignature { offset, .. }) if offset == at)
            }
            Self::Threshold => matches!(
                error,
                VerifyError::Trust(TrustError::ThresholdNotMet { required: 2, .. })
            ),
            Self::Digest => matches!(
                error,
                VerifyError::Trust(TrustError::ComponentDigestMismatch { .. })
            ),
        }
    }
}

/// What verification must say when exactly the bytes in `changed` differ, following
/// the verifier's order: envelope, each signature in order, threshold, component
/// digest. `None`: a section header changed, so only "refused" is certain.
fn expected(layout: &Layout, changed: &[usize]) -> Option<Expect> {
    let hit = |range: &Range<usize>| changed.iter().any(|at| range.contains(at));
    if hit(&layout.magic) {
        return Some(Expect::BadMagic);
    }
    if hit(&layout.version) {
        return Some(Expect::Version);
    }
    if layout.headers.iter().any(hit) {
        return None;
    }
    if layout
        .signatures
        .iter()
        .any(|s| changed.contains(&s.algorithm))
    {
        return Some(Expect::Algorithm);
    }
    let mut valid = 0;
    for signature in &layout.signatures {
        if hit(&signature.key_id) {
            continue; // now a key nobody trusts: ignored
        }
        if hit(&layout.manifest) || hit(&signature.signature) {
            return Some(Expect::InvalidSignature(signature.offset));
        }
        valid += 1;
    }
    if valid < 2 {
        return Some(Expect::Threshold);
    }
    if hit(&layout.component) {
        return Some(Expect::Digest);
    }
    unreachable!("a change in no region: {changed:?}")
}

thread_local! {
    static LAYOUT: Layout = layout();
}

fn check(layout: &Layout, bytes: &[u8], changed: &[usize]) -> Result<(), TestCaseError> {
    let result = verify_package(bytes, Some("add-header"), &trust());
    let Err(error) = result else {
        return Err(TestCaseError::fail(format!(
            "bytes {changed:?} changed, and the package verified"
        )));
    };
    if let Some(expect) = expected(layout, changed) {
        prop_assert!(
            expect.matches(&error),
            "bytes {changed:?}: expected {expect:?}, got {error}"
        );
    }
    Ok(())
}

/// Positions weighted by region, so that the small regions (the header, each
/// signature) are hit as often as the component.
fn position(len: usize) -> impl Strategy<Value = usize> {
    LAYOUT.with(|l| {
        let regions: Vec<Range<usize>> = [l.magic.clone(), l.version.clone()]
            .into_iter()
            .chain(l.headers.iter().cloned())
            .chain([l.manifest.clone(), l.component.clone()])
            .chain(l.signatures.iter().flat_map(|s| {
                [
                    s.algorithm..s.algorithm + 1,
                    s.key_id.clone(),
                    s.signature.clone(),
                ]
            }))
            .collect();
        assert!(regions.iter().all(|r| r.end <= len));
        proptest::sample::select(regions).prop_flat_map(|r| r)
    })
}

fn config() -> Config {
    Config {
        cases: 512,
        // Failures are reported with their minimal input; nothing is written to the
        // source tree.
        failure_persistence: None,
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// One byte, XORed with a non-zero mask.
    #[test]
    fn tamper_one_byte_is_refused(at in position(LAYOUT.with(|l| l.bytes.len())), mask in 1u8..) {
        LAYOUT.with(|layout| {
            let mut bytes = layout.bytes.clone();
            bytes[at] ^= mask;
            check(layout, &bytes, &[at])
        })?;
    }

    /// A run of up to 64 bytes, each XORed with a non-zero mask, possibly across regions.
    #[test]
    fn tamper_a_run_of_bytes_is_refused(
        start in position(LAYOUT.with(|l| l.bytes.len())),
        masks in proptest::collection::vec(1u8.., 1..64),
    ) {
        LAYOUT.with(|layout| {
            let end = (start + masks.len()).min(layout.bytes.len());
            let mut bytes = layout.bytes.clone();
            for (byte, mask) in bytes[start..end].iter_mut().zip(&masks) {
                *byte ^= mask;
            }
            let changed: Vec<usize> = (start..end).collect();
            check(layout, &bytes, &changed)
        })?;
    }

    /// The package cut short anywhere: the error follows from where the cut falls.
    #[test]
    fn truncated_package_is_refused(len in 0..LAYOUT.with(|l| l.bytes.len())) {
        LAYOUT.with(|layout| {
            let error = verify_package(&layout.bytes[..len], Some("add-header"), &trust())
                .err()
                .ok_or_else(|| TestCaseError::fail(format!("cut at {len} verified")))?;
            let boundary = |at: usize| layout.headers.iter().any(|h| h.start == at);
            let in_header = layout.headers.iter().any(|h| h.start < len && len < h.end);
            let ok = match len {
                0..10 => matches!(error, VerifyError::Package(PackageError::TooShort { size, .. }) if size == len),
                10 => matches!(error, VerifyError::Package(PackageError::MissingSection { section: "manifest" })),
                _ if in_header => matches!(error, VerifyError::Package(PackageError::TrailingBytes { offset, .. }) if len - offset < 5),
                _ if len == layout.headers[1].start => {
                    matches!(error, VerifyError::Package(PackageError::MissingSection { section: "component" }))
                }
                // After the component or the first signature: fewer signatures than
                // the threshold of two.
                _ if boundary(len) => matches!(error, VerifyError::Trust(TrustError::ThresholdNotMet { required: 2, .. })),
                _ => matches!(error, VerifyError::Package(PackageError::SectionPastEnd { .. })),
            };
            prop_assert!(ok, "cut at {len}: unexpected error {error}");
            Ok(())
        })?;
    }

    /// Bytes appended after the last signature.
    #[test]
    fn appended_bytes_are_refused(extra in proptest::collection::vec(any::<u8>(), 1..200)) {
        LAYOUT.with(|layout| {
            let mut bytes = layout.bytes.clone();
            bytes.extend_from_slice(&extra);
            let error = verify_package(&bytes, Some("add-header"), &trust())
                .err()
                .ok_or_else(|| TestCaseError::fail("verified with bytes appended"))?;
            if extra.len() < 5 {
                prop_assert!(
                    matches!(error, VerifyError::Package(PackageError::TrailingBytes { count, .. }) if count == extra.len()),
                    "{error}"
                );
            }
            Ok(())
        })?;
    }
}

#[test]
fn the_untampered_package_verifies() {
    LAYOUT.with(|layout| {
        let info = verify_package(&layout.bytes, Some("add-header"), &trust()).unwrap();
        assert_eq!(info.signers.len(), 2);
        assert_eq!(layout.signatures.len(), 2);
    });
}
