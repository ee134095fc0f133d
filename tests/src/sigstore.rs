//! A sigstore deployment in miniature, for tests that reach no network: a
//! Fulcio-like CA issuing short-lived code-signing certificates with an OIDC issuer
//! extension and an e-mail or URI identity, a Rekor-like log with its own key that
//! keeps a real RFC 6962 Merkle tree and signs checkpoints and signed entry
//! timestamps, the `trusted_root.json` naming both, and cosign-style bundles
//! (hashedrekord v0.0.1, bundle v0.3) over any bytes.
//!
//! Everything is built the way the real services build it, so that a test that
//! accepts one of these bundles would accept cosign's, and a tampered one fails in
//! the check it targets.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, CustomExtension, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, PublicKeyData, SanType,
    SigningKey,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Seconds since the Unix epoch, now.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn at(unix: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(unix).expect("a representable time")
}

/// A Fulcio-like certificate authority (one self-signed root, as in a private
/// deployment).
pub struct Fulcio {
    ca: CertifiedIssuer<'static, KeyPair>,
}

impl Fulcio {
    /// A new CA, valid from 2020 to 2100, with its own P-256 key.
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "palisade tests");
        dn.push(DnType::CommonName, name);
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = at(1_577_836_800);
        params.not_after = at(4_102_444_800);
        let key = KeyPair::generate().expect("a P-256 key");
        Self {
            ca: CertifiedIssuer::self_signed(params, key).expect("a self-signed CA"),
        }
    }

    /// The CA certificate, DER.
    pub fn der(&self) -> Vec<u8> {
        self.ca.der().to_vec()
    }
}

/// Where a test signer's certificate puts the OIDC issuer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IssuerExtension {
    /// `1.3.6.1.4.1.57264.1.8`, a DER UTF8String (what Fulcio writes today).
    V2,
    /// `1.3.6.1.4.1.57264.1.1`, the raw string (legacy).
    V1,
    /// Both, as Fulcio wrote for a while.
    Both,
    /// Both, naming different issuers (`.1.1` says `https://other.test`): a
    /// certificate no Fulcio would issue.
    Disagreeing,
    /// Neither: not a Fulcio certificate.
    None,
}

/// Who signs, and when: the certificate's identity and validity, and when the log
/// integrates the entry. Times are Unix seconds.
#[derive(Clone, Debug)]
pub struct Signer {
    /// The OIDC issuer.
    pub issuer: String,
    /// The identity: an e-mail (contains `@` and no `:`) or a URI.
    pub subject: String,
    /// Which issuer extension(s) the certificate carries.
    pub issuer_extension: IssuerExtension,
    /// The certificate's notBefore.
    pub not_before: i64,
    /// The certificate's notAfter (Fulcio: ten minutes later).
    pub not_after: i64,
    /// The log's integrated time for the entry.
    pub integrated_time: i64,
    /// Build Signer URI (`1.3.6.1.4.1.57264.1.9`), the workflow that signed.
    pub build_signer_uri: Option<String>,
    /// Source Repository URI (`1.3.6.1.4.1.57264.1.12`).
    pub source_repository_uri: Option<String>,
    /// Source Repository Ref (`1.3.6.1.4.1.57264.1.14`).
    pub source_repository_ref: Option<String>,
    /// Build Config URI (`1.3.6.1.4.1.57264.1.18`), the workflow that started the run.
    pub build_config_uri: Option<String>,
}

