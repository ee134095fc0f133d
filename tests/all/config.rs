//! The operator's configuration file: golden refusals in `tests/ui/config/`, and
//! real configs loaded with `Host::load_config` under lockdown.

use std::path::{Path, PathBuf};

use palisade::LoadConfig;
use palisade::{Capability, ConfigError, Decision, Error, Host, Mode, OperatorConfig, PolicyError};

use crate::support::{call, headers, host};
use crate::verify::{hex, key, package};

/// Every `tests/ui/config/*.toml` is refused with exactly the text of its `.err`
/// file. Set `PALISADE_BLESS=1` to rewrite the `.err` files.
#[test]
fn config_golden_refusals() {
    let dir = Path::new("ui/config");
    let bless = std::env::var_os("PALISADE_BLESS").is_some();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "golden files missing: {files:?}");
    let mut failures = Vec::new();
    for path in &files {
        let error = match OperatorConfig::from_file(path) {
            Ok(_) => {
                failures.push(format!("{}: accepted", path.display()));
                continue;
            }
            Err(error) => format!("{error}\n"),
        };
        let expected_path = path.with_extension("err");
        if bless {
            std::fs::write(&expected_path, &error).unwrap();
            continue;
        }
        let expected = String::from_utf8(crate::support::component_bytes(
            expected_path.to_str().unwrap(),
        ))
        .unwrap();
        if expected != error {
            failures.push(format!(
                "{}:\n  expected: {expected}  actual:   {error}",
                path.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn config_lockdown_refusals_are_typed() {
    let error = OperatorConfig::from_str("mode = \"lockdown\"\n", ".").unwrap_err();
    assert!(error.is_lockdown_refusal(), "{error}");
    let error = OperatorConfig::from_str("mode = 1\n", ".").unwrap_err();
    assert!(
        matches!(
            error,
            ConfigError::Syntax {
                line: 1,
                column: 8,
                ..
            }
        ),
        "{error:?}"
    );
}

/// A fresh directory holding the signed add-header package.
fn package_dir(test: &str) -> PathBuf {
    let dir = palisade_tests::temp_dir("config", test);
    std::fs::write(dir.join("add-header.pkg"), package()).unwrap();
    dir
}

fn lockdown_config(ceilings: &str) -> String {
    format!(
        "mode = \"lockdown\"\n\
         audit_log = \"audit.jsonl\"\n\
         [trust]\n\
         keys = [\"{}\"]\n\
         threshold = 1\n\
         [ceilings]\n\
         forbid = [{ceilings}]\n\
         [[plugins]]\n\
         name = \"add-header\"\n\
         package = \"add-header.pkg\"\n\
         hooks = [\"request\"]\n\
         [plugins.grants]\n\
         config = {{}}\n\
         log = {{}}\n\
         [plugins.config]\n\
         name = \"x-tenant\"\n\
         value = \"blue\"\n\
         [plugins.limits]\n\
         call_timeout_ms = 200\n",
        hex(&key(1).public_key().to_bytes())
    )
}

#[tokio::test]
async fn config_lockdown_loads_a_signed_package_and_runs_it() {
    let dir = package_dir("loads");
    std::fs::write(dir.join("palisade.toml"), lockdown_config("\"kv\"")).unwrap();
    let config = OperatorConfig::from_file(dir.join("palisade.toml")).unwrap();
    assert_eq!(config.mode, Mode::Lockdown);
    assert_eq!(config.plugins.len(), 1);
    let chain = host().load_config(&config).await.unwrap();
    let mut metadata = headers(&[]);
    let verdict = chain.on_request(&call(), &mut metadata).await;
    assert_eq!(verdict.decision, Decision::Continue);
    assert_eq!(metadata["x-tenant"], "blue");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `compiled_cache` (relative to the config) reaches the host: a second host made
/// from the same config loads the plugin from the cache instead of compiling it.
#[tokio::test]
async fn config_compiled_cache_serves_a_restarted_host() {
    let dir = package_dir("compiled-cache");
    let text = format!("compiled_cache = \"cache\"\n{}", lockdown_config("\"kv\""));
    std::fs::write(dir.join("palisade.toml"), text).unwrap();
    let config = OperatorConfig::from_file(dir.join("palisade.toml")).unwrap();
    assert_eq!(config.compiled_cache, Some(dir.join("cache")));
    assert_eq!(config.host_config().cache_dir, Some(dir.join("cache")));

    let first = Host::new(config.host_config()).unwrap();
    drop(first.load_config(&config).await.unwrap());
    let stats = first.cache_stats();
    assert_eq!(
        (stats.hits, stats.misses, stats.stored),
        (0, 1, 1),
        "{stats:?}"
    );

    // As after a restart: a new host, the same directory.
    let second = Host::new(config.host_config()).unwrap();
    let chain = second.load_config(&config).await.unwrap();
    let stats = second.cache_stats();
    assert_eq!((stats.hits, stats.misses), (1, 0), "{stats:?}");
    let mut metadata = headers(&[]);
    let verdict = chain.on_request(&call(), &mut metadata).await;
    assert_eq!(verdict.decision, Decision::Continue);
    assert_eq!(metadata["x-tenant"], "blue");

    let error = OperatorConfig::from_str("mode = \"development\"\ncompiled_cache = \"\"\n", ".")
        .unwrap_err();
    assert!(error.to_string().contains("compiled_cache"), "{error}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn config_ceiling_forbidding_config_refuses_the_plugin() {
    let dir = package_dir("ceiling");
    std::fs::write(dir.join("palisade.toml"), lockdown_config("\"config\"")).unwrap();
    let config = OperatorConfig::from_file(dir.join("palisade.toml")).unwrap();
    assert!(!config.plugins[0].grants.allows(Capability::Config));
    match host().load_config(&config).await {
        Err(Error::Policy(PolicyError::ExceedsGrants {
            plugin, capability, ..
        })) => {
            assert_eq!(plugin, "add-header");
            assert_eq!(capability, Capability::Config);
        }
        Err(other) => panic!("refused by another stage: {other}"),
        Ok(_) => panic!("loaded"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}
