//! Sigstore signer identities and the operator's identity policies: which OIDC
//! issuer and subject a keyless signature must carry to count.
//!
//! Palisade evaluates these itself instead of using a library's policy type: the
//! `sigstore` crate's `AnyOf` (0.15.0) passes only when *every* child passes and
//! passes when it has none. Here the empty cases are decided explicitly and tested:
//! an empty [`IdentityPolicy::any_of`] matches nothing, and an empty
//! [`IdentityPolicy::all_of`] cannot be built.

use std::fmt;

use crate::verify::error::TrustPolicyError;
use palisade_types::Untrusted;

/// Who made a sigstore signature, as its Fulcio certificate states it: the OIDC
/// issuer (extension `1.3.6.1.4.1.57264.1.8`, or the legacy `.1.1`), the subject
/// (the certificate's one e-mail or URI Subject Alternative Name), and the CI
/// claims identity policies can constrain.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SignerIdentity {
    /// The OIDC issuer, e.g. `https://token.actions.githubusercontent.com`.
    pub issuer: String,
    /// The subject, e.g. `https://github.com/org/repo/.github/workflows/release.yml@refs/tags/v1.0.0`.
    /// For GitHub Actions this is the workflow file that *ran*, which for a reusable
    /// workflow is the called file, whoever called it: see [`SignerClaims`].
    pub subject: String,
    /// Fulcio's claims about the build, when the certificate carries them (boxed:
    /// the identity travels in errors, which stay small).
    pub claims: Box<SignerClaims>,
}

impl SignerIdentity {
    /// `subject` at `issuer`, with no CI claims (as for an e-mail identity).
    pub fn new(issuer: impl Into<String>, subject: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            subject: subject.into(),
            claims: Box::default(),
        }
    }
}

impl fmt::Display for SignerIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (issuer {})", self.subject, self.issuer)
    }
}

/// Fulcio's claims about a CI build, read from the certificate's extensions (DER
/// UTF8Strings); `None` when the certificate does not carry one (e-mail identities
/// carry none). The subject names the workflow *file* that ran; these say which
/// repository and ref it ran for and which workflow started the run.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SignerClaims {
    /// Build Signer URI, `1.3.6.1.4.1.57264.1.9`: the workflow that signed (the
    /// called file, for a reusable workflow), e.g.
    /// `https://github.com/org/shared/.github/workflows/build.yml@refs/tags/v1`.
    pub build_signer_uri: Option<String>,
    /// Source Repository URI, `1.3.6.1.4.1.57264.1.12`: the repository the run was
    /// for, e.g. `https://github.com/org/repo`.
    pub source_repository_uri: Option<String>,
    /// Source Repository Ref, `1.3.6.1.4.1.57264.1.14`: the ref the run was for,
    /// e.g. `refs/tags/v1.0.0`.
    pub source_repository_ref: Option<String>,
    /// Build Config URI, `1.3.6.1.4.1.57264.1.18`: the top-level workflow that
    /// started the run. It differs from the build signer exactly when the signer is
    /// a reusable workflow called from it.
    pub build_config_uri: Option<String>,
}

/// A pattern over a git ref (`refs/heads/main`, `refs/tags/*`): exact, or a
/// prefix ending in `/` written with a trailing `*`, matched by whole segments.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefPattern {
    /// The ref is exactly this.
    Exact(String),
    /// The ref continues this (which ends in `/`) with one or more clean segments.
    Prefix(String),
}

/// Whether `text` is a ref made of clean segments (`refs/…`, no empty, `.` or `..`
/// segment, no `*`, no space or control character).
fn clean_ref(text: &str) -> bool {
    text.starts_with("refs/")
        && !text.contains(|c: char| c.is_whitespace() || c.is_control() || c == '*' || c == '\\')
        && text
            .split('/')
            .all(|segment| !matches!(segment, "" | "." | ".."))
}

impl RefPattern {
    /// Parses `refs/heads/main` or `refs/tags/*`. Refused: a ref that does not start
    /// with `refs/`, a `*` other than one after a final `/`, and empty, `.` or `..`
    /// segments.
    pub fn parse(text: &str) -> Result<Self, TrustPolicyError> {
        let invalid = |reason: &str| TrustPolicyError::InvalidIdentity {
            value: text.to_owned(),
            reason: reason.to_owned(),
        };
        let (pattern, prefix) = match text.strip_suffix("/*") {
            Some(pattern) => (pattern, true),
            None => (text, false),
        };
        if !clean_ref(pattern) {
            return Err(invalid(
                "a ref is `refs/…` with no empty, `.` or `..` segment, and `*` only after a final `/` (`refs/tags/*`)",
            ));
        }
        Ok(if prefix {
            Self::Prefix(format!("{pattern}/"))
        } else {
            Self::Exact(pattern.to_owned())
        })
    }