impl Signer {
    /// `subject` at `issuer`, with a ten-minute certificate that expired a little
    /// while ago and an entry logged while it was valid (as for any real bundle).
    /// A workflow subject (`https://host/org/repo/.github/workflows/f.yml@ref`)
    /// gets the claims Fulcio writes for a workflow that is not reusable: build
    /// signer and build config both the subject, source repository
    /// `https://host/org/repo`, source ref `ref`; any other subject gets none.
    pub fn new(issuer: &str, subject: &str) -> Self {
        let now = now();
        let workflow = subject
            .rsplit_once('@')
            .and_then(|(path, reference)| {
                let (repository, _) = path.split_once("/.github/")?;
                Some((repository.to_owned(), reference.to_owned()))
            })
            .filter(|_| subject.contains("://"));
        let (repository, reference) = workflow.unzip();
        let uri = repository.as_ref().map(|_| subject.to_owned());
        Self {
            issuer: issuer.into(),
            subject: subject.into(),
            issuer_extension: IssuerExtension::V2,
            not_before: now - 900,
            not_after: now - 300,
            integrated_time: now - 600,
            build_signer_uri: uri.clone(),
            source_repository_uri: repository,
            source_repository_ref: reference,
            build_config_uri: uri,
        }
    }
}

/// A Rekor-like transparency log: a P-256 key, its log id (SHA-256 of the key's
/// SubjectPublicKeyInfo), and the leaves logged so far.
pub struct Rekor {
    key: KeyPair,
    leaves: Vec<Vec<u8>>,
}

impl Rekor {
    /// A new log with a few unrelated entries already in it, so that proofs have
    /// siblings on both sides.
    pub fn new() -> Self {
        Self {
            key: KeyPair::generate().expect("a P-256 key"),
            leaves: (0..5u8).map(|i| vec![b'x', i]).collect(),
        }
    }

    /// The log id: SHA-256 of the key's SubjectPublicKeyInfo.
    pub fn log_id(&self) -> [u8; 32] {
        Sha256::digest(self.key.subject_public_key_info()).into()
    }

    fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.key.sign(message).expect("an ECDSA signature")
    }
}

impl Default for Rekor {
    fn default() -> Self {
        Self::new()
    }
}

/// A `trusted_root.json` trusting `cas` and `logs` (no CT logs: SCTs not checked).
pub fn trusted_root(cas: &[&Fulcio], logs: &[&Rekor]) -> String {
    let valid_for = json!({ "start": "2020-01-01T00:00:00Z" });
    let tlogs: Vec<Value> = logs
        .iter()
        .map(|log| {
            json!({
                "baseUrl": "https://rekor.test",
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": B64.encode(log.key.subject_public_key_info()),
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                    "validFor": valid_for,
                },
                "logId": { "keyId": B64.encode(log.log_id()) },
            })
        })
        .collect();
    let authorities: Vec<Value> = cas
        .iter()
        .map(|ca| {
            json!({
                "subject": { "organization": "palisade tests", "commonName": "fulcio" },
                "uri": "https://fulcio.test",
                "certChain": { "certificates": [{ "rawBytes": B64.encode(ca.der()) }] },
                "validFor": valid_for,
            })
        })
        .collect();
    json!({
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs": tlogs,
        "certificateAuthorities": authorities,
        "ctlogs": [],
        "timestampAuthorities": [],
    })
    .to_string()
}

/// DER of a UTF8String (up to 64 KiB, as for a URL).
fn der_utf8(text: &str) -> Vec<u8> {
    let mut out = vec![0x0c];
    let len = text.len();
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x100 {
        out.extend_from_slice(&[0x81, len as u8]);
    } else {
        let len = u16::try_from(len).expect("a UTF8String under 64 KiB");
        out.push(0x82);
        out.extend_from_slice(&len.to_be_bytes());
    }
    out.extend_from_slice(text.as_bytes());
    out
}

