//! [`Host`]: runs the pipeline (load → policy → compile → link → instantiate) for
//! each plugin, and hands back a [`Plugin`] ready to intercept calls.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use crate::audit::{AuditError, AuditEvent, AuditSink, Auditor};
use crate::capability::bindings::PluginPre;
use crate::capability::crypto::{KeyRing, PluginKeys};
use crate::capability::kv::KvStore;
use crate::capability::log::LogSink;
use crate::capability::{self};
use crate::compile::{Compiler, HostConfig};
use crate::error::{Error, LinkError, Result};
use crate::instance::state::PluginShared;
use crate::instance::{InstanceMode, Pool};
use crate::intercept::Plugin;
use palisade_package::PolicyError;
use palisade_package::load::{self, PluginSource, SourceKind};
use palisade_package::policy;
use palisade_package::verify::{self, TrustPolicy};
use palisade_types::{FailurePolicy, Grants, Hooks, Limits, Routes};

/// Everything needed to load one plugin. Defaults: no grants, default [`Limits`],
/// fail closed, both hooks, reused instances, no config values, and a
/// [`TrustPolicy`] that trusts no key (so packages are refused until one is given).
#[derive(Debug, Clone)]
pub struct PluginSpec {
    name: String,
    source: PluginSource,
    grants: Grants,
    limits: Limits,
    config: BTreeMap<String, String>,
    failure_policy: FailurePolicy,
    hooks: Hooks,
    instance_mode: InstanceMode,
    trust: Arc<TrustPolicy>,
    routes: Routes,
}

impl PluginSpec {
    /// A plugin named `name` (lowercase letters, digits, `-`, `_`) read from `source`.
    pub fn new(name: impl Into<String>, source: PluginSource) -> Self {
        Self {
            name: name.into(),
            source,
            grants: Grants::none(),
            limits: Limits::default(),
            config: BTreeMap::new(),
            failure_policy: FailurePolicy::default(),
            hooks: Hooks::default(),
            instance_mode: InstanceMode::default(),
            trust: Arc::new(TrustPolicy::new()),
            routes: Routes::all(),
        }
    }

    /// The trust policy a [`PluginSource::Package`] or [`PluginSource::PackageBytes`]
    /// must satisfy. For a package, the grants set with [`grants`](Self::grants) are
    /// the operator's ceiling: the plugin gets what its signed manifest requests, and
    /// is refused if that is more. Plain components ignore this.
    pub fn trust(mut self, policy: impl Into<Arc<TrustPolicy>>) -> Self {
        self.trust = policy.into();
        self
    }

    /// The capabilities the plugin may import.
    pub fn grants(mut self, grants: Grants) -> Self {
        self.grants = grants;
        self
    }

    /// Its resource limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Its own config values, readable through the `config` capability.
    pub fn config<K: Into<String>, V: Into<String>>(
        mut self,
        values: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.config
            .extend(values.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// What a chain does when it fails.
    pub fn failure_policy(mut self, policy: FailurePolicy) -> Self {
        self.failure_policy = policy;
        self
    }

    /// Which hooks run.
    pub fn hooks(mut self, hooks: Hooks) -> Self {
        self.hooks = hooks;
        self
    }

    /// Reused or fresh instances.
    pub fn instance_mode(mut self, mode: InstanceMode) -> Self {
        self.instance_mode = mode;
        self
    }

    /// The calls the plugin applies to (every call by default): a [`Chain`](crate::Chain)
    /// skips it for any other, without entering WebAssembly.
    pub fn routes(mut self, routes: Routes) -> Self {
        self.routes = routes;
        self
    }
}

/// A plugin's bytes as read on the blocking pool: a bare component, or a package
/// whose signatures were verified.
enum Read {
    Component(load::Loaded),
    Package(Box<verify::Verified>),
}

/// The plugin host: one engine, one epoch ticker and one key ring, shared by every
/// plugin it loads, and optionally an audit log.
pub struct Host {
    compiler: Arc<Compiler>,
    keys: Arc<KeyRing>,
    audit: Option<AuditSink>,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("keys", &self.keys)
            .field("audit", &self.audit)
            .finish_non_exhaustive()
    }
}

impl Host {
    /// A host with `config` and an empty key ring.
    pub fn new(config: HostConfig) -> Result<Self> {
        Self::with_keys(config, KeyRing::new())
    }

    /// A host with `config` whose `crypto` capability uses `keys`.
    pub fn with_keys(config: HostConfig, keys: KeyRing) -> Result<Self> {
        Ok(Self {
            compiler: Arc::new(Compiler::new(&config)?),
            keys: Arc::new(keys),
            audit: None,
        })
    }

