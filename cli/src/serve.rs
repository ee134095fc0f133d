//! `palisade serve`: the plugin chain as a sidecar proxy in front of an upstream that
//! knows nothing of Palisade (gRPC over HTTP/2, plain HTTP/1.1 and HTTP/2).
//!
//! ```text
//!  client ─mTLS─▶ listen ─▶ ServerLayer(SharedChain) ─▶ proxy ─plaintext, loopback─▶ upstream
//!                                                                  metrics ─▶ GET /metrics
//! ```
//!
//! - Calls are accepted over the `[transport]` mTLS (client certificates required);
//!   the chain runs on them through a [`ServerLayer`] holding a [`SharedChain`]; the
//!   proxy forwards what the chain lets through, headers, streamed bodies and
//!   trailers untouched, with the verified caller in `x-palisade-peer-identity`
//!   (the layer drops that header from the network first, so the upstream can trust
//!   it). gRPC goes to the upstream over HTTP/2, everything else over HTTP/1.1.
//! - [`Serve::run`] stops accepting when its shutdown future completes and lets
//!   in-flight calls finish for at most `[serve] shutdown_grace_ms`.
//! - [`Reloader::reload`] (what `SIGHUP` calls) re-reads the file, verifies and loads
//!   every plugin into a new chain, and only then swaps it in: in-flight calls finish
//!   on the old chain, and a reload that fails at any step keeps the old one. Lockdown
//!   refuses reloads unless the file says `reload = "verified"`.
//! - `GET /metrics` on `[serve] metrics` exposes per-plugin counters in the
//!   Prometheus text format, read from [`Plugin::stats`](palisade::Plugin::stats)
//!   at scrape time.

mod metrics;
mod proxy;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use palisade::LoadConfig;
use palisade::config::{ReloadPolicy, ServeConfig};
use palisade::layer::{ServerLayer, SharedChain};
use palisade::transport::{Incoming, TransportError, serve_http};
use palisade::{AuditError, AuditEvent, ConfigError, Host, Mode, OperatorConfig};
use tokio::net::TcpListener;
use tokio::sync::{Mutex, watch};
use tower_layer::Layer as _;

/// Why `palisade serve` could not start or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The configuration file was refused.
    #[error("{}: {source}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: ConfigError,
    },
    /// The file has no `[serve]` section.
    #[error("{}: no `[serve]` section (give at least `listen` and `upstream`)", path.display())]
    NoServeSection {
        /// The file.
        path: PathBuf,
    },
    /// The host could not start, or a plugin could not be loaded.
    #[error(transparent)]
    Host(#[from] palisade::Error),
    /// The TLS material could not be used.
    #[error("transport: {0}")]
    Transport(#[from] TransportError),
    /// The config's `audit_log` could not be opened (lockdown refuses to run without
    /// it; development goes on with a warning).
    #[error("audit log: {0}")]
    Audit(#[from] AuditError),
    /// A socket could not be bound.
    #[error("cannot listen on {addr} ({what}): {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Which listener (`serve.listen`, `serve.metrics`).
        what: &'static str,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

/// Why a reload was refused or failed. The old chain keeps serving in every case.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReloadError {
    /// Reloading is off (`[serve] reload = "off"`, the default in lockdown mode).
    #[error(
        "reload is off in this configuration ({mode} mode); set `[serve] reload = \"verified\"` to allow it"
    )]
    Disabled {
        /// The running configuration's mode.
        mode: Mode,
    },
    /// The new file was refused.
    #[error("{}: {source}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: ConfigError,
    },
    /// The new file changes something a reload cannot change.
    #[error(
        "`{setting}` changed; a reload replaces the plugins and the trust policy only: restart to change it"
    )]
    NeedsRestart {
        /// The setting.
        setting: &'static str,
    },
    /// A plugin of the new file failed verification or loading.
    #[error("the new chain did not load: {0}")]
    Load(#[source] palisade::Error),
    /// Lockdown: the new file would replace a running plugin with an older signed
    /// version (a rollback; raise `trust.min_versions` to make it permanent).
    #[error(
        "lockdown refuses to roll `{plugin}` back from version {running} to {new}; a reload may only keep or raise a plugin's version"
    )]
    Rollback {
        /// The plugin.
        plugin: String,
        /// The version running now.
        running: String,
        /// The older version the new file loaded.
        new: String,
    },
    /// The reload took longer than its bound ([`RELOAD_TIMEOUT`] unless
    /// [`Reloader::with_timeout`] set another): it was abandoned, its lock released
    /// for the next one.
    #[error(
        "the reload took longer than {} s and was abandoned (a file on a hung file system?)",
        limit.as_secs_f64()
    )]
    TimedOut {
        /// The bound.
        limit: Duration,
    },
    /// The reload could not be audited, and the audit log's policy (lockdown) says
    /// that nothing unaudited may happen: the new chain was not swapped in.
    #[error("the reload could not be audited: {0}")]
    Audit(#[source] AuditError),
}