    /// Whether `reference` matches.
    pub fn matches(&self, reference: &str) -> bool {
        match self {
            Self::Exact(expected) => reference == expected,
            Self::Prefix(prefix) => {
                reference.len() > prefix.len()
                    && reference.starts_with(prefix.as_str())
                    && clean_ref(reference)
            }
        }
    }
}

impl fmt::Display for RefPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(reference) => f.write_str(reference),
            Self::Prefix(prefix) => write!(f, "{prefix}*"),
        }
    }
}

/// How an [`Identity`] matches a signer's subject.
///
/// Matching is by path segment, never by character: a prefix ends in `/` (written
/// `prefix*` in the config), and matches only subjects that continue it with
/// whole, clean segments. Rules, each refused by [`SubjectPattern::parse`] with its
/// reason:
///
/// - An **e-mail** subject (`alice@example.com`) is matched exactly: `alice@*` would
///   match `alice@attacker.example`.
/// - A **URI** subject (`https://github.com/org/repo/.github/workflows/release.yml@refs/tags/v1`)
///   may end in `/*` after its host and at least one path segment
///   (`https://github.com/org/*`, `…/release.yml@refs/tags/*`). `…@*` (any branch or
///   tag of a workflow) is refused: name the ref.
/// - `.` and `..` segments, percent-encoded `.`, `/` or `\`, a `\`, spaces and
///   control characters are refused in every pattern, and a prefix pattern may not
///   have an empty segment (`//`). An exact pattern may: GitLab's subjects
///   (`…/project//.gitlab-ci.yml@refs/heads/main`) have one.
/// - A prefix matches a subject only if the subject has no `.`, `..` or empty
///   segment and nothing percent-encoded that would decode to a separator, so
///   `https://github.com/org/*` cannot match `https://github.com/org/../org-evil/x`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubjectPattern {
    /// The subject is exactly this string.
    Exact(String),
    /// The subject continues this string, which ends in `/`, with one or more
    /// clean segments (written `prefix*` in the config).
    Prefix(String),
}

/// What kind of subject a pattern names, which decides the forms it may take.
enum SubjectKind<'a> {
    /// `scheme://rest`.
    Uri { rest: &'a str },
    /// `local@domain` (no scheme).
    Email,
    /// Anything else (compared exactly).
    Other,
}

fn subject_kind(text: &str) -> SubjectKind<'_> {
    if let Some((scheme, rest)) = text.split_once("://")
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return SubjectKind::Uri { rest };
    }
    if text.contains('@') {
        SubjectKind::Email
    } else {
        SubjectKind::Other
    }
}

/// Why the URI text after `scheme://` is not made of clean segments (split at `/`
/// and `@`), or `None`. Empty segments are refused only with `allow_empty` false.
fn unclean_segment(rest: &str, allow_empty: bool) -> Option<&'static str> {
    let lower = rest.to_ascii_lowercase();
    if ["%2e", "%2f", "%5c"].iter().any(|e| lower.contains(e)) || rest.contains('\\') {
        return Some("a percent-encoded `.`, `/` or `\\`, or a `\\`, is refused in a subject");
    }
    let mut segments = rest.split(['/', '@']);
    if segments.next().is_none_or(str::is_empty) {
        return Some("a URI subject names a host after `://`");
    }
    for segment in segments {
        match segment {
            "." | ".." => return Some("`.` and `..` segments are refused in a subject"),
            "" if !allow_empty => {
                return Some("an empty segment (`//`) is refused in a subject prefix");
            }
            _ => {}
        }
    }
    None
}

