//! Chains: order, short-circuit, failure policies, rebuild and backoff, instance modes.

use std::time::Duration;

use palisade_host::{
    CallError, Chain, Code, Decision, FailurePolicy, Grants, Hooks, InstanceMode, Limits, Plugin,
    TrapKind,
};
use palisade_tests::guests::*;
use palisade_tests::spec;

use crate::support::{call, headers, host};

async fn add_header(name: &str) -> Plugin {
    host()
        .load(
            spec("add-header", ADD_HEADER)
                .grants(Grants::none().config())
                .config([("name", name), ("value", "1")]),
        )
        .await
        .unwrap()
}

async fn looping(policy: FailurePolicy) -> Plugin {
    host()
        .load(
            spec("loop-forever", HOSTILE_LOOP_FOREVER)
                .limits(Limits {
                    call_timeout: Duration::from_millis(20),
                    ..Limits::default()
                })
                .failure_policy(policy),
        )
        .await
        .unwrap()
}

#[tokio::test]
async fn request_runs_in_order_and_stops_at_the_first_reject() {
    let deny_all = host()
        .load(spec("rbac", RBAC).grants(Grants::none().config().log()))
        .await
        .unwrap();
    let chain = Chain::new([
        add_header("x-first").await,
        deny_all,
        add_header("x-third").await,
    ]);
    let mut metadata = headers(&[]);
    let verdict = chain.on_request(&call(), &mut metadata).await;
    assert!(matches!(
        verdict.decision,
        Decision::Reject {
            code: Code::PermissionDenied,
            ..
        }
    ));
    assert_eq!(verdict.decided_by.as_deref(), Some("rbac"));
    assert_eq!(metadata["x-first"], "1");
    assert!(
        metadata.get("x-third").is_none(),
        "the chain went past a reject"
    );
}

#[tokio::test]
async fn response_runs_every_plugin() {
    let chain = Chain::new([add_header("x-a").await, add_header("x-b").await]);
    let mut metadata = headers(&[]);
    let verdict = chain.on_response(&call(), Code::Ok, &mut metadata).await;
    assert_eq!(verdict.decision, Decision::Continue);
    assert_eq!(metadata.get_all("x-added-by").iter().count(), 2);
}

#[tokio::test]
async fn a_hook_left_at_its_default_is_called_once_then_skipped() {
    // `trivial` writes only a request hook; `add-header` writes both.
    let trivial = host().load(spec("trivial", GUEST_TRIVIAL)).await.unwrap();
    let both = add_header("x-a").await;
    for _ in 0..3 {
        for plugin in [&trivial, &both] {
            let mut metadata = headers(&[]);
            let decision = plugin.on_response(&call(), Code::Ok, &mut metadata).await;
            assert_eq!(decision.unwrap(), Decision::Continue);
        }
    }
    let stats = trivial.stats();
    assert_eq!(stats.calls, 1, "the default response hook ran once");
    assert_eq!(
        stats.unimplemented_hooks,
        Hooks {
            request: false,
            response: true
        }
    );
    assert_eq!(both.stats().calls, 3);
    assert_eq!(
        both.stats().unimplemented_hooks,
        Hooks {
            request: false,
            response: false
        }
    );
    // The hook the plugin does write is still called, and still decides.
    let mut metadata = headers(&[]);
    let decision = trivial.on_request(&call(), &mut metadata).await.unwrap();
    assert!(matches!(
        decision,
        Decision::Reject {
            code: Code::InvalidArgument,
            ..
        }
    ));
    assert_eq!(trivial.stats().calls, 2);
}

#[tokio::test]
async fn fail_closed_rejects_naming_the_plugin_and_cause() {
    let chain = Chain::new([
        looping(FailurePolicy::FailClosed).await,
        add_header("x-after").await,
    ]);
    let mut metadata = headers(&[("x-attack", "1")]);
    let verdict = chain.on_request(&call(), &mut metadata).await;
    let Decision::Reject { code, message } = &verdict.decision else {
        panic!("{verdict:?}");
    };
    assert_eq!(*code, Code::Unavailable);
    assert_eq!(
        message,
        "plugin `loop-forever` trapped: deadline of 20ms exceeded"
    );
    assert_eq!(verdict.decided_by.as_deref(), Some("loop-forever"));
    assert!(metadata.get("x-after").is_none());
}