impl ReloadError {
    /// The outcome's name in logs and metrics: `refused` (not allowed) or `failed`.
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::Disabled { .. } => "refused",
            _ => "failed",
        }
    }
}

/// Counters of what the proxy did, besides the plugins' own.
#[derive(Debug, Default)]
struct Counters {
    reloads_ok: AtomicU64,
    reloads_failed: AtomicU64,
    reloads_refused: AtomicU64,
    upstream_errors: AtomicU64,
}

/// What the running proxy, its reloader and its metrics share.
#[derive(Debug)]
struct State {
    path: PathBuf,
    host: Host,
    chain: SharedChain,
    /// The configuration in force; the lock also keeps reloads one at a time.
    config: Mutex<OperatorConfig>,
    counters: Counters,
}

/// A started proxy: its sockets are bound and its chain is loaded.
#[derive(Debug)]
pub struct Serve {
    state: Arc<State>,
    serve: ServeConfig,
    listener: TcpListener,
    metrics: Option<TcpListener>,
    incoming_tls: bool,
}

fn read_config(path: &Path) -> Result<OperatorConfig, ConfigError> {
    OperatorConfig::from_file(path)
}

impl Serve {
    /// Reads the configuration at `path`, loads (verifies, compiles, instantiates)
    /// every plugin, and binds the listeners. Nothing is served until [`run`](Self::run).
    pub async fn start(path: impl Into<PathBuf>) -> Result<Self, ServeError> {
        let path = path.into();
        let config = read_config(&path).map_err(|source| ServeError::Config {
            path: path.clone(),
            source,
        })?;
        let serve = config
            .serve
            .clone()
            .ok_or_else(|| ServeError::NoServeSection { path: path.clone() })?;
        // Refuse unusable TLS material before any plugin is compiled.
        let incoming_tls = config.transport.tls.is_some();
        if incoming_tls {
            config.transport.server_tls()?;
        }
        let mut host = Host::new(config.host_config())?;
        // The audit log stays open for the proxy's life, so reloads append to it.
        match config.open_audit_sink() {
            Ok(Some(sink)) => host = host.with_audit_sink(sink),
            Ok(None) => {}
            Err(error) if config.mode == Mode::Lockdown => return Err(error.into()),
            Err(error) => {
                tracing::warn!(error = %palisade::message_with_causes(&error), mode = %config.mode, "audit log not opened; going on without it");
            }
        }
        let chain = host.load_config(&config).await?;
        let names = plugin_names(&chain);
        let listener =
            TcpListener::bind(serve.listen)
                .await
                .map_err(|source| ServeError::Bind {
                    addr: serve.listen,
                    what: "serve.listen",
                    source,
                })?;
        let metrics = match serve.metrics {
            Some(addr) => {
                Some(
                    TcpListener::bind(addr)
                        .await
                        .map_err(|source| ServeError::Bind {
                            addr,
                            what: "serve.metrics",
                            source,
                        })?,
                )
            }
            None => None,
        };
        tracing::info!(
            config = %path.display(),
            mode = %config.mode,
            plugins = %names.join(" -> "),
            listen = %serve.listen,
            upstream = %serve.upstream,
            reload = %serve.reload,
            "palisade serve: chain loaded"
        );
        Ok(Self {
            state: Arc::new(State {
                path,
                host,
                chain: SharedChain::new(chain),
                config: Mutex::new(config),
                counters: Counters::default(),
            }),
            serve,
            listener,
            metrics,
            incoming_tls,
        })
    }

    /// Where calls are accepted (useful with port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Where `GET /metrics` is served, if configured.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The chain new calls get (replaced by reloads).
    pub fn chain(&self) -> SharedChain {
        self.state.chain.clone()
    }

