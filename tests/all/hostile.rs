//! One test per hostile fixture: each asserts the specific outcome, then that the
//! same plugin (rebuilt) and the host serve the next call.

use std::io::ErrorKind;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use palisade::WasmTrap;
use palisade::{
    CallError, Capability, Code, CryptoGrant, Decision, Grants, KeyUse, Limits,
    MAX_METADATA_CHANGES_PER_CALL, MAX_METADATA_TOTAL_BYTES, MAX_REJECTION_MESSAGE_BYTES,
    MAX_REPLY_BODY_BYTES, MAX_REPLY_HEADERS, Plugin, PolicyError, TrapKind,
};
use palisade_tests::guests::*;
use palisade_tests::{load, spec};

use crate::support::{call, expect_continue, headers, host};

/// Each hostile fixture has a test function named after it (`read_file`, or
/// `read_env_...`) whose body names the fixture's component: an item of that name,
/// or a test that never loads the fixture, does not count.
#[test]
fn every_hostile_fixture_has_a_test_that_loads_it() {
    let sources = [include_str!("hostile.rs"), include_str!("../env_secret.rs")];
    for (name, component) in palisade_tests::guests::HOSTILE {
        let loaded = sources.iter().any(|source| {
            test_functions(source).any(|(fn_name, body)| {
                (fn_name == *name || fn_name.starts_with(&format!("{name}_")))
                    && body.contains(component)
            })
        });
        assert!(
            loaded,
            "hostile fixture `{name}` has no test named after it that loads {component}"
        );
    }
}

/// `(name, body)` of every `#[test]` or `#[tokio::test]` function in `source`: the
/// body runs to the first line that is a lone `}` (rustfmt's end of an item).
fn test_functions(source: &str) -> impl Iterator<Item = (&str, &str)> {
    source
        .split("#[tokio::test")
        .chain(source.split("#[test]"))
        .skip(1)
        .filter_map(|rest| {
            let after_fn = &rest[rest.find("fn ")? + 3..];
            let name = &after_fn[..after_fn.find('(')?];
            let body = &after_fn[..after_fn.find("\n}\n").unwrap_or(after_fn.len())];
            Some((name, body))
        })
}

fn all_grants() -> Grants {
    Grants::none()
        .log()
        .clock()
        .config()
        .kv(1 << 20)
        .metrics()
        .crypto(CryptoGrant::default().key("any", KeyUse::SignAndVerify))
}

/// After a hostile call: the plugin serves a benign call on a fresh instance.
async fn serves_next_call(plugin: &Plugin, name: &str) {
    let metadata = expect_continue(plugin, headers(&[])).await;
    assert_eq!(metadata["x-served-by"], name);
}

async fn attack(plugin: &Plugin, how: &str) -> Result<Decision, CallError> {
    let mut metadata = headers(&[("x-attack", how)]);
    plugin.on_request(&call(), &mut metadata).await
}

fn limits(timeout_ms: u64) -> Limits {
    Limits::default().with_call_timeout(Duration::from_millis(timeout_ms))
}

// read_env is in tests/env_secret.rs: it sets a process environment variable, so it
// runs in a binary of its own.

#[tokio::test]
async fn read_file() {
    // Even with every capability granted, file access cannot be had.
    let err = load(host(), "read-file", HOSTILE_READ_FILE, all_grants())
        .await
        .unwrap_err();
    match err {
        palisade::Error::Policy(PolicyError::Forbidden { import, .. }) => {
            assert!(import.starts_with("wasi:filesystem/"), "{import}");
        }
        other => panic!("expected a forbidden import, got {other}"),
    }
}

#[tokio::test]
async fn open_socket() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let err = load(host(), "open-socket", HOSTILE_OPEN_SOCKET, all_grants())
        .await
        .unwrap_err();
    let palisade::Error::Policy(PolicyError::Forbidden { import, reason, .. }) = &err else {
        panic!("expected a forbidden import, got {err}");
    };
    // The component imports both; the first one listed is reported.
    assert!(
        import.starts_with("wasi:sockets/") || import.starts_with("wasi:filesystem/"),
        "{import}"
    );
    assert!(!reason.is_empty());
    assert!(err.to_string().contains("no capability grants it"));
    // No connection ever reached the listener.
    assert_eq!(listener.accept().unwrap_err().kind(), ErrorKind::WouldBlock);
}