    /// Also appends every audit event of this host to `sink`. Events always go to
    /// `tracing` (target [`AUDIT_TARGET`](crate::audit::AUDIT_TARGET)).
    pub fn with_audit_sink(mut self, sink: AuditSink) -> Self {
        self.audit = Some(sink);
        self
    }

    /// The audit log set with [`with_audit_sink`](Self::with_audit_sink).
    pub fn audit_sink(&self) -> Option<&AuditSink> {
        self.audit.as_ref()
    }

    /// Records `event` (for example a [`AuditEvent::reloaded`]) to `tracing` and the
    /// host's audit log. An error means the log could not be written and its
    /// [`OnAuditFailure`](crate::OnAuditFailure) is `Refuse`.
    pub fn audit(&self, event: &AuditEvent) -> Result<(), AuditError> {
        Auditor::new(self.audit.as_ref(), None).emit(event)
    }

    /// What the compiled cache ([`HostConfig::cache_dir`]) has done since the host
    /// started.
    pub fn cache_stats(&self) -> crate::CacheStats {
        self.compiler.cache_stats()
    }

    /// Loads, checks, compiles and links a plugin, and creates its first instance,
    /// so that a plugin that cannot run fails here rather than on the first call.
    /// Compilation runs on tokio's blocking pool.
    ///
    /// Audited: a package's verification, the load, or the refusal with its stage
    /// and reason (see [`audit`](crate::audit)). With an audit log that must record
    /// ([`OnAuditFailure::Refuse`](crate::OnAuditFailure::Refuse)), a load that cannot
    /// be recorded is refused with [`Error::Audit`].
    pub async fn load(&self, spec: PluginSpec) -> Result<Plugin> {
        self.load_audited(spec, &Auditor::new(self.audit.as_ref(), None))
            .await
    }

    /// [`load`](Self::load), with every event also recorded to `audit_log` (an
    /// operator config's own audit log, say), when it is not the host's.
    pub async fn load_with_audit_log(
        &self,
        spec: PluginSpec,
        audit_log: Option<&AuditSink>,
    ) -> Result<Plugin> {
        self.load_audited(spec, &Auditor::new(self.audit.as_ref(), audit_log))
            .await
    }

    /// [`load`](Self::load), with the refusal audited through `auditor`.
    async fn load_audited(&self, spec: PluginSpec, auditor: &Auditor<'_>) -> Result<Plugin> {
        let name = spec.name.clone();
        let result = self.pipeline(spec, auditor).await;
        if let Err(error) = &result {
            auditor.refused(&name, error);
        }
        result
    }

