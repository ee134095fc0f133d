//! `palisade serve`'s reloads do their file I/O off the async workers and are
//! bounded in time: a plugin path that is a FIFO fails the reload at once (it used
//! to block a worker and the reload lock forever), and a reload past its bound is
//! abandoned, releasing the lock for the next one.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code: a failed unwrap is a failed test, with its message"
)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use palisade::{Error, LoadError};
use palisade_cli::serve::{ReloadError, Serve};
use palisade_tests::guests::ADD_HEADER;

/// A development config with one unsigned plugin read from `component`.
fn write_config(dir: &Path, component: &str) -> PathBuf {
    let path = dir.join("palisade.toml");
    std::fs::write(
        &path,
        format!(
            "mode = \"development\"\n[transport]\nplaintext = \"insecure-allow\"\n\
             [serve]\nlisten = \"127.0.0.1:0\"\nupstream = \"http://127.0.0.1:9\"\n\
             reload = \"verified\"\n[[plugins]]\nname = \"add-header\"\n\
             component = \"{component}\"\ngrants = {{ config = {{}} }}\n\
             config = {{ name = \"x-tenant\", value = \"blue\" }}\n"
        ),
    )
    .unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_naming_a_fifo_fails_at_once_and_the_next_one_goes_through() {
    let dir = palisade_tests::temp_dir("reload-io", "fifo");
    std::fs::copy(ADD_HEADER, dir.join("c.wasm")).unwrap();
    let serve = Serve::start(write_config(&dir, "c.wasm")).await.unwrap();
    let reloader = serve.reloader();
    let made = std::process::Command::new("mkfifo")
        .arg(dir.join("p.fifo"))
        .status()
        .unwrap();
    assert!(made.success(), "mkfifo failed");
    write_config(&dir, "p.fifo");
    // A liveness bound, not a timing assertion: a reload that blocks on the FIFO
    // fails the test instead of hanging it.
    let reload = tokio::spawn({
        let reloader = reloader.clone();
        async move { reloader.reload().await }
    });
    let result = tokio::time::timeout(Duration::from_secs(60), reload)
        .await
        .expect("the reload blocked on a FIFO")
        .unwrap();
    match result {
        Err(ReloadError::Load(Error::Load(LoadError::Io { source, .. }))) => assert_eq!(
            source.to_string(),
            "not a regular file (it is a FIFO (named pipe)); give the path of a file"
        ),
        other => panic!("expected a load error, got {other:?}"),
    }
    // The reload lock was released: a good file reloads.
    write_config(&dir, "c.wasm");
    assert_eq!(reloader.reload().await.unwrap(), ["add-header"]);
    drop(serve);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_past_its_bound_is_abandoned_and_releases_the_lock() {
    let dir = palisade_tests::temp_dir("reload-io", "bound");
    std::fs::copy(ADD_HEADER, dir.join("c.wasm")).unwrap();
    let serve = Serve::start(write_config(&dir, "c.wasm")).await.unwrap();
    let before = serve.chain().current();
    // No reload (file read, compile, instantiate) completes in zero time.
    let hasty = serve.reloader().with_timeout(Duration::ZERO);
    match hasty.reload().await {
        Err(error @ ReloadError::TimedOut { limit }) => {
            assert_eq!(limit, Duration::ZERO);
            assert_eq!(error.outcome(), "failed");
            assert_eq!(
                error.to_string(),
                "the reload took longer than 0 s and was abandoned (a file on a hung file system?)"
            );
        }
        other => panic!("expected TimedOut, got {other:?}"),
    }
    assert!(std::sync::Arc::ptr_eq(&before, &serve.chain().current()));
    assert_eq!(
        palisade_cli::serve::RELOAD_TIMEOUT,
        Duration::from_secs(120)
    );
    assert_eq!(serve.reloader().reload().await.unwrap(), ["add-header"]);
    drop(serve);
    let _ = std::fs::remove_dir_all(&dir);
}