#[tokio::test]
async fn loop_forever() {
    let plugin = host()
        .load(spec("loop-forever", HOSTILE_LOOP_FOREVER).limits(limits(50)))
        .await
        .unwrap();
    let started = Instant::now();
    let err = attack(&plugin, "1").await.unwrap_err();
    assert_eq!(
        err.trap_kind(),
        Some(&TrapKind::Timeout(Duration::from_millis(50)))
    );
    // Liveness, not performance: the call ended, long before a test would hang.
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(plugin.stats().timeouts, 1);
    serves_next_call(&plugin, "loop-forever").await;
}

#[tokio::test]
async fn alloc_unbounded() {
    let limits = limits(5_000).with_max_memory_bytes(8 << 20);
    let plugin = host()
        .load(spec("alloc-unbounded", HOSTILE_ALLOC_UNBOUNDED).limits(limits))
        .await
        .unwrap();
    let err = attack(&plugin, "1").await.unwrap_err();
    assert_eq!(
        err.trap_kind(),
        Some(&TrapKind::MemoryLimit(8 << 20)),
        "{err}"
    );
    serves_next_call(&plugin, "alloc-unbounded").await;
}

#[tokio::test]
async fn stack_overflow() {
    let plugin = host()
        .load(spec("stack-overflow", HOSTILE_STACK_OVERFLOW).limits(limits(5_000)))
        .await
        .unwrap();
    let err = attack(&plugin, "1").await.unwrap_err();
    // Rust keeps its frames' locals on a shadow stack in linear memory, placed below
    // the data; overflowing it runs off address 0 and traps as an out-of-bounds access
    // before wasmtime's guard on the native stack is reached. Either is a clean trap.
    let kind = err.trap_kind().unwrap();
    assert!(
        *kind == TrapKind::StackOverflow || *kind == TrapKind::Wasm(WasmTrap::MemoryOutOfBounds),
        "{err}"
    );
    serves_next_call(&plugin, "stack-overflow").await;
}

#[tokio::test]
async fn panic() {
    let plugin = host().load(spec("panic", HOSTILE_PANIC)).await.unwrap();
    let err = attack(&plugin, "panic").await.unwrap_err();
    assert_eq!(err.trap_kind(), Some(&TrapKind::Unreachable), "{err}");
    assert!(err.to_string().contains("plugin `panic` trapped"), "{err}");
    serves_next_call(&plugin, "panic").await;
    let err = attack(&plugin, "exit").await.unwrap_err();
    // `std::process::exit(3)`: WASI 0.2 carries only failure, so the status is 1.
    assert_eq!(err.trap_kind(), Some(&TrapKind::Exit(1)), "{err}");
    serves_next_call(&plugin, "panic").await;
}

#[tokio::test]
async fn trap_sometimes() {
    // The load test in `tower.rs` drives it over real sockets; here, one trap and
    // the calls around it.
    let plugin = host()
        .load(spec("trap-sometimes", HOSTILE_TRAP_SOMETIMES))
        .await
        .unwrap();
    serves_next_call(&plugin, "trap-sometimes").await;
    let mut metadata = headers(&[("x-trap", "1")]);
    let err = plugin.on_request(&call(), &mut metadata).await.unwrap_err();
    assert_eq!(err.trap_kind(), Some(&TrapKind::Unreachable), "{err}");
    // The trapped hook's metadata changes were rolled back.
    assert!(metadata.get("x-served-by").is_none());
    serves_next_call(&plugin, "trap-sometimes").await;
    assert_eq!(plugin.stats().traps, 1);
}

