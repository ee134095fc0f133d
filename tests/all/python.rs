//! Python plugins (`plugin-sdk-py`, built with componentize-py): what they import,
//! the SDK's contract behaviour, the rbac example's own unit tests, and one test per
//! hostile Python fixture (`tests/hostile-py/`), each asserting the specific outcome
//! and then that the plugin and the host serve the next call. The rbac example runs
//! the Rust rbac's cases in `plugins.rs`.

use std::io::ErrorKind;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use palisade::{
    CallError, Code, Decision, Grants, Hooks, ImportClass, Limits, Plugin, TrapKind,
    classify_import, component_imports,
};
use palisade_tests::guests::python;
use palisade_tests::spec;

use crate::support::{call, component_bytes, expect_continue, headers, host};

macro_rules! assert_test_exists {
    ($name:ident) => {
        const _: fn() = || {
            let _ = $name;
        };
    };
}
palisade_tests::foreach_hostile_py!(assert_test_exists);

/// The limits a Python plugin needs (BENCHMARKS.md, "Python plugins"): its
/// interpreter starts with 12.7 MiB of linear memory and needs room to run, and a
/// componentize-py component is 38 core instances (the default allows 64).
pub(crate) fn limits() -> Limits {
    Limits::default()
        .with_max_memory_bytes(PYTHON_MEMORY)
        .with_max_core_instances(64)
        // A loaded CI machine, not Python, is what needs the time: calls take
        // microseconds (BENCHMARKS.md), and the deadline is not under test here.
        .with_call_timeout(Duration::from_secs(2))
}

/// Linear memory for a Python plugin.
const PYTHON_MEMORY: usize = 64 << 20;

async fn load(name: &str, path: &'static str, limits: Limits) -> Plugin {
    host()
        .load(spec(name, python::built(path)).limits(limits))
        .await
        .unwrap()
}

/// After a hostile call: the plugin serves a benign call on a fresh instance.
async fn serves_next_call(plugin: &Plugin, name: &str) {
    let metadata = expect_continue(plugin, headers(&[])).await;
    assert_eq!(metadata["x-served-by"], name);
}

async fn attack_traps(plugin: &Plugin, how: &str) -> CallError {
    let mut metadata = headers(&[("x-attack", how)]);
    plugin.on_request(&call(), &mut metadata).await.unwrap_err()
}

#[test]
fn a_python_plugin_imports_no_wasi_and_only_its_manifests_capabilities() {
    let imports = component_imports(&component_bytes(python::built(python::RBAC_PY))).unwrap();
    assert_eq!(
        imports,
        [
            "palisade:plugin/types@0.2.0",
            "palisade:plugin/call@0.2.0",
            "palisade:plugin/metadata@0.2.0",
            "palisade:plugin/log@0.2.0",
            "palisade:plugin/config@0.2.0",
        ]
    );
    // Nothing the policy would refuse, and nothing of WASI at all.
    for import in &imports {
        assert!(
            matches!(
                classify_import(import),
                ImportClass::Core | ImportClass::Needs(_)
            ),
            "{import}"
        );
    }
    let hostile =
        component_imports(&component_bytes(python::built(python::HOSTILE_READ_FILE))).unwrap();
    assert_eq!(
        hostile,
        [
            "palisade:plugin/types@0.2.0",
            "palisade:plugin/call@0.2.0",
            "palisade:plugin/metadata@0.2.0",
        ]
    );
}

#[tokio::test]
async fn a_hook_left_at_its_default_is_called_once_then_skipped() {
    let plugin = host()
        .load(
            spec("rbac-py", python::built(python::RBAC_PY))
                .grants(Grants::none().config().log())
                .limits(limits())
                .config([("rules", "allow * *")]),
        )
        .await
        .unwrap();
    for _ in 0..3 {
        let mut metadata = headers(&[]);
        let decision = plugin.on_response(&call(), Code::Ok, &mut metadata).await;
        assert_eq!(decision.unwrap(), Decision::Continue);
    }
    let stats = plugin.stats();
    assert_eq!(stats.calls, 1, "the default response hook ran once");
    assert_eq!(
        stats.unimplemented_hooks,
        Hooks {
            request: false,
            response: true
        }
    );
    expect_continue(&plugin, headers(&[])).await;
}