/// A short-lived leaf certificate for `signer`, issued by `ca`, and its key.
pub fn leaf(ca: &Fulcio, signer: &Signer) -> (Vec<u8>, KeyPair) {
    let key = KeyPair::generate().expect("a P-256 key");
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.not_before = at(signer.not_before);
    params.not_after = at(signer.not_after);
    let name = signer.subject.clone().try_into().expect("an IA5 identity");
    params.subject_alt_names = vec![if signer.subject.contains(':') {
        SanType::URI(name)
    } else {
        SanType::Rfc822Name(name)
    }];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
    let v1 = CustomExtension::from_oid_content(
        &[1, 3, 6, 1, 4, 1, 57264, 1, 1],
        signer.issuer.as_bytes().to_vec(),
    );
    let v2 = CustomExtension::from_oid_content(
        &[1, 3, 6, 1, 4, 1, 57264, 1, 8],
        der_utf8(&signer.issuer),
    );
    params.custom_extensions = match signer.issuer_extension {
        IssuerExtension::V1 => vec![v1],
        IssuerExtension::V2 => vec![v2],
        IssuerExtension::Both => vec![v1, v2],
        IssuerExtension::Disagreeing => vec![
            CustomExtension::from_oid_content(
                &[1, 3, 6, 1, 4, 1, 57264, 1, 1],
                b"https://other.test".to_vec(),
            ),
            v2,
        ],
        IssuerExtension::None => Vec::new(),
    };
    // Fulcio's CI claims, DER UTF8Strings like the `.1.8` issuer.
    for (arc, value) in [
        (9, &signer.build_signer_uri),
        (12, &signer.source_repository_uri),
        (14, &signer.source_repository_ref),
        (18, &signer.build_config_uri),
    ] {
        if let Some(value) = value {
            params
                .custom_extensions
                .push(CustomExtension::from_oid_content(
                    &[1, 3, 6, 1, 4, 1, 57264, 1, arc],
                    der_utf8(value),
                ));
        }
    }
    let cert = params.signed_by(&key, &ca.ca).expect("a leaf certificate");
    (cert.der().to_vec(), key)
}

fn hash_leaf(data: &[u8]) -> [u8; 32] {
    Sha256::new()
        .chain_update([0u8])
        .chain_update(data)
        .finalize()
        .into()
}

fn hash_children(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    Sha256::new()
        .chain_update([1u8])
        .chain_update(left)
        .chain_update(right)
        .finalize()
        .into()
}

/// RFC 6962's MTH over leaf hashes.
fn tree_hash(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves.len() {
        0 => Sha256::digest([]).into(),
        1 => leaves[0],
        n => {
            let k = split(n);
            hash_children(&tree_hash(&leaves[..k]), &tree_hash(&leaves[k..]))
        }
    }
}

/// The largest power of two smaller than `n` (n > 1).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// RFC 6962's PATH(m, D[n]): the audit path for leaf `m`.
fn audit_path(m: usize, leaves: &[[u8; 32]]) -> Vec<[u8; 32]> {
    let n = leaves.len();
    if n <= 1 {
        return Vec::new();
    }
    let k = split(n);
    if m < k {
        let mut path = audit_path(m, &leaves[..k]);
        path.push(tree_hash(&leaves[k..]));
        path
    } else {
        let mut path = audit_path(m - k, &leaves[k..]);
        path.push(tree_hash(&leaves[..k]));
        path
    }
}