#[tokio::test]
async fn log_spam() {
    let limits = limits(30_000)
        .with_log_bytes_per_sec(64 << 10)
        .with_log_burst_bytes(256 << 10);
    let plugin = host()
        .load(
            spec("log-spam", HOSTILE_LOG_SPAM)
                .grants(Grants::none().log())
                .limits(limits.clone()),
        )
        .await
        .unwrap();
    let started = Instant::now();
    let before = palisade_tests::resident_bytes();
    for how in ["stdout", "stderr", "log"] {
        let mut metadata = headers(&[("x-attack", how)]);
        let decision = plugin.on_request(&call(), &mut metadata).await.unwrap();
        assert_eq!(decision, Decision::Continue, "{how}");
        assert_eq!(metadata["x-served-by"], "log-spam");
    }
    let grown = palisade_tests::resident_bytes().saturating_sub(before);
    let stats = plugin.stats();
    // 300 MiB were written; what reached the log is the burst plus the rate over the
    // elapsed time, each message cut to the message cap.
    let allowed = limits.log_burst_bytes
        + limits.log_bytes_per_sec * (started.elapsed().as_secs() + 1)
        + palisade::MAX_LOG_MESSAGE_BYTES as u64;
    assert!(stats.log_bytes_emitted <= allowed, "{stats:?}");
    // How many messages the guest gets to write (and so how many are dropped)
    // depends on how fast it runs: ~4,000+ on a quiet machine, 3,809 seen at a load
    // average of 10. The byte bound above is the guarantee; this shows dropping.
    assert!(stats.log_messages_dropped >= 1000, "{stats:?}");
    // The host buffered none of it.
    assert!(grown < 64 << 20, "resident memory grew by {grown} bytes");
}

#[tokio::test]
async fn import_ungranted() {
    let err = load(
        host(),
        "import-ungranted",
        HOSTILE_IMPORT_UNGRANTED,
        Grants::none().log(),
    )
    .await
    .unwrap_err();
    match &err {
        palisade::Error::Policy(PolicyError::NotGranted {
            plugin,
            import,
            capability,
        }) => {
            assert_eq!(plugin, "import-ungranted");
            assert_eq!(import, "palisade:plugin/crypto@0.2.0");
            assert_eq!(*capability, Capability::Crypto);
        }
        other => panic!("expected NotGranted, got {other}"),
    }
    assert_eq!(
        err.to_string(),
        "plugin `import-ungranted` imports `palisade:plugin/crypto@0.2.0`, which needs capability `crypto`; it was not granted"
    );
    // Positive control: granted, it loads and runs.
    let grants = Grants::none()
        .log()
        .crypto(CryptoGrant::default().key("any", KeyUse::SignAndVerify));
    let plugin = load(host(), "import-ungranted", HOSTILE_IMPORT_UNGRANTED, grants)
        .await
        .unwrap();
    expect_continue(&plugin, headers(&[])).await;
}

#[tokio::test]
async fn forge_identity() {
    let plugin = load(
        host(),
        "forge-identity",
        HOSTILE_FORGE_IDENTITY,
        Grants::none(),
    )
    .await
    .unwrap();
    let call = std::sync::Arc::new(
        palisade::CallInfo::server("orders.v1.Orders", "Create")
            .with_peer_identity("spiffe://palisade.test/frontend"),
    );
    let mut metadata = headers(&[(
        "x-palisade-peer-identity",
        "spiffe://palisade.test/frontend",
    )]);
    let decision = plugin.on_request(&call, &mut metadata).await.unwrap();
    assert_eq!(decision, Decision::Continue);
    assert_eq!(
        metadata["x-forge-results"],
        "x-palisade-peer-identity=reserved,x-palisade-anything=reserved,:authority=reserved,\
         content-length=reserved,te=reserved,grpc-status=reserved,host=reserved,\
         remove:x-palisade-peer-identity=reserved,x-normal=ok"
    );
    assert_eq!(
        metadata["x-palisade-peer-identity"],
        "spiffe://palisade.test/frontend"
    );
    assert!(metadata.get("x-palisade-anything").is_none());
    assert!(metadata.get("content-length").is_none());
    assert_eq!(metadata["x-normal"], "ok");
}