    /// What `SIGHUP` calls.
    pub fn reloader(&self) -> Reloader {
        Reloader(Arc::clone(&self.state), RELOAD_TIMEOUT)
    }

    /// Serves until `shutdown` completes; then stops accepting, lets in-flight calls
    /// finish (at most `[serve] shutdown_grace_ms`) and returns.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> Result<(), ServeError> {
        let Self {
            state,
            serve,
            listener,
            metrics,
            incoming_tls,
        } = self;
        let incoming = {
            let config = state.config.lock().await;
            if incoming_tls {
                config.transport.server_tls()?.incoming(listener)
            } else {
                Incoming::insecure_plaintext(listener, config.transport.insecure_plaintext()?)
            }
        };
        let (stop, stopped) = watch::channel(false);
        let metrics_task = metrics.map(|listener| {
            tokio::spawn(metrics::serve(
                listener,
                Arc::clone(&state),
                wait_for(stopped.clone()),
            ))
        });
        let proxy = proxy::Proxy::new(&serve.upstream, Arc::clone(&state));
        // Plain HTTP calls are judged as the configured service, never as the
        // client's `Host`.
        let service = ServerLayer::shared(state.chain.clone())
            .http_service(serve.service.clone())
            .layer(proxy);
        let mut server = tokio::spawn(serve_http(incoming, service, wait_for(stopped)));

        tokio::select! {
            () = shutdown => {}
            // serve_http returns only after a stop; a panic in it ends serving.
            result = &mut server => {
                if let Err(error) = result {
                    tracing::error!(%error, "the server task failed");
                }
            }
        }
        tracing::info!(
            grace_ms = serve.shutdown_grace.as_millis(),
            "shutting down: no new calls; waiting for in-flight calls"
        );
        let _ = stop.send(true);
        if !server.is_finished() {
            match tokio::time::timeout(serve.shutdown_grace, &mut server).await {
                Ok(_) => tracing::info!("in-flight calls finished"),
                Err(_) => {
                    tracing::warn!(
                        grace_ms = serve.shutdown_grace.as_millis(),
                        "calls still running after the grace period; closing them"
                    );
                    server.abort();
                }
            }
        }
        if let Some(task) = metrics_task {
            let _ = task.await;
        }
        Ok(())
    }
}