impl SubjectPattern {
    /// Parses the config's form: a trailing `*` makes a [`SubjectPattern::Prefix`]
    /// (URI subjects only, after a `/`); see the type's rules for what is refused.
    pub fn parse(text: &str) -> Result<Self, TrustPolicyError> {
        let invalid = |reason: &str| TrustPolicyError::InvalidIdentity {
            value: text.to_owned(),
            reason: reason.to_owned(),
        };
        if text.is_empty() {
            return Err(invalid("the subject is empty"));
        }
        if text.contains(|c: char| c.is_whitespace() || c.is_control()) {
            return Err(invalid("a subject has no spaces or control characters"));
        }
        let (pattern, prefix) = match text.strip_suffix('*') {
            Some(pattern) => (pattern, true),
            None => (text, false),
        };
        if pattern.contains('*') {
            return Err(invalid("`*` may only end a subject (a prefix match), once"));
        }
        if prefix && pattern.is_empty() {
            return Err(invalid(
                "a bare `*` would trust every subject of the issuer",
            ));
        }
        match subject_kind(pattern) {
            SubjectKind::Email if prefix => Err(invalid(
                "an e-mail subject is matched exactly: `alice@*` would match `alice@attacker.example`",
            )),
            SubjectKind::Other if prefix => Err(invalid(
                "a prefix (`*`) is only for URI subjects (`https://host/org/*`)",
            )),
            SubjectKind::Email | SubjectKind::Other => Ok(Self::Exact(text.to_owned())),
            SubjectKind::Uri { rest } => {
                if !prefix {
                    return match unclean_segment(rest, true) {
                        Some(reason) => Err(invalid(reason)),
                        None => Ok(Self::Exact(text.to_owned())),
                    };
                }
                if pattern.ends_with('@') {
                    return Err(invalid(
                        "`@*` would match every branch and tag of the workflow, including one \
                         anyone who can push may create; name the ref (`@refs/tags/*`, \
                         `@refs/heads/main`)",
                    ));
                }
                let Some(rest) = rest.strip_suffix('/') else {
                    return Err(invalid(
                        "a prefix must end in `/` before the `*`, so that `repo*` cannot match `repo-evil`",
                    ));
                };
                if let Some(reason) = unclean_segment(rest, false) {
                    return Err(invalid(reason));
                }
                // The host and at least one segment: `https://github.com/*` would
                // trust every repository of the forge.
                if rest.split(['/', '@']).count() < 2 {
                    return Err(invalid(
                        "a prefix names the host and at least one path segment (`https://host/org/*`)",
                    ));
                }
                Ok(Self::Prefix(pattern.to_owned()))
            }
        }
    }

    /// Whether `subject` matches.
    pub fn matches(&self, subject: &str) -> bool {
        match self {
            Self::Exact(expected) => subject == expected,
            Self::Prefix(prefix) => {
                subject.len() > prefix.len()
                    && subject.starts_with(prefix.as_str())
                    && !subject.contains(|c: char| c.is_whitespace() || c.is_control())
                    && match subject_kind(subject) {
                        SubjectKind::Uri { rest } => unclean_segment(rest, false).is_none(),
                        SubjectKind::Email | SubjectKind::Other => false,
                    }
            }
        }
    }
}

impl fmt::Display for SubjectPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(subject) => f.write_str(subject),
            Self::Prefix(prefix) => write!(f, "{prefix}*"),
        }
    }
}

/// One trusted identity: an exact OIDC issuer, a subject pattern, and optionally
/// constraints on the certificate's CI claims ([`SignerClaims`]).
///
/// Whatever the constraints, a certificate whose build config (`…1.18`) differs
/// from its build signer (`…1.9`), a reusable workflow called from another
/// workflow, is refused unless the identity
/// [allows reusable workflows](Self::allowing_reusable_workflow), which requires it
/// to name the source repository: a public reusable workflow's subject is the same
/// whoever calls it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    issuer: String,
    subject: SubjectPattern,
    source_repository: Option<SubjectPattern>,
    source_ref: Option<RefPattern>,
    build_config: Option<SubjectPattern>,
    reusable_workflow: bool,
}

impl Identity {
    /// The identity `subject` at `issuer`. The issuer must be an `https://` URL
    /// (every OIDC issuer is) and is compared exactly.
    pub fn new(
        issuer: impl Into<String>,
        subject: SubjectPattern,
    ) -> Result<Self, TrustPolicyError> {
        let issuer = issuer.into();
        let rest = issuer.strip_prefix("https://").unwrap_or_default();
        if rest.is_empty() || rest.contains(char::is_whitespace) {
            return Err(TrustPolicyError::InvalidIdentity {
                value: issuer,
                reason: "an OIDC issuer is an https:// URL".into(),
            });
        }
        Ok(Self {
            issuer,
            subject,
            source_repository: None,
            source_ref: None,
            build_config: None,
            reusable_workflow: false,
        })
    }

