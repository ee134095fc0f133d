//! The `read-env` hostile fixture, in a binary of its own because it sets a process
//! environment variable (global state) before any plugin runs.

use std::sync::Arc;

use palisade::{CallInfo, Decision, Grants, Host, HostConfig};
use palisade_tests::guests::HOSTILE_READ_ENV;

#[tokio::test]
async fn read_env_sees_nothing_of_the_host_environment() {
    #[expect(
        unsafe_code,
        reason = "set before any other thread reads the environment"
    )]
    #[expect(
        clippy::disallowed_methods,
        reason = "the test plants a secret in the host's environment"
    )]
    unsafe {
        std::env::set_var("PALISADE_TEST_SECRET", "hunter2");
    }
    // Positive control: the secret really is in the host's environment.
    #[expect(clippy::disallowed_methods, reason = "checking the planted secret")]
    let planted = std::env::var("PALISADE_TEST_SECRET");
    assert_eq!(planted.as_deref(), Ok("hunter2"));

    let host = Host::new(HostConfig::default().with_max_instances(8)).unwrap();
    let plugin = palisade_tests::load(
        &host,
        "read-env",
        HOSTILE_READ_ENV,
        Grants::none().log().clock().config().kv(1024).metrics(),
    )
    .await
    .unwrap();
    let mut metadata = http::HeaderMap::new();
    let call = Arc::new(CallInfo::server("s", "m"));
    let decision = plugin.on_request(&call, &mut metadata).await.unwrap();
    assert_eq!(decision, Decision::Continue);
    assert_eq!(metadata["x-env-secret"], "<absent>");
    assert_eq!(metadata["x-env-count"], "0");
    assert_eq!(metadata["x-args-count"], "0");
}
