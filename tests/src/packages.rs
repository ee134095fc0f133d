//! Signing the example plugins with a publisher key, as `palisade sign` does: the
//! manifest from `plugins/<name>/manifest.toml` with `component_sha256` filled in,
//! and the component the build compiled.

use palisade::SigningKey;

/// Why a package could not be made.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The package of example plugin `plugin` (a directory under `plugins/`), whose
/// component is at `component`, signed once with `key`.
#[expect(
    clippy::disallowed_methods,
    reason = "fixtures: reads a manifest and a component the build produced"
)]
pub fn sign_example(plugin: &str, component: &str, key: &SigningKey) -> Result<Vec<u8>, Error> {
    let manifest_path = format!(
        "{}/../plugins/{plugin}/manifest.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let manifest = String::from_utf8(std::fs::read(&manifest_path)?)?;
    let component = std::fs::read(component)?;
    let manifest = palisade::verify::fill_component_digest(&manifest, &component)?;
    Ok(palisade::sign_package(&manifest, &component, key)?)
}