    /// Also requires the Source Repository URI (`1.3.6.1.4.1.57264.1.12`) to match
    /// `repository`, e.g. `https://github.com/org/repo` (or `https://github.com/org/*`).
    pub fn with_source_repository(mut self, repository: SubjectPattern) -> Self {
        self.source_repository = Some(repository);
        self
    }

    /// Also requires the Source Repository Ref (`1.3.6.1.4.1.57264.1.14`) to match
    /// `reference`, e.g. `refs/heads/main` or `refs/tags/*`.
    pub fn with_source_ref(mut self, reference: RefPattern) -> Self {
        self.source_ref = Some(reference);
        self
    }

    /// Also requires the Build Config URI (`1.3.6.1.4.1.57264.1.18`), the workflow
    /// that started the run, to match `config`.
    pub fn with_build_config(mut self, config: SubjectPattern) -> Self {
        self.build_config = Some(config);
        self
    }

    /// Accepts a certificate whose build config differs from its build signer (the
    /// subject is a reusable workflow, called from the build config). Refused
    /// unless a [source repository](Self::with_source_repository) is required first:
    /// without one, every repository that calls the workflow would be trusted.
    pub fn allowing_reusable_workflow(mut self) -> Result<Self, TrustPolicyError> {
        if self.source_repository.is_none() {
            return Err(TrustPolicyError::InvalidIdentity {
                value: self.subject.to_string(),
                reason: "allowing a reusable workflow needs a source repository: a reusable \
                         workflow's subject is the same whoever calls it"
                    .into(),
            });
        }
        self.reusable_workflow = true;
        Ok(self)
    }

    /// The issuer.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The subject pattern.
    pub fn subject(&self) -> &SubjectPattern {
        &self.subject
    }

    fn matches(&self, signer: &SignerIdentity) -> bool {
        self.names(signer) && self.check_claims(&signer.claims).is_ok()
    }

    /// Whether the issuer and subject match (the claims aside).
    fn names(&self, signer: &SignerIdentity) -> bool {
        signer.issuer == self.issuer && self.subject.matches(&signer.subject)
    }

    /// Why `claims` do not satisfy this identity's constraints, if they do not.
    fn check_claims(&self, claims: &SignerClaims) -> Result<(), String> {
        let (config, signer) = (&claims.build_config_uri, &claims.build_signer_uri);
        if (config.is_some() || signer.is_some()) && config != signer && !self.reusable_workflow {
            return Err(format!(
                "the build config ({OID_BUILD_CONFIG}) {} is not the build signer \
                 ({OID_BUILD_SIGNER}) {}: a reusable workflow called from another workflow, \
                 trusted only with `allow_reusable_workflow` and a `source_repository`",
                shown(config),
                shown(signer)
            ));
        }
        let claim = |name: &str,
                     oid: &str,
                     value: &Option<String>,
                     matches: &dyn Fn(&str) -> bool,
                     pattern: &dyn fmt::Display| {
            match value {
                Some(value) if matches(value) => Ok(()),
                Some(value) => Err(format!(
                    "the {name} ({oid}) is {:?}, not {pattern}",
                    Untrusted(value)
                )),
                None => Err(format!(
                    "the certificate names no {name} ({oid}), and {pattern} is required"
                )),
            }
        };
        if let Some(pattern) = &self.source_repository {
            claim(
                "source repository",
                OID_SOURCE_REPOSITORY,
                &claims.source_repository_uri,
                &|v| pattern.matches(v),
                pattern,
            )?;
        }
        if let Some(pattern) = &self.source_ref {
            claim(
                "source ref",
                OID_SOURCE_REF,
                &claims.source_repository_ref,
                &|v| pattern.matches(v),
                pattern,
            )?;
        }
        if let Some(pattern) = &self.build_config {
            claim(
                "build config",
                OID_BUILD_CONFIG,
                &claims.build_config_uri,
                &|v| pattern.matches(v),
                pattern,
            )?;
        }
        Ok(())
    }
}