async fn kv_op(plugin: &Plugin, op: &str) -> String {
    let metadata = expect_continue(plugin, headers(&[("x-kv-op", op)])).await;
    metadata["x-kv-result"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn kv_abuse() {
    let quota = 64 << 10;
    let a = load(host(), "kv-a", HOSTILE_KV_ABUSE, Grants::none().kv(quota))
        .await
        .unwrap();
    let b = load(host(), "kv-b", HOSTILE_KV_ABUSE, Grants::none().kv(quota))
        .await
        .unwrap();
    assert_eq!(kv_op(&a, "write-secret").await, "ok");
    // Positive control: a sees its own state, from a new call.
    assert_eq!(kv_op(&a, "read-secret").await, "s3cr3t");
    // b, the same code under another name, cannot see it.
    assert_eq!(kv_op(&b, "read-secret").await, "<absent>");
    // b fills its quota: refused with quota-exceeded, a untouched.
    let result = kv_op(&b, "fill").await;
    assert!(result.starts_with("quota-exceeded after "), "{result}");
    assert!(b.stats().kv_used_bytes <= quota);
    assert_eq!(a.kv_get("secret").as_deref(), Some(&b"s3cr3t"[..]));
    assert_eq!(kv_op(&a, "read-secret").await, "s3cr3t");
}

#[tokio::test]
async fn metadata_flood() {
    let plugin = load(
        host(),
        "metadata-flood",
        HOSTILE_METADATA_FLOOD,
        Grants::none(),
    )
    .await
    .unwrap();
    let mut metadata = headers(&[]);
    let decision = plugin.on_request(&call(), &mut metadata).await.unwrap();
    let result = match decision {
        Decision::Continue => metadata["x-flood-result"].to_str().unwrap().to_owned(),
        Decision::Reject { message, .. } => {
            message.trim_start_matches("metadata-flood: ").to_owned()
        }
        other => panic!("unexpected {other:?}"),
    };
    let count: usize = result
        .strip_prefix("limit-exceeded after ")
        .unwrap_or_else(|| panic!("{result}"))
        .parse()
        .unwrap();
    assert!(count <= MAX_METADATA_CHANGES_PER_CALL, "{result}");
    let total: usize = metadata
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len())
        .sum();
    assert!(total <= MAX_METADATA_TOTAL_BYTES, "{total}");
}

#[tokio::test]
async fn oversized_outcome() {
    let plugin = load(
        host(),
        "oversized-outcome",
        HOSTILE_OVERSIZED_OUTCOME,
        Grants::none(),
    )
    .await
    .unwrap();
    // A 1 MiB rejection message is cut to the bound; the call is still rejected.
    match attack(&plugin, "message").await.unwrap() {
        Decision::Reject { code, message } => {
            assert_eq!(code, Code::PermissionDenied);
            assert_eq!(message.len(), MAX_REJECTION_MESSAGE_BYTES);
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    // Replies over a bound trap the hook, with the bound named; the hook's metadata
    // change (`x-served-by`) is rolled back, and the next call is served.
    for (how, what, limit) in [
        ("body", "body bytes", MAX_REPLY_BODY_BYTES),
        ("headers", "headers", MAX_REPLY_HEADERS),
        ("header-bytes", "header bytes", MAX_METADATA_TOTAL_BYTES),
    ] {
        let mut metadata = headers(&[("x-attack", how)]);
        let err = plugin.on_request(&call(), &mut metadata).await.unwrap_err();
        assert_eq!(
            err.trap_kind(),
            Some(&TrapKind::ReplyTooLarge { what, limit }),
            "{how}: {err}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "plugin `oversized-outcome` trapped: reply too large: more than {limit} {what}"
            )
        );
        assert!(metadata.get("x-served-by").is_none(), "{how}");
        serves_next_call(&plugin, "oversized-outcome").await;
    }
}

#[tokio::test]
async fn metrics_flood() {
    // 10,000 metric calls take a few ms on a quiet machine; the deadline is generous so
    // that a loaded CI machine tests the cap, not the clock (the default 100 ms once
    // ran out at a load average of 10).
    let plugin = host()
        .load(
            spec("metrics-flood", HOSTILE_METRICS_FLOOD)
                .grants(Grants::none().metrics())
                .limits(limits(10_000)),
        )
        .await
        .unwrap();
    serves_next_call(&plugin, "metrics-flood").await;
    let metrics = plugin.stats().metrics;
    assert_eq!(metrics.len(), palisade::MAX_METRICS_PER_PLUGIN);
    // The first names won; nothing oversized, malformed or NaN got in.
    assert_eq!(metrics["flood_0"], palisade::MetricValue::Counter(1));
    assert!(metrics.keys().all(|k| k.starts_with("flood_")));
    // A second call only adds to the existing counters.
    serves_next_call(&plugin, "metrics-flood").await;
    assert_eq!(
        plugin.stats().metrics["flood_0"],
        palisade::MetricValue::Counter(2)
    );
}

#[tokio::test]
async fn sleep() {
    // With `clock` granted, the plugin can arm a timer, but nothing it can reach ever
    // waits: the wait traps at once instead of parking the host thread (the deadline
    // would not interrupt a host-side wait).
    let plugin = host()
        .load(
            spec("sleep", HOSTILE_SLEEP)
                .grants(Grants::none().clock())
                .limits(limits(10_000)),
        )
        .await
        .unwrap();
    let err = attack(&plugin, "1").await.unwrap_err();
    match err.trap_kind() {
        Some(TrapKind::Host(message)) => {
            assert!(message.contains("would block"), "{message}");
        }
        other => panic!("expected a host trap, got {other:?}: {err}"),
    }
    serves_next_call(&plugin, "sleep").await;
}

#[tokio::test]
async fn loop_forever_under_fuel() {
    // Fuel is a host-wide switch (it slows every instruction), so it gets its own host.
    let host = palisade::Host::new(
        palisade::HostConfig::default()
            .with_fuel(true)
            .with_max_instances(8),
    )
    .unwrap();
    let limits = limits(10_000).with_fuel(Some(10_000_000));
    let plugin = host
        .load(spec("loop-forever", HOSTILE_LOOP_FOREVER).limits(limits))
        .await
        .unwrap();
    let err = attack(&plugin, "1").await.unwrap_err();
    assert_eq!(
        err.trap_kind(),
        Some(&TrapKind::OutOfFuel(10_000_000)),
        "{err}"
    );
    serves_next_call(&plugin, "loop-forever").await;
}

mod multi_memory;

/// A plugin made of several core instances, each with its own linear memory.
fn multi_memory_spec(name: &str, shape: multi_memory::Shape) -> palisade::PluginSpec {
    palisade::PluginSpec::new(
        name,
        palisade::PluginSource::Bytes(multi_memory::component(shape)),
    )
}

#[tokio::test]
async fn multi_memory_limit_is_per_instance() {
    // Two memories in one plugin instance, each grown by 5 MiB per call under a
    // 16 MiB limit. The limit is for the instance: the first call takes the two to
    // 10 MiB together, the second would take them to 20 MiB. Counted per memory, each
    // would stay under 16 MiB until the fourth call.
    let shape = multi_memory::Shape {
        memories: 2,
        initial_pages: 1,
        grow_pages: 80,
        empty: 0,
    };
    let limits = limits(5_000).with_max_memory_bytes(16 << 20);
    let plugin = host()
        .load(multi_memory_spec("multi-memory", shape).limits(limits))
        .await
        .unwrap();
    let mut metadata = headers(&[]);
    let first = plugin.on_request(&call(), &mut metadata).await;
    assert_eq!(first.unwrap(), Decision::Continue);
    let err = plugin.on_request(&call(), &mut metadata).await.unwrap_err();
    assert_eq!(
        err.trap_kind(),
        Some(&TrapKind::MemoryLimit(16 << 20)),
        "{err}"
    );
    // The trapped instance is gone; a fresh one serves.
    let next = plugin.on_request(&call(), &mut metadata).await;
    assert_eq!(next.unwrap(), Decision::Continue);
    assert_eq!(plugin.stats().traps, 1);
}

#[tokio::test]
async fn multi_memory_past_the_pool_bounds_is_refused() {
    // 14 memories, or 73 core instances, in one component: more than the engine's
    // pool gives one plugin instance. Refused when the plugin is loaded, naming the
    // bound, before any instance exists.
    for (shape, what) in [
        (
            multi_memory::Shape {
                memories: 14,
                initial_pages: 1,
                grow_pages: 1,
                empty: 0,
            },
            "The component transitively contains 14 Wasm linear memories, which exceeds \
             the configured maximum of 2 in the pooling allocator",
        ),
        (
            multi_memory::Shape {
                memories: 1,
                initial_pages: 1,
                grow_pages: 1,
                empty: 71,
            },
            "The component transitively contains 73 core module instances, which exceeds \
             the configured maximum of 64 in the pooling allocator",
        ),
    ] {
        let err = host()
            .load(multi_memory_spec("multi-memory-wide", shape))
            .await
            .unwrap_err();
        let palisade::Error::Compile(palisade::CompileError::Invalid { plugin, reason }) = &err
        else {
            panic!("expected a compile error, got {err}");
        };
        assert_eq!(plugin, "multi-memory-wide");
        assert!(reason.contains(what), "{reason}");
    }
}

#[tokio::test]
async fn a_trapping_start_function_is_refused_at_load_as_a_start_trap() {
    // A core instance whose start function executes `unreachable`: the plugin traps
    // while its first instance is made, at load. That is a trap, typed as a call's
    // would be, not a mismatch of the host's interfaces.
    let shape = multi_memory::Shape {
        memories: 0,
        initial_pages: 1,
        grow_pages: 1,
        empty: 1,
    };
    let err = host()
        .load(palisade::PluginSpec::new(
            "start-trap",
            palisade::PluginSource::Bytes(multi_memory::component_with_trapping_start(shape)),
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            palisade::Error::Instantiate(palisade::InstantiateError::StartTrapped {
                plugin,
                kind: TrapKind::Unreachable,
            }) if plugin == "start-trap"
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "plugin `start-trap` trapped while starting: unreachable executed (the guest panicked or aborted)"
    );
}

#[tokio::test]
async fn multi_memory_plugin_cannot_starve_another() {
    // A host with room for 4 plugin instances. The hostile plugin is as wide as the
    // pool allows one instance to be (64 core instances, 2 memories) and may have 2
    // instances; it warms as many as it can. Another plugin must still load and serve.
    let host = palisade::Host::new(palisade::HostConfig::default().with_max_instances(4)).unwrap();
    let shape = multi_memory::Shape {
        memories: 2,
        initial_pages: 1,
        grow_pages: 1,
        empty: 61,
    };
    assert_eq!(shape.core_instances(), 64);
    let limits = Limits::default().with_max_concurrency(2);
    let hostile = host
        .load(multi_memory_spec("multi-memory-hog", shape).limits(limits.clone()))
        .await
        .unwrap();
    // Asked for 8 idle instances, it gets its cap, busy and idle together.
    assert_eq!(hostile.warm(8).await.unwrap(), 2);
    let benign = host
        .load(spec("trivial", GUEST_TRIVIAL).limits(limits))
        .await
        .unwrap();
    let mut metadata = headers(&[("x-request-id", "1")]);
    let decision = benign.on_request(&call(), &mut metadata).await.unwrap();
    assert_eq!(decision, Decision::Continue);
    assert_eq!(benign.warm(2).await.unwrap(), 2);
    // The hostile plugin's own calls are still served from its warm instances.
    let decision = hostile
        .on_request(&call(), &mut headers(&[]))
        .await
        .unwrap();
    assert_eq!(decision, Decision::Continue);
}

#[tokio::test]
async fn random_flood() {
    // `wasi:random` is linked for every plugin, with no grant. The deadline is long,
    // so that only the cap can end the call early.
    let plugin = host()
        .load(spec("random-flood", HOSTILE_RANDOM_FLOOD).limits(limits(10_000)))
        .await
        .unwrap();
    // Up to the cap, a call gets all it asks for.
    let cap = palisade::MAX_RANDOM_BYTES;
    let metadata = expect_continue(&plugin, headers(&[("x-attack", &cap.to_string())])).await;
    assert_eq!(metadata["x-random-len"], cap.to_string().as_str());
    // 64 MiB in one call (wasmtime's default cap): refused before the host makes any
    // (the host used to make all 64 MiB, then fail to copy them into the guest's
    // 16 MiB).
    let started = Instant::now();
    let err = attack(&plugin, "67108864").await.unwrap_err();
    match err.trap_kind() {
        Some(TrapKind::Host(message)) => assert!(
            message.contains(&format!("requested len 67108864 exceeds limit {cap}")),
            "{message}"
        ),
        other => panic!("expected a host trap, got {other:?}: {err}"),
    }
    // Liveness, not performance.
    assert!(started.elapsed() < Duration::from_secs(5));
    serves_next_call(&plugin, "random-flood").await;
}

/// A writer into a shared buffer, for reading what the operator's log printed.
#[derive(Clone, Default)]
struct LogBuffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogBuffer {
    /// A subscriber printing into this buffer as `palisade serve` prints to stderr.
    fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync + use<> {
        let writer = self.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish()
    }

    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// The line the plugin tries to print as if it were the host's.
const FORGED_LINE: &str = "2026-12-01T00:00:00.000000Z  INFO palisade: reload: new chain in place";

/// No line of `log` is the forged one, or starts with its timestamp: each forging
/// attempt stayed inside the host's own line, escaped.
fn assert_not_forged(log: &str) {
    for line in log.lines() {
        assert!(
            !line.trim_start().starts_with("2026-12-01T00:00:00"),
            "a forged line reached the log:\n{log}"
        );
    }
}

/// The fixture with its marker function renamed, in the name section, to a newline
/// and the forged line (the same length, so that no size field changes).
#[expect(
    clippy::disallowed_methods,
    reason = "the test edits the fixture's bytes before the host reads them"
)]
fn forge_log_component(component: &str) -> Vec<u8> {
    const MARKER: &[u8] = b"palisade_forged_frame_marker_abcdefghijklmnopqrstuvwxyz_abcdefghijklmnopqrstuvwxyz_abcdefgh";
    let mut forged = format!("\n{FORGED_LINE}\n").into_bytes();
    assert!(forged.len() <= MARKER.len());
    forged.resize(MARKER.len(), b' ');
    let mut bytes = std::fs::read(component).unwrap();
    let mut found = 0;
    let mut at = 0;
    while let Some(offset) = bytes[at..].windows(MARKER.len()).position(|w| w == MARKER) {
        let start = at + offset;
        bytes[start..start + MARKER.len()].copy_from_slice(&forged);
        at = start + MARKER.len();
        found += 1;
    }
    assert!(
        found > 0,
        "the marker is not in the component's name section"
    );
    bytes
}

#[tokio::test]
async fn forge_log() {
    let plugin = host()
        .load(
            palisade::PluginSpec::new(
                "forge-log",
                palisade::PluginSource::Bytes(forge_log_component(HOSTILE_FORGE_LOG)),
            )
            .grants(Grants::none().clock())
            .limits(limits(10_000)),
        )
        .await
        .unwrap();

    // A trap whose backtrace carries the forged frame name. The test runs on one
    // thread (tokio's current-thread runtime), so a scoped subscriber sees it all.
    let log = LogBuffer::default();
    let guard = tracing::subscriber::set_default(log.subscriber());
    let err = attack(&plugin, "trap").await.unwrap_err();
    let verdict = palisade::Chain::new([plugin.clone()])
        .on_request(&call(), &mut headers(&[("x-attack", "trap")]))
        .await;
    drop(guard);
    // The caller reads a bounded sentence the host wrote, not the backtrace.
    let expected = "plugin `forge-log` trapped: host error: wasi:io/poll.pollable.block would block: a plugin cannot wait on the host";
    assert_eq!(err.to_string(), expected);
    assert_eq!(
        verdict.decision,
        Decision::Reject {
            code: Code::Unavailable,
            message: expected.into()
        }
    );
    // The operator's log keeps the backtrace, escaped on the host's own line.
    let printed = log.text();
    assert_not_forged(&printed);
    let line = printed
        .lines()
        .find(|l| l.contains("plugin trapped; instance discarded"))
        .unwrap_or_else(|| panic!("no trap line in:\n{printed}"));
    assert!(
        line.contains(&format!("\\n{FORGED_LINE}\\n")),
        "the backtrace is not in the log, escaped: {line}"
    );
    serves_next_call(&plugin, "forge-log").await;

    // A reply header whose name holds a newline and the forged line: dropped, and
    // logged escaped.
    use tower::ServiceExt as _;
    let service = tower::ServiceBuilder::new()
        .layer(palisade::layer::ServerLayer::new(palisade::Chain::new([
            plugin.clone(),
        ])))
        .service(tower::service_fn(|_: http::Request<String>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
        }));
    let request = http::Request::get("http://orders.internal/orders/1")
        .header("x-attack", "header")
        .body(String::new())
        .unwrap();
    let log = LogBuffer::default();
    let guard = tracing::subscriber::set_default(log.subscriber());
    let response = service.oneshot(request).await.unwrap();
    drop(guard);
    assert_eq!(response.status(), http::StatusCode::OK);
    assert!(
        response
            .headers()
            .keys()
            .all(|name| !name.as_str().starts_with("x-ok")),
        "{:?}",
        response.headers()
    );
    let printed = log.text();
    assert_not_forged(&printed);
    let line = printed
        .lines()
        .find(|l| l.contains("reply header dropped"))
        .unwrap_or_else(|| panic!("no dropped-header line in:\n{printed}"));
    assert!(
        line.contains(&format!("header=x-ok\\n{FORGED_LINE}")),
        "{line}"
    );
}
