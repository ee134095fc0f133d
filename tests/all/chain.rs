//! Chains: order, short-circuit, failure policies, rebuild and backoff, instance modes.

use std::time::Duration;

use palisade::{
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
                .limits(Limits::default().with_call_timeout(Duration::from_millis(20)))
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

// tokio's clock is paused: the backoff's wait is measured on it, so the test moves
// time forward instead of racing a sleep against the wait.
#[tokio::test(start_paused = true)]
async fn a_plugin_that_keeps_trapping_backs_off_then_recovers() {
    let plugin = host().load(spec("panic", HOSTILE_PANIC)).await.unwrap();
    for _ in 0..5 {
        let mut metadata = headers(&[("x-attack", "panic")]);
        let err = plugin.on_request(&call(), &mut metadata).await.unwrap_err();
        assert_eq!(err.trap_kind(), Some(&TrapKind::Unreachable));
    }
    let mut metadata = headers(&[]);
    let err = plugin.on_request(&call(), &mut metadata).await.unwrap_err();
    assert_eq!(
        err,
        CallError::BackingOff {
            plugin: "panic".into(),
            traps: 5,
            calls: 5,
            remaining: Duration::from_millis(10),
        }
    );
    assert_eq!(
        err.to_string(),
        "plugin `panic` is backing off: 5 of its last 5 calls trapped (for 10ms more)"
    );
    tokio::time::advance(Duration::from_millis(9)).await;
    let err = plugin.on_request(&call(), &mut metadata).await.unwrap_err();
    assert!(matches!(err, CallError::BackingOff { .. }), "{err}");
    tokio::time::advance(Duration::from_millis(1)).await;
    let mut metadata = headers(&[]);
    assert_eq!(
        plugin.on_request(&call(), &mut metadata).await.unwrap(),
        Decision::Continue
    );
    assert_eq!(metadata["x-served-by"], "panic");
}

/// One call in seven traps, and the traps come in threes, as the traps of 16
/// concurrent calls land together (16 callers, each `S×9 T T T S×9`, 21 calls).
/// Backoff must refuse none of the calls that would pass: counting traps in a row
/// refused every call needing a new instance for 10 ms after each burst.
#[tokio::test]
async fn one_call_in_seven_trapping_refuses_no_call_that_would_pass() {
    const CALLERS: usize = 16;
    const ROUNDS: usize = 10;
    let plugin = host()
        .load(spec("trap-sometimes", HOSTILE_TRAP_SOMETIMES))
        .await
        .unwrap();
    plugin.warm(CALLERS).await.unwrap();
    let mut callers = Vec::new();
    for _ in 0..CALLERS {
        let plugin = plugin.clone();
        callers.push(tokio::spawn(async move {
            let (mut passed, mut refused, mut trapped) = (0, 0, 0);
            for _ in 0..ROUNDS {
                for call_no in 0..21 {
                    let traps = (9..12).contains(&call_no);
                    let mut metadata = if traps {
                        headers(&[("x-trap", "1")])
                    } else {
                        headers(&[])
                    };
                    match plugin.on_request(&call(), &mut metadata).await {
                        Ok(Decision::Continue) if !traps => passed += 1,
                        Err(CallError::Trap { .. }) if traps => trapped += 1,
                        Err(CallError::BackingOff { .. }) if !traps => refused += 1,
                        other => panic!("call {call_no} (trap: {traps}): {other:?}"),
                    }
                }
            }
            (passed, refused, trapped)
        }));
    }
    let (mut passed, mut refused, mut trapped) = (0, 0, 0);
    for caller in callers {
        let (p, r, t) = caller.await.unwrap();
        (passed, refused, trapped) = (passed + p, refused + r, trapped + t);
    }
    eprintln!(
        "one call in seven trapping, 16 callers: {refused} of {} calls that should pass refused",
        passed + refused
    );
    assert_eq!(trapped, CALLERS * ROUNDS * 3);
    assert_eq!(refused, 0, "{refused} calls that should pass were refused");
    assert_eq!(passed, CALLERS * ROUNDS * 18);
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

/// Hooks spinning to their deadline do not stall the runtime: with eight calls
/// spinning to a 1 s deadline on a two-worker runtime, a cheap call spawned after
/// them is answered before any of them ends. (They held both workers until their
/// deadline, so the cheap call waited for at least two of them.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_running_to_their_deadline_leave_the_runtime_free() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const DEADLINE: Duration = Duration::from_secs(1);
    let spinning = host()
        .load(
            spec("loop-forever", HOSTILE_LOOP_FOREVER)
                .limits(Limits::default().with_call_timeout(DEADLINE)),
        )
        .await
        .unwrap();
    let cheap = add_header("x-cheap").await;
    let ended = Arc::new(AtomicUsize::new(0));
    let mut hostile = Vec::new();
    for _ in 0..8 {
        let (plugin, ended) = (spinning.clone(), Arc::clone(&ended));
        hostile.push(tokio::spawn(async move {
            let mut metadata = headers(&[("x-attack", "1")]);
            let result = plugin.on_request(&call(), &mut metadata).await;
            ended.fetch_add(1, Ordering::SeqCst);
            result
        }));
    }
    let watcher = Arc::clone(&ended);
    let ended_before_cheap = tokio::spawn(async move {
        let mut metadata = headers(&[]);
        let decision = cheap.on_request(&call(), &mut metadata).await;
        (watcher.load(Ordering::SeqCst), decision)
    });
    let (ended_before_cheap, decision) = ended_before_cheap.await.unwrap();
    assert_eq!(decision.unwrap(), Decision::Continue);
    for task in hostile {
        let err = task.await.unwrap().unwrap_err();
        assert_eq!(err.trap_kind(), Some(&TrapKind::Timeout(DEADLINE)), "{err}");
    }
    assert_eq!(
        ended_before_cheap, 0,
        "the cheap call waited for {ended_before_cheap} spinning calls to end"
    );
}

/// A walk runs on the caller's thread until a plugin has no free instance; the
/// plugins before it have run, and `resume` waits for the instance and walks on. The
/// tower layers rely on this to make no future for a call unless it must wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_walk_stops_at_a_saturated_plugin_and_resumes_after_it() {
    let busy = host()
        .load(
            spec("loop-forever", HOSTILE_LOOP_FOREVER)
                .limits(
                    Limits::default()
                        .with_max_concurrency(1)
                        .with_call_timeout(Duration::from_secs(2)),
                )
                .failure_policy(FailurePolicy::FailOpen),
        )
        .await
        .unwrap();
    // Its only instance spins until its deadline, on another task.
    let holder = tokio::spawn({
        let busy = busy.clone();
        async move {
            busy.on_request(&call(), &mut headers(&[("x-attack", "1")]))
                .await
        }
    });
    while busy.stats().calls == 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let chain = Chain::new([add_header("x-first").await, busy.clone()]);
    let call = call();
    let mut metadata = headers(&[]);
    let waiting = match chain.on_request_now(&call, &mut metadata) {
        palisade::Walk::Waiting(waiting) => waiting,
        palisade::Walk::Done(verdict) => panic!("the walk did not wait: {verdict:?}"),
    };
    assert_eq!(
        metadata["x-first"], "1",
        "the plugin before the busy one ran"
    );
    assert_eq!(busy.stats().calls, 1, "the busy plugin was not entered");
    // The spinning call times out and frees the instance (a new one replaces the
    // trapped one); the resumed walk gets it and is served.
    let verdict = chain.resume(waiting, &call, &mut metadata).await;
    assert_eq!(verdict.decision, Decision::Continue);
    assert!(verdict.failures.is_empty(), "{:?}", verdict.failures);
    assert_eq!(metadata["x-served-by"], "loop-forever");
    assert!(matches!(
        holder.await.unwrap(),
        Err(CallError::Trap {
            kind: TrapKind::Timeout(_),
            ..
        })
    ));
}