#[test]
fn rbac_py_unit_tests() {
    // The rule parser's own tests, as `plugins/rbac/src/lib.rs` has them, under the
    // Python that built the components.
    let python = std::path::Path::new(python::built(python::PYTHON));
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../plugins/rbac-py");
    let output = std::process::Command::new(python)
        .args(["-B", "-m", "unittest", "-q"])
        .current_dir(dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("Ran 4 tests"), "{stderr}");
}

#[tokio::test]
async fn read_env() {
    // Python reads its environment once, at start-up, which componentize-py runs at
    // build time (in a build script with dozens of CARGO_* variables); at run time the
    // component has no WASI to ask. It sees neither environment.
    let plugin = load("read-env", python::HOSTILE_READ_ENV, limits()).await;
    let metadata = expect_continue(&plugin, headers(&[])).await;
    assert_eq!(metadata["x-env-secret"], "<absent>");
    assert_eq!(metadata["x-env-count"], "0");
    assert_eq!(metadata["x-args-count"], "0");
}

#[tokio::test]
async fn read_file() {
    // Loaded with no grants at all: the component imports no file system (WASI is
    // stubbed), and the stub it would reach traps: the plugin cannot even catch it.
    let plugin = load("read-file", python::HOSTILE_READ_FILE, limits()).await;
    let err = attack_traps(&plugin, "1").await;
    assert_eq!(err.trap_kind(), Some(&TrapKind::Unreachable), "{err}");
    serves_next_call(&plugin, "read-file").await;
}

#[tokio::test]
async fn open_socket() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let plugin = load("open-socket", python::HOSTILE_OPEN_SOCKET, limits()).await;
    let err = attack_traps(&plugin, &port).await;
    assert_eq!(err.trap_kind(), Some(&TrapKind::Unreachable), "{err}");
    // No connection ever reached the listener.
    assert_eq!(listener.accept().unwrap_err().kind(), ErrorKind::WouldBlock);
    serves_next_call(&plugin, "open-socket").await;
}

#[tokio::test]
async fn loop_forever() {
    let plugin = load(
        "loop-forever",
        python::HOSTILE_LOOP_FOREVER,
        limits().with_call_timeout(Duration::from_millis(200)),
    )
    .await;
    let started = Instant::now();
    let mut metadata = headers(&[("x-attack", "1")]);
    let err = plugin.on_request(&call(), &mut metadata).await.unwrap_err();
    assert_eq!(
        err.trap_kind(),
        Some(&TrapKind::Timeout(Duration::from_millis(200)))
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(plugin.stats().timeouts, 1);
    serves_next_call(&plugin, "loop-forever").await;
}

#[tokio::test]
async fn alloc_unbounded() {
    let plugin = load(
        "alloc-unbounded",
        python::HOSTILE_ALLOC_UNBOUNDED,
        limits().with_call_timeout(Duration::from_secs(5)),
    )
    .await;
    let mut metadata = headers(&[("x-attack", "1")]);
    let err = plugin.on_request(&call(), &mut metadata).await.unwrap_err();
    assert_eq!(
        err.trap_kind(),
        Some(&TrapKind::MemoryLimit(PYTHON_MEMORY)),
        "{err}"
    );
    serves_next_call(&plugin, "alloc-unbounded").await;
}

#[tokio::test]
async fn panic() {
    let plugin = load("panic", python::HOSTILE_PANIC, limits()).await;
    let mut metadata = headers(&[("x-attack", "raise")]);
    let err = plugin.on_request(&call(), &mut metadata).await.unwrap_err();
    assert_eq!(err.trap_kind(), Some(&TrapKind::Unreachable), "{err}");
    serves_next_call(&plugin, "panic").await;
    let mut metadata = headers(&[("x-attack", "exit")]);
    let err = plugin.on_request(&call(), &mut metadata).await.unwrap_err();
    assert_eq!(err.trap_kind(), Some(&TrapKind::Unreachable), "{err}");
    serves_next_call(&plugin, "panic").await;
}