/// A bundle (JSON) over `artifact`, by `signer` with a certificate from `ca`, logged
/// in `log` with an inclusion proof, a signed checkpoint and a signed entry timestamp.
pub fn bundle(ca: &Fulcio, log: &mut Rekor, signer: &Signer, artifact: &[u8]) -> String {
    let (cert, key) = leaf(ca, signer);
    let digest: [u8; 32] = Sha256::digest(artifact).into();
    let signature = key.sign(artifact).expect("an ECDSA signature");
    let cert_pem = pem_certificate(&cert);
    // hashedrekord v0.0.1, in canonical JSON (keys sorted, no spaces).
    let body = format!(
        r#"{{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{{"data":{{"hash":{{"algorithm":"sha256","value":"{}"}}}},"signature":{{"content":"{}","publicKey":{{"content":"{}"}}}}}}}}"#,
        hex::encode(digest),
        B64.encode(&signature),
        B64.encode(cert_pem.as_bytes()),
    );
    log.leaves.push(body.clone().into_bytes());
    let index = log.leaves.len() - 1;
    // One more entry after ours, so that the proof is not a right edge.
    log.leaves.push(b"later".to_vec());
    let hashes: Vec<[u8; 32]> = log.leaves.iter().map(|l| hash_leaf(l)).collect();
    let root = tree_hash(&hashes);
    let path = audit_path(index, &hashes);
    let log_id = log.log_id();
    let checkpoint_body = format!("rekor.test - 1\n{}\n{}\n", hashes.len(), B64.encode(root));
    let mut note_signature = log_id[..4].to_vec();
    note_signature.extend(log.sign(checkpoint_body.as_bytes()));
    let checkpoint = format!(
        "{checkpoint_body}\n\u{2014} rekor.test {}\n",
        B64.encode(note_signature)
    );
    // The signed entry timestamp: canonical JSON of body, time, index and log id.
    let set_payload = format!(
        r#"{{"body":"{}","integratedTime":{},"logID":"{}","logIndex":{}}}"#,
        B64.encode(body.as_bytes()),
        signer.integrated_time,
        hex::encode(log_id),
        index
    );
    let set = log.sign(set_payload.as_bytes());
    json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {
            "certificate": { "rawBytes": B64.encode(&cert) },
            "tlogEntries": [{
                "logIndex": index.to_string(),
                "logId": { "keyId": B64.encode(log_id) },
                "kindVersion": { "kind": "hashedrekord", "version": "0.0.1" },
                "integratedTime": signer.integrated_time.to_string(),
                "inclusionPromise": { "signedEntryTimestamp": B64.encode(set) },
                "inclusionProof": {
                    "logIndex": index.to_string(),
                    "rootHash": B64.encode(root),
                    "treeSize": hashes.len().to_string(),
                    "hashes": path.iter().map(|h| B64.encode(h)).collect::<Vec<_>>(),
                    "checkpoint": { "envelope": checkpoint },
                },
                "canonicalizedBody": B64.encode(body.as_bytes()),
            }],
        },
        "messageSignature": {
            "messageDigest": { "algorithm": "SHA2_256", "digest": B64.encode(digest) },
            "signature": B64.encode(&signature),
        },
    })
    .to_string()
}

/// The same bundle JSON with `edit` applied to its parsed value.
pub fn edit(bundle: &str, edit: impl FnOnce(&mut Value)) -> String {
    let mut value: Value = serde_json::from_str(bundle).expect("a bundle from `bundle`");
    edit(&mut value);
    value.to_string()
}

/// The first log entry of a parsed bundle.
pub fn entry(bundle: &mut Value) -> &mut Value {
    &mut bundle["verificationMaterial"]["tlogEntries"][0]
}

/// Signs `message` with the log's key (to forge or re-sign parts in tests).
pub fn log_signature(log: &Rekor, message: &[u8]) -> Vec<u8> {
    log.sign(message)
}

fn pem_certificate(der: &[u8]) -> String {
    let body = B64.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in body.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The audit path leads back to the tree hash, for every leaf of every size
    /// up to 20 (RFC 6962 section 2.1.1, checked against itself the long way).
    #[test]
    fn audit_paths_lead_to_the_root() {
        for n in 1..=20usize {
            let leaves: Vec<[u8; 32]> = (0..n).map(|i| hash_leaf(&[i as u8])).collect();
            let root = tree_hash(&leaves);
            for m in 0..n {
                let mut hash = leaves[m];
                let (mut index, mut last) = (m, n - 1);
                for sibling in audit_path(m, &leaves) {
                    // RFC 9162 section 2.1.3.2.
                    if index % 2 == 1 || index == last {
                        hash = hash_children(&sibling, &hash);
                        while index % 2 == 0 && index != 0 {
                            index /= 2;
                            last /= 2;
                        }
                    } else {
                        hash = hash_children(&hash, &sibling);
                    }
                    index /= 2;
                    last /= 2;
                }
                assert_eq!(hash, root, "n={n} m={m}");
            }
        }
    }
}