/// Fulcio's Build Signer URI extension.
pub(crate) const OID_BUILD_SIGNER: &str = "1.3.6.1.4.1.57264.1.9";
/// Fulcio's Source Repository URI extension.
pub(crate) const OID_SOURCE_REPOSITORY: &str = "1.3.6.1.4.1.57264.1.12";
/// Fulcio's Source Repository Ref extension.
pub(crate) const OID_SOURCE_REF: &str = "1.3.6.1.4.1.57264.1.14";
/// Fulcio's Build Config URI extension.
pub(crate) const OID_BUILD_CONFIG: &str = "1.3.6.1.4.1.57264.1.18";

/// A claim from the certificate, quoted and escaped (it is the signer's text).
fn shown(value: &Option<String>) -> String {
    value
        .as_deref()
        .map_or_else(|| "(absent)".to_owned(), |v| format!("{:?}", Untrusted(v)))
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (issuer {}", self.subject, self.issuer)?;
        if let Some(repository) = &self.source_repository {
            write!(f, ", source repository {repository}")?;
        }
        if let Some(reference) = &self.source_ref {
            write!(f, ", source ref {reference}")?;
        }
        if let Some(config) = &self.build_config {
            write!(f, ", build config {config}")?;
        }
        if self.reusable_workflow {
            f.write_str(", reusable workflow allowed")?;
        }
        f.write_str(")")
    }
}

/// Which signer identities an operator trusts: an [`Identity`], or a combination.
/// What a verified bundle proved.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BundleSigner {
    /// Who signed.
    pub identity: SignerIdentity,
    /// The Rekor log index of the signature's entry (the first one, if several).
    pub log_index: Option<u64>,
    /// When the log integrated the entry (Unix seconds), from a verified signed
    /// entry timestamp; `None` when the signing time came from an RFC 3161 timestamp.
    pub integrated_time: Option<i64>,
}

impl BundleSigner {
    /// A signer with its log entry's index and integration time, when known.
    pub fn new(
        identity: SignerIdentity,
        log_index: Option<u64>,
        integrated_time: Option<i64>,
    ) -> Self {
        Self {
            identity,
            log_index,
            integrated_time,
        }
    }
}

impl fmt::Display for BundleSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.identity)?;
        if let Some(index) = self.log_index {
            write!(f, ", log index {index}")?;
        }
        Ok(())
    }
}

/// Each policy given to [`TrustPolicy::trust_identity`](crate::verify::TrustPolicy::trust_identity)
/// counts at most once toward the threshold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityPolicy(Node);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Identity(Identity),
    AnyOf(Vec<IdentityPolicy>),
    AllOf(Vec<IdentityPolicy>),
}

impl IdentityPolicy {
    /// Matches signers with this identity.
    pub fn identity(identity: Identity) -> Self {
        Self(Node::Identity(identity))
    }

    /// Matches signers that any of `policies` matches. **Empty, it matches nothing.**
    pub fn any_of(policies: impl IntoIterator<Item = IdentityPolicy>) -> Self {
        Self(Node::AnyOf(policies.into_iter().collect()))
    }

    /// Matches signers that every one of `policies` matches (e.g. to narrow a prefix).
    /// An empty list is refused with [`TrustPolicyError::EmptyAllOf`]: "all of nothing"
    /// would match every signer.
    pub fn all_of(
        policies: impl IntoIterator<Item = IdentityPolicy>,
    ) -> Result<Self, TrustPolicyError> {
        let policies: Vec<_> = policies.into_iter().collect();
        if policies.is_empty() {
            return Err(TrustPolicyError::EmptyAllOf);
        }
        Ok(Self(Node::AllOf(policies)))
    }

    /// Why `signer` is refused although a trusted issuer and subject name it: the
    /// certificate's claims break an identity's constraints (another source
    /// repository, ref or build config, or a reusable workflow not allowed). `None`
    /// when the policy matches, or when no issuer and subject of it name the signer.
    pub(crate) fn claims_refusal(&self, signer: &SignerIdentity) -> Option<String> {
        match &self.0 {
            Node::Identity(identity) if identity.names(signer) => {
                identity.check_claims(&signer.claims).err()
            }
            Node::Identity(_) => None,
            Node::AnyOf(policies) => policies.iter().find_map(|p| p.claims_refusal(signer)),
            // Refused for its claims only if every child names the signer.
            Node::AllOf(policies) => {
                let mut reason = None;
                for policy in policies {
                    if policy.matches(signer) {
                        continue;
                    }
                    reason = Some(policy.claims_refusal(signer)?);
                }
                reason
            }
        }
    }

