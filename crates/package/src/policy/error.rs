//! Stage 2's error: a component is not an acceptable plugin for its grants.

/// Stage 2: the component is not an acceptable plugin for its grants.
#[derive(Debug, thiserror::Error, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
#[non_exhaustive]
pub enum PolicyError {
    /// The bytes are not a WebAssembly component (a core module, or garbage).
    #[error("plugin `{plugin}` is not a WebAssembly component: {reason}")]
    NotAComponent {
        /// The plugin's name.
        plugin: String,
        /// What the parser found.
        reason: String,
    },
    /// The component imports a capability that was not granted.
    #[error(
        "plugin `{plugin}` imports `{import}`, which needs capability `{capability}`; it was not granted"
    )]
    NotGranted {
        /// The plugin's name.
        plugin: String,
        /// The import, as the component names it.
        import: String,
        /// The capability that would allow it.
        capability: palisade_types::Capability,
    },
    /// The component imports something no capability can grant (files, sockets, ...).
    #[error("plugin `{plugin}` imports `{import}`: {reason}; no capability grants it")]
    Forbidden {
        /// The plugin's name.
        plugin: String,
        /// The import, as the component names it.
        import: String,
        /// What that import would give access to.
        reason: &'static str,
    },
    /// The component imports an interface the host does not know.
    #[error("plugin `{plugin}` imports unknown interface `{import}`")]
    UnknownImport {
        /// The plugin's name.
        plugin: String,
        /// The import, as the component names it.
        import: String,
    },
    /// The component was built against a version of the contract this host does not
    /// serve: it imports or exports a `palisade:plugin` interface of another version.
    #[error(
        "plugin `{plugin}` uses `{interface}`, but this host serves version {supported} of the \
         contract: rebuild it with a palisade-sdk for {supported}"
    )]
    UnsupportedVersion {
        /// The plugin's name.
        plugin: String,
        /// The interface, as the component names it.
        interface: String,
        /// The version this host serves.
        supported: &'static str,
    },
    /// The component does not export the interceptor interface.
    #[error("plugin `{plugin}` does not export `{expected}`")]
    MissingExport {
        /// The plugin's name.
        plugin: String,
        /// The export the host needs.
        expected: &'static str,
    },
    /// A limit is outside what the host allows.
    #[error("plugin `{plugin}`: limit `{limit}` = {value} is outside 1..={max}")]
    LimitOutOfRange {
        /// The plugin's name.
        plugin: String,
        /// The limit's name.
        limit: &'static str,
        /// The value asked for.
        value: u64,
        /// The host's maximum.
        max: u64,
    },
    /// A fuel limit was given, but the host was built without fuel metering
    /// (the host configuration's `fuel` is off), so it could not be enforced.
    #[error(
        "plugin `{plugin}` has a fuel limit, but the host was built without fuel metering \
         (enable it in the host's configuration, or remove the limit)"
    )]
    FuelWithoutMetering {
        /// The plugin's name.
        plugin: String,
    },
    /// A signed manifest requests more than the operator's grants allow.
    #[error(
        "plugin `{plugin}`'s manifest requests capability `{capability}`{detail}, beyond the operator's grants"
    )]
    ExceedsGrants {
        /// The plugin's name.
        plugin: String,
        /// The capability requested.
        capability: palisade_types::Capability,
        /// What part of it (a quota, a key), or empty.
        detail: String,
    },
    /// A crypto grant names a key the host does not hold.
    #[error("plugin `{plugin}` is granted key `{key}`, which is not in the host's key ring")]
    UnknownKey {
        /// The plugin's name.
        plugin: String,
        /// The key's name.
        key: String,
    },
}
