//! Example Palisade plugin: default-deny access control.
//!
//! Each rule of the `rules` config key reads `allow <identity> <service>/<method>`;
//! the first rule that matches the caller's mutual-TLS identity (or `anonymous`)
//! and the called method lets the call through, and every other call is refused
//! with `PERMISSION_DENIED`. A malformed rule refuses every call (fail closed).
//! Capabilities: `config`, `log`. See the README for the rule syntax.

use palisade_sdk::{Call, Code, Decision, Metadata, Plugin, config, log};

/// The identity of a caller that presented no verified identity.
const ANONYMOUS: &str = "anonymous";

/// One side of a rule: an exact string, a prefix (`foo*`) or anything (`*`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    Any,
    Exact(String),
    Prefix(String),
}

impl Pattern {
    fn parse(text: &str, what: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Err(format!("empty {what} pattern"));
        }
        if text == "*" {
            return Ok(Self::Any);
        }
        let (body, prefix) = match text.strip_suffix('*') {
            Some(body) => (body, true),
            None => (text, false),
        };
        if body.contains('*') {
            return Err(format!("{what} pattern `{text}` has `*` before its end"));
        }
        Ok(if prefix {
            Self::Prefix(body.to_owned())
        } else {
            Self::Exact(body.to_owned())
        })
    }

    fn matches(&self, value: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Exact(exact) => value == exact,
            Self::Prefix(prefix) => value.starts_with(prefix.as_str()),
        }
    }
}

/// `allow <identity> <service>/<method>`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    identity: Pattern,
    service: Pattern,
    method: Pattern,
}

impl Rule {
    fn parse(text: &str) -> Result<Self, String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let [verb, identity, target] = words.as_slice() else {
            return Err(format!(
                "expected `allow <identity> <service>/<method>`, got `{text}`"
            ));
        };
        if *verb != "allow" {
            return Err(format!("unknown verb `{verb}` (only `allow` exists)"));
        }
        let identity = Pattern::parse(identity, "identity")?;
        let (service, method) = if *target == "*" {
            (Pattern::Any, Pattern::Any)
        } else {
            let Some((service, method)) = target.split_once('/') else {
                return Err(format!("expected `<service>/<method>`, got `{target}`"));
            };
            (
                Pattern::parse(service, "service")?,
                Pattern::parse(method, "method")?,
            )
        };
        Ok(Self {
            identity,
            service,
            method,
        })
    }

    fn allows(&self, identity: &str, service: &str, method: &str) -> bool {
        self.identity.matches(identity)
            && self.service.matches(service)
            && self.method.matches(method)
    }
}

/// Parses a rule list: rules separated by `;` or newlines; blank entries and entries
/// starting with `#` are skipped. Rules are numbered from 1 among the others.
fn parse_rules(text: &str) -> Result<Vec<Rule>, String> {
    text.split([';', '\n'])
        .map(str::trim)
        .filter(|entry| !entry.is_empty() && !entry.starts_with('#'))
        .enumerate()
        .map(|(i, entry)| Rule::parse(entry).map_err(|e| format!("rbac: bad rule {}: {e}", i + 1)))
        .collect()
}

/// The plugin: its rules, parsed once per instance.
struct Rbac {
    /// The rules, or why they could not be parsed.
    rules: Result<Vec<Rule>, String>,
}

impl Default for Rbac {
    fn default() -> Self {
        let rules = parse_rules(&config::get("rules").unwrap_or_default());
        match &rules {
            Err(e) => log::error(e),
            Ok(rules) if rules.is_empty() => {
                log::warn("rbac: no rules configured; every call is denied")
            }
            Ok(_) => {}
        }
        Self { rules }
    }
}

impl Plugin for Rbac {
    fn on_request(&self, call: &Call, _metadata: &mut Metadata) -> Decision {
        let rules = match &self.rules {
            Ok(rules) => rules,
            Err(e) => return Decision::reject(Code::FailedPrecondition, e.clone()),
        };
        let identity = call.peer_identity().unwrap_or_else(|| ANONYMOUS.to_owned());
        let service = call.service();
        let method = call.method();
        if rules
            .iter()
            .any(|rule| rule.allows(&identity, &service, &method))
        {
            return Decision::Continue;
        }
        let message = format!("rbac: {identity} may not call {service}/{method}");
        log::info(&message);
        Decision::reject(Code::PermissionDenied, message)
    }
}

palisade_sdk::export_plugin!(Rbac);

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(rules: &str, identity: &str, service: &str, method: &str) -> bool {
        parse_rules(rules)
            .unwrap()
            .iter()
            .any(|rule| rule.allows(identity, service, method))
    }

    #[test]
    fn exact_prefix_and_any() {
        let rules = "allow spiffe://prod/orders orders.v1.Orders/Get*; \
                     allow spiffe://prod/* grpc.health.v1.Health/Check\n\
                     allow admin * ";
        assert!(allowed(
            rules,
            "spiffe://prod/orders",
            "orders.v1.Orders",
            "GetOrder"
        ));
        assert!(!allowed(
            rules,
            "spiffe://prod/orders",
            "orders.v1.Orders",
            "Create"
        ));
        assert!(!allowed(
            rules,
            "spiffe://prod/orders2",
            "orders.v1.Orders",
            "GetOrder"
        ));
        assert!(allowed(
            rules,
            "spiffe://prod/billing",
            "grpc.health.v1.Health",
            "Check"
        ));
        assert!(!allowed(
            rules,
            "spiffe://dev/billing",
            "grpc.health.v1.Health",
            "Check"
        ));
        assert!(allowed(rules, "admin", "anything.Else", "Delete"));
        assert!(!allowed(rules, ANONYMOUS, "orders.v1.Orders", "GetOrder"));
    }

    #[test]
    fn service_prefix_and_wildcard_identity() {
        let rules = "allow * orders.*/List*";
        assert!(allowed(rules, ANONYMOUS, "orders.v1.Orders", "ListOrders"));
        assert!(!allowed(
            rules,
            ANONYMOUS,
            "billing.v1.Billing",
            "ListOrders"
        ));
    }

    #[test]
    fn blank_entries_and_comments_are_skipped() {
        let rules = parse_rules("\n ; # a comment\nallow a b/c;;\n").unwrap();
        assert_eq!(rules.len(), 1);
        assert!(parse_rules("").unwrap().is_empty());
    }

    #[test]
    fn malformed_rules_name_their_number() {
        for (text, expect) in [
            ("allow a b/c; deny a b/c", "rbac: bad rule 2: unknown verb"),
            ("allow a b/c\nallow a", "rbac: bad rule 2: expected `allow"),
            ("allow a b/c d", "rbac: bad rule 1: expected `allow"),
            (
                "allow a orders",
                "rbac: bad rule 1: expected `<service>/<method>`",
            ),
            ("allow a*b c/d", "rbac: bad rule 1: identity pattern"),
            ("allow a c/", "rbac: bad rule 1: empty method pattern"),
            ("allow a /d", "rbac: bad rule 1: empty service pattern"),
        ] {
            let err = parse_rules(text).unwrap_err();
            assert!(err.starts_with(expect), "{text:?}: {err}");
        }
    }
}
