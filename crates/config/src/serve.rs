//! The `[serve]` section: where `palisade serve` listens, the upstream it protects,
//! its metrics endpoint, and whether it may reload.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::Mode;
use super::error::{ConfigError, invalid};
use super::raw::{ReloadToml, ServeToml, UpstreamPlaintextToml};
use palisade_net::transport::TransportConfig;

/// How long in-flight calls may run after a shutdown signal, unless the file says.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Whether `palisade serve` reloads its configuration on `SIGHUP`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReloadPolicy {
    /// `reload = "verified"`: the new file and every package in it are verified and
    /// loaded in full before the new chain replaces the old one. The default in
    /// development mode; lockdown needs it written out.
    Verified,
    /// `reload = "off"`: a reload request is refused and logged. The default in
    /// lockdown mode.
    Off,
}

impl std::fmt::Display for ReloadPolicy {
    /// As the config file spells it (`verified`, `off`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Verified => "verified",
            Self::Off => "off",
        })
    }
}

/// The `[serve]` section, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServeConfig {
    /// `listen`: where the proxy accepts calls (mTLS per `[transport]`).
    pub listen: SocketAddr,
    /// `upstream`: the service the proxy forwards to, `http://host:port`.
    pub upstream: http::Uri,
    /// `service`: the `service` plugins see for plain HTTP calls (gRPC calls name
    /// theirs in the path); the upstream's host unless set. Never taken from the
    /// client's `Host`.
    pub service: String,
    /// `metrics`: where `GET /metrics` is served (plaintext, read-only counters).
    pub metrics: Option<SocketAddr>,
    /// `reload`.
    pub reload: ReloadPolicy,
    /// `shutdown_grace_ms`: how long in-flight calls may run after a shutdown signal
    /// ([`DEFAULT_SHUTDOWN_GRACE`] unless set).
    pub shutdown_grace: Duration,
}

/// Whether `host` (from a URI) names this machine: a loopback IP or `localhost`.
fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

/// A name rules can spell: not empty, no `/` (which separates it from the method),
/// no space or control character.
fn is_service_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

pub(super) fn resolve(
    raw: ServeToml,
    mode: Mode,
    transport: &TransportConfig,
) -> Result<ServeConfig, ConfigError> {
    let ServeToml {
        listen,
        upstream,
        service,
        metrics,
        reload,
        upstream_plaintext,
        shutdown_grace_ms,
    } = raw;
    let lockdown = mode == Mode::Lockdown;
    let address = |setting: &str, text: &str| {
        text.parse::<SocketAddr>().map_err(|_| {
            invalid(
                format!("serve.{setting}"),
                format!("{text:?} is not an address (expected IP:PORT, such as 127.0.0.1:8443)"),
            )
        })
    };
    let listen = address("listen", &listen)?;
    let metrics = metrics.map(|m| address("metrics", &m)).transpose()?;
    // `/metrics` is plaintext, unauthenticated and has no timeouts: this machine only.
    if lockdown && metrics.is_some_and(|m| !m.ip().is_loopback()) {
        return Err(ConfigError::Lockdown {
            setting: "serve.metrics".into(),
            reason: "the metrics endpoint is plaintext and unauthenticated, so it must listen on a loopback address (127.0.0.1:9090); scrape it from this machine or through a local agent",
        });
    }

    let uri: http::Uri = upstream.parse().map_err(|_| {
        invalid(
            "serve.upstream",
            format!("{upstream:?} is not a URI (expected http://HOST:PORT)"),
        )
    })?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => {
            return Err(invalid(
                "serve.upstream",
                "https upstreams are not supported yet: run the proxy next to the service and forward to it over loopback",
            ));
        }
        _ => {
            return Err(invalid(
                "serve.upstream",
                format!("{upstream:?} needs the http:// scheme"),
            ));
        }
    }
    let Some(host) = uri.host() else {
        return Err(invalid(
            "serve.upstream",
            format!("{upstream:?} names no host"),
        ));
    };
    if uri.path_and_query().is_some_and(|p| p.as_str() != "/") {
        return Err(invalid(
            "serve.upstream",
            format!(
                "{upstream:?}: give only scheme, host and port; request paths are forwarded as they come"
            ),
        ));
    }
    let service = match service {
        None => host.to_owned(),
        Some(name) if is_service_name(&name) => name,
        Some(name) => {
            return Err(invalid(
                "serve.service",
                format!(
                    "{name:?} is not a service name (letters, digits, `.`, `-` and `_`, such as \"orders.internal\")"
                ),
            ));
        }
    };
    if !is_loopback(host) {
        match upstream_plaintext {
            Some(UpstreamPlaintextToml::InsecureAllow) if lockdown => {
                return Err(ConfigError::Lockdown {
                    setting: "serve.upstream_plaintext = \"insecure-allow\"".into(),
                    reason: "calls would leave this machine in plaintext; forward to a loopback address only",
                });
            }
            Some(UpstreamPlaintextToml::InsecureAllow) => tracing::warn!(
                upstream = %uri,
                "INSECURE: `[serve] upstream_plaintext = \"insecure-allow\"`: calls are forwarded \
                 in plaintext to another machine (refused in lockdown mode)"
            ),
            None | Some(UpstreamPlaintextToml::LoopbackOnly) if lockdown => {
                return Err(ConfigError::Lockdown {
                    setting: "serve.upstream".into(),
                    reason: "the upstream is reached in plaintext, so it must be a loopback address (127.0.0.1, ::1, localhost)",
                });
            }
            None | Some(UpstreamPlaintextToml::LoopbackOnly) => {
                return Err(invalid(
                    "serve.upstream",
                    format!(
                        "{host} is not a loopback address, and the upstream is reached in plaintext; \
                         set `upstream_plaintext = \"insecure-allow\"` to allow it (development mode only)"
                    ),
                ));
            }
        }
    }
    if transport.tls.is_none() && !transport.plaintext_allowed() {
        return Err(invalid(
            "serve",
            "the proxy accepts calls over mTLS: give `[transport]` `cert`, `key` and `ca`",
        ));
    }
    let reload = match (reload, mode) {
        (Some(ReloadToml::Verified), _) | (None, Mode::Development) => ReloadPolicy::Verified,
        (Some(ReloadToml::Off), _) | (None, Mode::Lockdown) => ReloadPolicy::Off,
    };
    let shutdown_grace = match shutdown_grace_ms {
        None => DEFAULT_SHUTDOWN_GRACE,
        Some(0) => {
            return Err(invalid("serve.shutdown_grace_ms", "must be at least 1"));
        }
        Some(ms) => Duration::from_millis(ms),
    };
    Ok(ServeConfig {
        listen,
        upstream: uri,
        service,
        metrics,
        reload,
        shutdown_grace,
    })
}