#[tokio::test]
async fn fail_open_passes_the_call_and_records_the_failure() {
    let chain = Chain::new([
        looping(FailurePolicy::FailOpen).await,
        add_header("x-after").await,
    ]);
    let mut metadata = headers(&[("x-attack", "1")]);
    let verdict = chain.on_request(&call(), &mut metadata).await;
    assert_eq!(verdict.decision, Decision::Continue);
    assert_eq!(metadata["x-after"], "1");
    assert_eq!(verdict.failures.len(), 1);
    assert_eq!(
        verdict.failures[0].trap_kind(),
        Some(&TrapKind::Timeout(Duration::from_millis(20)))
    );
}

#[tokio::test]
async fn a_plugin_that_keeps_trapping_backs_off_then_recovers() {
    let plugin = host().load(spec("panic", HOSTILE_PANIC)).await.unwrap();
    for _ in 0..3 {
        let mut metadata = headers(&[("x-attack", "panic")]);
        let err = plugin.on_request(&call(), &mut metadata).await.unwrap_err();
        assert_eq!(err.trap_kind(), Some(&TrapKind::Unreachable));
    }
    let mut metadata = headers(&[]);
    let err = plugin.on_request(&call(), &mut metadata).await.unwrap_err();
    assert!(
        matches!(
            err,
            CallError::BackingOff {
                consecutive_traps: 3,
                ..
            }
        ),
        "{err}"
    );
    tokio::time::sleep(Duration::from_millis(30)).await;
    let mut metadata = headers(&[]);
    assert_eq!(
        plugin.on_request(&call(), &mut metadata).await.unwrap(),
        Decision::Continue
    );
    assert_eq!(metadata["x-served-by"], "panic");
}

#[tokio::test]
async fn a_trapping_hook_leaves_metadata_as_it_was() {
    let plugin = host().load(spec("panic", HOSTILE_PANIC)).await.unwrap();
    let mut metadata = headers(&[("x-attack", "panic"), ("x-kept", "yes")]);
    let before = metadata.clone();
    plugin.on_request(&call(), &mut metadata).await.unwrap_err();
    assert_eq!(metadata, before);
}

#[tokio::test]
async fn reuse_keeps_an_instance_and_fresh_mode_keeps_none() {
    let reused = add_header("x-r").await;
    let fresh = host()
        .load(
            spec("add-header", ADD_HEADER)
                .grants(Grants::none().config())
                .instance_mode(InstanceMode::FreshPerCall),
        )
        .await
        .unwrap();
    for plugin in [&reused, &fresh] {
        for _ in 0..3 {
            let mut metadata = headers(&[]);
            assert_eq!(
                plugin.on_request(&call(), &mut metadata).await.unwrap(),
                Decision::Continue
            );
        }
    }
    assert_eq!(reused.stats().idle_instances, 1);
    assert_eq!(fresh.stats().idle_instances, 0);
    assert_eq!(fresh.stats().calls, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_all_get_an_answer() {
    let plugin = add_header("x-c").await;
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let plugin = plugin.clone();
        tasks.push(tokio::spawn(async move {
            let mut metadata = headers(&[]);
            plugin.on_request(&call(), &mut metadata).await
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap(), Decision::Continue);
    }
    // Chain walks are Send too: services spawn them.
    let chain = Chain::new([plugin.clone(), plugin.clone()]);
    let mut walks = Vec::new();
    for _ in 0..16 {
        let chain = chain.clone();
        walks.push(tokio::spawn(async move {
            let mut metadata = headers(&[]);
            chain.on_request(&call(), &mut metadata).await
        }));
    }
    for walk in walks {
        assert_eq!(walk.await.unwrap().decision, Decision::Continue);
    }
    assert!(plugin.stats().idle_instances <= Limits::default().max_concurrency);
}