    /// Whether `signer` satisfies this policy.
    pub fn matches(&self, signer: &SignerIdentity) -> bool {
        match &self.0 {
            Node::Identity(identity) => identity.matches(signer),
            Node::AnyOf(policies) => policies.iter().any(|p| p.matches(signer)),
            // `all_of` refuses an empty list; should one exist anyway, it matches nothing.
            Node::AllOf(policies) => {
                !policies.is_empty() && policies.iter().all(|p| p.matches(signer))
            }
        }
    }
}

impl From<Identity> for IdentityPolicy {
    fn from(identity: Identity) -> Self {
        Self::identity(identity)
    }
}

impl fmt::Display for IdentityPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |f: &mut fmt::Formatter<'_>, name: &str, policies: &[IdentityPolicy]| {
            write!(f, "{name}(")?;
            for (i, policy) in policies.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{policy}")?;
            }
            f.write_str(")")
        };
        match &self.0 {
            Node::Identity(identity) => write!(f, "{identity}"),
            Node::AnyOf(policies) => list(f, "any of", policies),
            Node::AllOf(policies) => list(f, "all of", policies),
        }
    }
}

/// How many trusted identities the verified `signers` amount to: each distinct
/// signer identity counts at most once, and so does each trusted policy (the
/// largest matching between the two, so overlapping policies never count one
/// signer twice, nor one policy twice). `signers` must be distinct.
pub(crate) fn count_trusted(signers: &[SignerIdentity], policies: &[IdentityPolicy]) -> usize {
    // Kuhn's augmenting paths; both sides are small (at most MAX_SIGNATURES signers).
    let edges: Vec<Vec<usize>> = signers
        .iter()
        .map(|signer| {
            policies
                .iter()
                .enumerate()
                .filter(|(_, p)| p.matches(signer))
                .map(|(i, _)| i)
                .collect()
        })
        .collect();
    let mut owner: Vec<Option<usize>> = vec![None; policies.len()];
    fn augment(
        signer: usize,
        edges: &[Vec<usize>],
        owner: &mut [Option<usize>],
        seen: &mut [bool],
    ) -> bool {
        for &policy in &edges[signer] {
            if std::mem::replace(&mut seen[policy], true) {
                continue;
            }
            if owner[policy].is_none_or(|other| augment(other, edges, owner, seen)) {
                owner[policy] = Some(signer);
                return true;
            }
        }
        false
    }
    (0..signers.len())
        .filter(|&signer| augment(signer, &edges, &mut owner, &mut vec![false; policies.len()]))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUER: &str = "https://token.actions.example";

    fn signer(issuer: &str, subject: &str) -> SignerIdentity {
        SignerIdentity::new(issuer, subject)
    }

    fn exact(subject: &str) -> IdentityPolicy {
        Identity::new(ISSUER, SubjectPattern::parse(subject).unwrap())
            .unwrap()
            .into()
    }

    #[test]
    fn empty_any_of_matches_nothing() {
        let empty = IdentityPolicy::any_of([]);
        assert!(!empty.matches(&signer(ISSUER, "a")));
        assert!(!empty.matches(&signer("", "")));
    }

    #[test]
    fn empty_all_of_is_refused() {
        assert!(matches!(
            IdentityPolicy::all_of([]),
            Err(TrustPolicyError::EmptyAllOf)
        ));
    }

    #[test]
    fn any_of_is_or_and_all_of_is_and() {
        let a = exact("https://ci/org/a");
        let b = exact("https://ci/org/b");
        let either = IdentityPolicy::any_of([a.clone(), b.clone()]);
        assert!(either.matches(&signer(ISSUER, "https://ci/org/a")));
        assert!(either.matches(&signer(ISSUER, "https://ci/org/b")));
        assert!(!either.matches(&signer(ISSUER, "https://ci/org/c")));
        let both = IdentityPolicy::all_of([a.clone(), b]).unwrap();
        assert!(!both.matches(&signer(ISSUER, "https://ci/org/a")));
        let narrowed = IdentityPolicy::all_of([
            Identity::new(ISSUER, SubjectPattern::parse("https://ci/org/*").unwrap())
                .unwrap()
                .into(),
            a,
        ])
        .unwrap();
        assert!(narrowed.matches(&signer(ISSUER, "https://ci/org/a")));
        assert!(!narrowed.matches(&signer(ISSUER, "https://ci/org/b")));
    }

    #[test]
    fn issuer_is_exact() {
        let policy = exact("https://ci/a");
        assert!(!policy.matches(&signer(
            "https://token.actions.example.evil",
            "https://ci/a"
        )));
        assert!(!policy.matches(&signer("https://token.actions.exampl", "https://ci/a")));
        assert!(matches!(
            Identity::new("http://insecure", SubjectPattern::Exact("x".into())),
            Err(TrustPolicyError::InvalidIdentity { .. })
        ));
        assert!(Identity::new("https://", SubjectPattern::Exact("x".into())).is_err());
    }

    #[test]
    fn subject_patterns() {
        let prefix = SubjectPattern::parse(
            "https://github.com/org/repo/.github/workflows/r.yml@refs/tags/*",
        )
        .unwrap();
        assert!(prefix.matches("https://github.com/org/repo/.github/workflows/r.yml@refs/tags/v1"));
        assert!(
            !prefix.matches("https://github.com/org/repo/.github/workflows/r.yml@refs/heads/main")
        );
        for bad in [
            "",
            "*",
            "https://github.com/org/repo*",
            "https://*/x",
            "a**",
            "https://x/*/y/",
        ] {
            assert!(
                matches!(
                    SubjectPattern::parse(bad),
                    Err(TrustPolicyError::InvalidIdentity { .. })
                ),
                "{bad:?} accepted"
            );
        }
        assert_eq!(
            SubjectPattern::parse("ci@example.com").unwrap(),
            SubjectPattern::Exact("ci@example.com".into())
        );
    }

    /// Item 16 of issue 10: `alice@*` trusted `alice@attacker.example`, `…@*` any
    /// branch, and a character prefix `org/*` matched `org/../org-evil/x`.
    #[test]
    fn subject_patterns_match_segments_not_characters() {
        let refused = |text: &str| match SubjectPattern::parse(text) {
            Err(TrustPolicyError::InvalidIdentity { reason, .. }) => reason,
            other => panic!("{text:?}: {other:?}"),
        };
        assert_eq!(
            refused("alice@*"),
            "an e-mail subject is matched exactly: `alice@*` would match `alice@attacker.example`"
        );
        assert!(
            refused("https://github.com/org/repo/.github/workflows/release.yml@*")
                .starts_with("`@*` would match every branch and tag"),
        );
        assert!(refused("https://github.com/*").contains("at least one path segment"));
        assert!(refused("ci*").contains("only for URI subjects"));
        for dots in [
            "https://github.com/org/../org-evil/*",
            "https://github.com/org/./repo/*",
            "https://github.com/org/%2E%2E/x",
            "https://github.com/org%2fx/*",
            "https://github.com/org\\x/*",
        ] {
            assert!(
                matches!(
                    SubjectPattern::parse(dots),
                    Err(TrustPolicyError::InvalidIdentity { .. })
                ),
                "{dots:?} accepted"
            );
        }
        assert!(refused("https://github.com/org//*").contains("empty segment"));
        // An exact pattern may keep GitLab's `//`.
        let gitlab = "https://gitlab.com/group/project//.gitlab-ci.yml@refs/heads/main";
        assert!(SubjectPattern::parse(gitlab).unwrap().matches(gitlab));

        let org = SubjectPattern::parse("https://github.com/org/*").unwrap();
        assert!(org.matches("https://github.com/org/repo/.github/workflows/r.yml@refs/heads/main"));
        for outside in [
            "https://github.com/org/../org-evil/x",
            "https://github.com/org/./x",
            "https://github.com/org//x",
            "https://github.com/org/%2e%2e/org-evil/x",
            "https://github.com/org/x%2F..%2F..%2Fevil",
            "https://github.com/org/",
            "https://github.com/org-evil/x",
            "https://github.com/org/x/../../org-evil/y@refs/heads/main",
        ] {
            assert!(!org.matches(outside), "{outside:?} matched");
        }
        let tags = SubjectPattern::parse(
            "https://github.com/org/repo/.github/workflows/r.yml@refs/tags/*",
        )
        .unwrap();
        assert!(tags.matches("https://github.com/org/repo/.github/workflows/r.yml@refs/tags/v1"));
        assert!(
            !tags.matches(
                "https://github.com/org/repo/.github/workflows/r.yml@refs/tags/../heads/x"
            )
        );
        assert!(
            !tags.matches("https://github.com/org/repo/.github/workflows/r.yml@refs/heads/main")
        );
    }

    fn workflow(subject: &str, config: Option<&str>, repository: &str) -> SignerIdentity {
        SignerIdentity {
            claims: Box::new(SignerClaims {
                build_signer_uri: Some(subject.into()),
                source_repository_uri: Some(repository.into()),
                source_repository_ref: Some("refs/heads/main".into()),
                build_config_uri: config.map(Into::into),
            }),
            ..signer(ISSUER, subject)
        }
    }

    /// Item 15 of issue 10: the build config must be the build signer unless an
    /// identity allows reusable workflows (which needs a source repository), and a
    /// refusal for the claims is told apart from a subject that does not match.
    #[test]
    fn claims_constrain_the_identity() {
        let shared = "https://ci/org/shared/.github/workflows/b.yml@refs/tags/v1";
        let caller = "https://ci/evil/app/.github/workflows/r.yml@refs/heads/main";
        let policy = exact(shared);
        let own = workflow(shared, Some(shared), "https://ci/org/shared");
        assert!(policy.matches(&own));
        let called = workflow(shared, Some(caller), "https://ci/evil/app");
        assert!(!policy.matches(&called));
        assert!(
            policy
                .claims_refusal(&called)
                .unwrap()
                .contains("is not the build signer")
        );
        // Only one of the two present is not "equal" either.
        let half = workflow(shared, None, "https://ci/org/shared");
        assert!(!policy.matches(&half));
        // Not named at all: no claims refusal, just untrusted.
        assert_eq!(exact("https://ci/org/other").claims_refusal(&called), None);
        // An all-of is refused for its claims only if every part names the signer.
        let both = IdentityPolicy::all_of([policy.clone(), exact("https://ci/org/other")]).unwrap();
        assert_eq!(both.claims_refusal(&called), None);
        let both = IdentityPolicy::all_of([policy.clone(), policy.clone()]).unwrap();
        assert!(both.claims_refusal(&called).is_some());
        // Allowed, for the named repository only.
        let allowed: IdentityPolicy = Identity::new(ISSUER, SubjectPattern::parse(shared).unwrap())
            .unwrap()
            .with_source_repository(SubjectPattern::parse("https://ci/org/*").unwrap())
            .allowing_reusable_workflow()
            .unwrap()
            .into();
        assert!(!allowed.matches(&called));
        assert!(allowed.matches(&workflow(
            shared,
            Some("https://ci/org/app/.github/workflows/r.yml@refs/heads/main"),
            "https://ci/org/app"
        )));
        // An e-mail identity carries no claims and is judged on issuer and subject.
        assert!(exact("alice@example.test").matches(&signer(ISSUER, "alice@example.test")));
    }

    #[test]
    fn counting_is_over_distinct_signers_and_policies() {
        let a = signer(ISSUER, "https://ci/org/a");
        let b = signer(ISSUER, "https://ci/org/b");
        let wide = IdentityPolicy::identity(
            Identity::new(ISSUER, SubjectPattern::parse("https://ci/org/*").unwrap()).unwrap(),
        );
        // One prefix policy counts once, however many subjects it admits.
        assert_eq!(
            count_trusted(&[a.clone(), b.clone()], std::slice::from_ref(&wide)),
            1
        );
        // Two exact policies: two.
        let exact_a = exact("https://ci/org/a");
        let exact_b = exact("https://ci/org/b");
        assert_eq!(
            count_trusted(&[a.clone(), b.clone()], &[exact_a.clone(), exact_b]),
            2
        );
        // Overlap: a matches both `wide` and `exact_a`, b only `wide`; the best
        // assignment counts two (greedy first-match would count one).
        assert_eq!(
            count_trusted(&[a.clone(), b.clone()], &[wide.clone(), exact_a.clone()]),
            2
        );
        // One signer never counts twice, even if two policies match it.
        assert_eq!(count_trusted(std::slice::from_ref(&a), &[wide, exact_a]), 1);
        // Nothing trusted, nothing counted.
        assert_eq!(count_trusted(&[a], &[IdentityPolicy::any_of([])]), 0);
    }
}