    async fn pipeline(&self, spec: PluginSpec, auditor: &Auditor<'_>) -> Result<Plugin> {
        let PluginSpec {
            name,
            source,
            grants,
            limits,
            config,
            failure_policy,
            hooks,
            instance_mode,
            trust,
            routes,
        } = spec;
        // 1. load: bounded bytes and their digest; and 1½. verify (packages only): the
        //    signatures. File I/O (which a FIFO, a device or a hung network file
        //    system could stall) and signature checks run on tokio's blocking pool,
        //    never on an async worker, so calls and `/metrics` go on meanwhile.
        let read = {
            let (plugin, trust) = (name.clone(), Arc::clone(&trust));
            // The blocking thread logs to the caller's subscriber and span (a scoped
            // subscriber is thread-local), so verification's events are not lost.
            let (dispatch, span) = (
                tracing::dispatcher::get_default(Clone::clone),
                tracing::Span::current(),
            );
            tokio::task::spawn_blocking(move || -> Result<Read> {
                tracing::dispatcher::with_default(&dispatch, || {
                    span.in_scope(|| {
                        let loaded = load::load(&plugin, source)?;
                        Ok(match loaded.kind() {
                            SourceKind::Component => Read::Component(loaded),
                            SourceKind::Package => Read::Package(Box::new(
                                verify::verify(loaded, &trust)
                                    .map_err(|reason| Error::Verify { plugin, reason })?,
                            )),
                        })
                    })
                })
            })
            .await
            .map_err(|e| task_failed(&name, "loading", &e))??
        };
        // Then the manifest's requests within the operator's grants, and only the
        // hooks both allow.
        let (loaded, grants, hooks, version) = match read {
            Read::Component(loaded) => (loaded, grants, hooks, None),
            Read::Package(verified) => {
                let manifest = verified.manifest();
                let grants = policy::effective_grants(&name, &manifest.grants, &grants)?;
                let hooks = Hooks {
                    request: hooks.request && manifest.hooks.request,
                    response: hooks.response && manifest.hooks.response,
                };
                let development_signers: Vec<_> = verified
                    .signers()
                    .iter()
                    .copied()
                    .filter(|id| trust.is_development(id))
                    .collect();
                if !development_signers.is_empty() {
                    tracing::warn!(
                        plugin = %name,
                        keys = %development_signers.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
                        "package signed by a DEVELOPMENT key: its secret is not guarded like a \
                         release key's (a lockdown config refuses to trust it)"
                    );
                }
                let version = manifest.version.to_string();
                auditor.emit(&AuditEvent::Verified {
                    plugin: name.clone(),
                    version: version.clone(),
                    signers: verified.signers().to_vec(),
                    development_signers,
                    identities: verified.identities().to_vec(),
                    component_sha256: verified.component_sha256(),
                    requested: manifest.grants.clone(),
                    grants: grants.clone(),
                })?;
                (verified.into_component(), grants, hooks, Some(version))
            }
        };
        let signed = version.is_some();
        // 2. policy: imports within grants, limits within range, keys known.
        if limits.fuel.is_some() && !self.compiler.fuel {
            return Err(PolicyError::FuelWithoutMetering { plugin: name }.into());
        }
        let authorized = policy::authorize(loaded, grants, limits, |key| self.keys.contains(key))?;
        // 3. compile.
        let compiler = Arc::clone(&self.compiler);
        let (authorized, component) = tokio::task::spawn_blocking(move || {
            let component = compiler.compile(&authorized);
            (authorized, component)
        })
        .await
        .map_err(|e| task_failed(&name, "compilation", &e))?;
        let component = component?;
        // 4. link: only what was granted.
        let linker = capability::link(&name, &self.compiler.engine, authorized.grants())?;
        let mismatch = |e: wasmtime::Error| LinkError::Mismatch {
            plugin: name.clone(),
            reason: format!("{e:#}"),
        };
        let pre = linker.instantiate_pre(&component).map_err(mismatch)?;
        let pre = PluginPre::new(pre).map_err(mismatch)?;
        // 5. instantiate: shared state, the pool, and a first instance.
        let shared = Arc::new(PluginShared {
            log: Arc::new(LogSink::new(
                &name,
                authorized.limits().log_bytes_per_sec,
                authorized.limits().log_burst_bytes,
            )),
            config,
            kv: authorized
                .grants()
                .kv
                .as_ref()
                .map(|kv| Arc::new(KvStore::new(kv.quota_bytes))),
            keys: authorized.grants().crypto.as_ref().map(|grant| PluginKeys {
                ring: Arc::clone(&self.keys),
                granted: grant.keys.clone(),
            }),
            metrics: Default::default(),
            clock_origin: Instant::now(),
            name: name.clone(),
        });
        let deadline_ticks = self
            .compiler
            .ticker
            .ticks_for(authorized.limits().call_timeout);
        let pool = Pool::new(
            pre,
            self.compiler.engine.clone(),
            shared,
            authorized.limits().clone(),
            instance_mode,
            deadline_ticks,
            self.compiler.fuel,
        );
        pool.prewarm()?;
        let component_sha256 = authorized.loaded().sha256();
        auditor.emit(&AuditEvent::Loaded {
            plugin: name.clone(),
            signed,
            version: version.clone(),
            component_sha256,
            grants: authorized.grants().clone(),
            hooks,
            routes: routes.clone(),
        })?;
        Ok(Plugin::new(
            pool,
            failure_policy,
            hooks,
            routes,
            Arc::clone(&self.compiler.ticker),
            component_sha256,
            version,
        ))
    }
}

/// A blocking task of a load that panicked (or was cancelled): the host's fault, so
/// not reported as the plugin's (it is not invalid WebAssembly).
fn task_failed(
    plugin: &str,
    task: &'static str,
    error: &tokio::task::JoinError,
) -> crate::error::CompileError {
    crate::error::CompileError::TaskFailed {
        plugin: plugin.to_owned(),
        task,
        reason: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::CompileError;

    #[tokio::test]
    async fn a_panicked_task_is_a_task_failure_not_invalid_wasm() {
        let error = tokio::task::spawn_blocking(|| panic!("boom"))
            .await
            .unwrap_err();
        let error = task_failed("demo", "compilation", &error);
        assert!(
            matches!(
                &error,
                CompileError::TaskFailed { plugin, task: "compilation", reason }
                    if plugin == "demo" && reason.contains("panicked")
            ),
            "{error:?}"
        );
        assert!(
            error
                .to_string()
                .starts_with("plugin `demo`: the compilation task failed: task "),
            "{error}"
        );
        let reason: &'static str = (&error).into();
        assert_eq!(reason, "task_failed");
    }
}