/// Completes when `stop` says so (or its sender is gone).
async fn wait_for(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

fn plugin_names(chain: &palisade::Chain) -> Vec<String> {
    chain
        .plugins()
        .iter()
        .map(|p| p.name().to_owned())
        .collect()
}

/// The longest a reload may take: reading the file, then verifying, compiling and
/// instantiating every plugin (seconds each without a compiled cache). A reload
/// still running then is abandoned (the old chain keeps serving, and the next
/// `SIGHUP` is not stuck behind it); file reads and compilation run on tokio's
/// blocking pool, so calls and `/metrics` are served meanwhile.
pub const RELOAD_TIMEOUT: Duration = Duration::from_secs(120);

/// Reloads a running proxy's configuration, each reload bounded in time
/// ([`RELOAD_TIMEOUT`]). Cheap to clone.
#[derive(Debug, Clone)]
pub struct Reloader(Arc<State>, Duration);

impl Reloader {
    /// Re-reads the configuration file and, if reloading is allowed and the new file
    /// changes nothing that needs a restart, verifies and loads every plugin into a
    /// new chain, then makes it the one new calls get. Returns the new chain's plugin
    /// names. On any error the old chain keeps serving; the error says why (and is
    /// logged and counted).
    pub async fn reload(&self) -> Result<Vec<String>, ReloadError> {
        let state = &self.0;
        // Dropping the reload at its deadline releases the reload lock.
        let result = tokio::time::timeout(self.1, self.try_reload())
            .await
            .unwrap_or(Err(ReloadError::TimedOut { limit: self.1 }));
        let counters = &state.counters;
        match &result {
            Ok(plugins) => {
                counters.reloads_ok.fetch_add(1, Ordering::Relaxed);
                tracing::info!(config = %state.path.display(), plugins = %plugins.join(" -> "), outcome = "ok", "reload: new chain in place");
            }
            Err(error) => {
                let counter = match error {
                    ReloadError::Disabled { .. } => &counters.reloads_refused,
                    _ => &counters.reloads_failed,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                // The error may quote a package's manifest: the author's text.
                let text = palisade::message_with_causes(error);
                tracing::error!(config = %state.path.display(), outcome = error.outcome(), error = %palisade::Untrusted(&text), "reload: kept the old chain");
                let event = AuditEvent::reload_failed(
                    error.outcome(),
                    state.path.display().to_string(),
                    text.clone(),
                );
                if let Err(audit) = state.host.audit(&event) {
                    // Nothing changed, so there is nothing to undo.
                    tracing::error!(error = %palisade::message_with_causes(&audit), "reload: the refusal could not be audited");
                }
            }
        }
        result
    }

    /// The same reloader with another time bound than [`RELOAD_TIMEOUT`].
    pub fn with_timeout(self, limit: Duration) -> Self {
        Self(self.0, limit)
    }

    async fn try_reload(&self) -> Result<Vec<String>, ReloadError> {
        let state = &self.0;
        // One reload at a time; calls go on meanwhile.
        let mut current = state.config.lock().await;
        let allowed = current
            .serve
            .as_ref()
            .is_some_and(|s| s.reload == ReloadPolicy::Verified);
        if !allowed {
            return Err(ReloadError::Disabled { mode: current.mode });
        }
        // Off the async workers: a file on a hung file system must not stall calls.
        let path = state.path.clone();
        let new = tokio::task::spawn_blocking(move || read_config(&path))
            .await
            .unwrap_or_else(|e| {
                Err(ConfigError::Io {
                    path: state.path.clone(),
                    reason: std::io::Error::other(e.to_string()),
                })
            })
            .map_err(|source| ReloadError::Config {
                path: state.path.clone(),
                source,
            })?;
        if new.mode != current.mode {
            return Err(ReloadError::NeedsRestart { setting: "mode" });
        }
        if new.serve != current.serve {
            return Err(ReloadError::NeedsRestart { setting: "serve" });
        }
        if new.transport != current.transport {
            return Err(ReloadError::NeedsRestart {
                setting: "transport",
            });
        }
        if new.audit_log != current.audit_log {
            return Err(ReloadError::NeedsRestart {
                setting: "audit_log",
            });
        }
        // The host, and with it its compiled cache, lives as long as the process.
        if new.compiled_cache != current.compiled_cache {
            return Err(ReloadError::NeedsRestart {
                setting: "compiled_cache",
            });
        }
        // The whole pipeline for every plugin: read, verify, check, compile,
        // instantiate. Nothing is swapped in before all of it succeeded.
        let chain = state
            .host
            .load_config(&new)
            .await
            .map_err(ReloadError::Load)?;
        // Audited before the swap: with a log that must record everything
        // (lockdown), a reload that cannot be recorded does not happen.
        let old = state.chain.current();
        if current.mode == Mode::Lockdown {
            refuse_rollback(&old, &chain)?;
        }
        for plugin in chain.plugins() {
            let previous = old
                .plugins()
                .iter()
                .find(|p| p.name() == plugin.name())
                .map(palisade::Plugin::component_sha256);
            let event = AuditEvent::reloaded(
                plugin.name(),
                plugin.version().map(str::to_owned),
                previous,
                plugin.component_sha256(),
            );
            state.host.audit(&event).map_err(ReloadError::Audit)?;
        }
        for plugin in old.plugins() {
            if !chain.plugins().iter().any(|p| p.name() == plugin.name()) {
                let event = AuditEvent::removed(
                    plugin.name(),
                    plugin.version().map(str::to_owned),
                    plugin.component_sha256(),
                );
                state.host.audit(&event).map_err(ReloadError::Audit)?;
            }
        }
        let names = plugin_names(&chain);
        state.chain.replace(chain);
        *current = new;
        Ok(names)
    }
}

/// Refuses a new chain that runs an older signed version of a plugin than `old` does.
fn refuse_rollback(old: &palisade::Chain, new: &palisade::Chain) -> Result<(), ReloadError> {
    let version = |text: &str| semver::Version::parse(text).ok();
    for plugin in new.plugins() {
        let Some(new_version) = plugin.version() else {
            continue;
        };
        let running = old
            .plugins()
            .iter()
            .find(|p| p.name() == plugin.name())
            .and_then(|p| p.version());
        if let Some(running) = running
            && let (Some(a), Some(b)) = (version(running), version(new_version))
            && b < a
        {
            return Err(ReloadError::Rollback {
                plugin: plugin.name().to_owned(),
                running: running.to_owned(),
                new: new_version.to_owned(),
            });
        }
    }
    Ok(())
}