/// Through the server layer: a call whose plugin is at its concurrency limit waits
/// for it (the layer's one boxed path) and is then served, with the plugin's change
/// forwarded to the handler.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_through_the_layer_waits_for_a_saturated_plugin() {
    use tower::ServiceExt as _;
    use tower_layer::Layer as _;

    let busy = host()
        .load(
            spec("loop-forever", HOSTILE_LOOP_FOREVER).limits(
                Limits::default()
                    .with_max_concurrency(1)
                    .with_call_timeout(Duration::from_secs(2)),
            ),
        )
        .await
        .unwrap();
    let holder = tokio::spawn({
        let busy = busy.clone();
        async move {
            busy.on_request(&call(), &mut headers(&[("x-attack", "1")]))
                .await
        }
    });
    while busy.stats().calls == 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let handler = tower::service_fn(|request: http::Request<()>| async move {
        let served_by = request.headers()["x-served-by"].clone();
        let mut response = http::Response::new(http_body_util::Empty::<bytes::Bytes>::new());
        response.headers_mut().insert("x-saw", served_by);
        Ok::<_, std::convert::Infallible>(response)
    });
    let service = palisade::layer::ServerLayer::new(Chain::new([busy])).layer(handler);
    let request = http::Request::post("/orders.v1.Orders/Create")
        .header("content-type", "application/grpc")
        .body(())
        .unwrap();
    let response = service.oneshot(request).await.unwrap();
    assert_eq!(response.status(), http::StatusCode::OK);
    assert_eq!(response.headers()["x-saw"], "loop-forever");
    assert!(
        holder.await.unwrap().is_err(),
        "the spinning call timed out"
    );
}
