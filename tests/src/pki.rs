//! A throwaway certificate authority, made at run time with `rcgen`: certificates
//! for SPIFFE-style URI identities or DNS names, usable for both TLS directions.

use palisade::transport::{Pem, TlsMaterial};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};

/// Why a certificate could not be made.
pub type Error = rcgen::Error;

/// A certificate authority with its key in memory.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A certificate and its private key, as PEM text.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The certificate (leaf only).
    pub cert_pem: String,
    /// Its PKCS#8 private key.
    pub key_pem: String,
}

impl TestCa {
    /// A new CA named `name` (ECDSA P-256).
    pub fn new(name: &str) -> Result<Self, Error> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate()?)?;
        Ok(Self { issuer })
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> String {
        self.issuer.pem()
    }

    /// A leaf certificate for `identity`: a URI SAN if it contains `://` (a SPIFFE ID),
    /// a DNS SAN otherwise; with both `serverAuth` and `clientAuth` usages.
    pub fn issue(&self, identity: &str) -> Result<Issued, Error> {
        self.issue_names(&[identity])
    }

    /// A leaf certificate carrying every one of `identities` as a SAN.
    pub fn issue_names(&self, identities: &[&str]) -> Result<Issued, Error> {
        let mut sans = Vec::new();
        for identity in identities {
            sans.push(if identity.contains("://") {
                SanType::URI((*identity).try_into()?)
            } else {
                SanType::DnsName((*identity).try_into()?)
            });
        }
        self.issue_sans(sans, identities.first().copied())
    }

    /// A leaf certificate whose only SAN is a DNS name with the text `name`, whatever
    /// it looks like (`spiffe://demo/admin` included: what a careless or hostile
    /// issuance request would get signed).
    pub fn issue_dns_san(&self, name: &str) -> Result<Issued, Error> {
        self.issue_sans(vec![SanType::DnsName(name.try_into()?)], Some(name))
    }

    fn issue_sans(&self, sans: Vec<SanType>, common_name: Option<&str>) -> Result<Issued, Error> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.subject_alt_names = sans;
        if let Some(first) = common_name {
            params.distinguished_name.push(DnType::CommonName, first);
        }
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// TLS material for `identity`, trusting this CA, all in memory.
    pub fn material(&self, identity: &str) -> Result<TlsMaterial, Error> {
        let issued = self.issue(identity)?;
        Ok(TlsMaterial {
            cert: Pem::bytes(issued.cert_pem),
            key: Pem::bytes(issued.key_pem),
            ca: Pem::bytes(self.cert_pem()),
        })
    }
}
