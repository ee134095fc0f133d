//! The `call` interface every plugin gets: the facts of the call the running hook is
//! for, and how the hook ends it. Also [`ActiveCall`], the live call a store holds
//! while a hook runs, which [`super::metadata`] works on too.
//!
//! A hook takes no handle: an instance runs one hook at a time, so "the call" is
//! always the one in the store. That is the contract's cheapest shape: lending a
//! borrowed handle per resource and dropping it on return cost ~1,700 instructions
//! per hook (see BENCHMARKS.md), and a decision returned as a variant with strings
//! needs a post-return call into the guest on every hook, `Continue` included. Here a
//! hook that lets the call go on returns nothing, and one that ends it calls `reject`
//! or `respond` first.

use palisade_types::bounds::{
    MAX_REJECTION_MESSAGE_BYTES, MAX_REPLY_BODY_BYTES, MAX_REPLY_HEADERS,
};
use std::time::Instant;

use http::HeaderMap;
use wasmtime::component::{HasData, Linker};

use super::bindings::palisade::plugin::call as generated;
use super::bindings::{self as b};
use crate::instance::state::PluginState;
use palisade_types::bounds::MAX_METADATA_TOTAL_BYTES;
use palisade_types::{CallInfo, Decision, Direction, Reply};

/// A reply over its bounds, raised as a trap from `call.respond`: a plugin that builds
/// a reply the next hop would refuse is broken or hostile, and its call fails by its
/// failure policy. Found by downcasting in `intercept::classify_trap`.
#[derive(Debug, thiserror::Error)]
#[error("reply too large: more than {limit} {what}")]
pub(crate) struct ReplyTooLarge {
    pub(crate) what: &'static str,
    pub(crate) limit: usize,
}

/// The call a hook is running for, held in the store while the hook runs.
pub(crate) struct ActiveCall {
    /// The running hook's call, copied in by [`begin`](Self::begin) into buffers the
    /// store keeps from hook to hook (no allocation once they are long enough).
    info: CallInfo,
    /// Whether a hook is running (between `begin` and `finish`).
    in_hook: bool,
    pub(crate) metadata: HeaderMap,
    /// The metadata as it was before the first write of this hook, so that a hook
    /// that traps leaves no half-made changes behind. Hooks that only read pay nothing.
    pub(crate) original: Option<HeaderMap>,
    pub(crate) changes: usize,
    /// How the hook ended the call (`reject` or `respond`), if it did.
    outcome: Option<Decision>,
    /// Whether the hook said it is not implemented (`hook-unimplemented`).
    unimplemented: bool,
    /// When the running hook must be done (its call timeout), for the epoch callback
    /// ([`crate::instance::worker`]): set after `begin`, cleared by `finish`; `None`
    /// outside a hook (instantiation).
    pub(crate) hook_deadline: Option<Instant>,
    /// Epoch ticks left before the deadline of an entry into the guest without a
    /// `hook_deadline`, after the first check.
    pub(crate) ticks_left: u64,
}

impl Default for ActiveCall {
    fn default() -> Self {
        Self {
            info: CallInfo::server(String::new(), String::new()),
            in_hook: false,
            metadata: HeaderMap::new(),
            original: None,
            changes: 0,
            outcome: None,
            unimplemented: false,
            hook_deadline: None,
            ticks_left: 0,
        }
    }
}

/// What a hook decided, once it returned.
pub(crate) struct Finished {
    /// `Continue` unless the hook called `reject` or `respond`.
    pub(crate) decision: Decision,
    /// The hook is the plugin's default and need not be called again: it said so,
    /// and it decided nothing and changed nothing (a hook that did either is not a
    /// default, whatever it says).
    pub(crate) unimplemented: bool,
}

impl ActiveCall {
    /// Starts a hook on `metadata`, which is swapped into the store (and left empty
    /// until [`finish`](Self::finish) swaps it back): no copy, and nothing dropped.
    pub(crate) fn begin(&mut self, info: &CallInfo, metadata: &mut HeaderMap) {
        self.info.clone_from(info);
        self.in_hook = true;
        std::mem::swap(&mut self.metadata, metadata);
        self.original = None;
        self.changes = 0;
        self.outcome = None;
        self.unimplemented = false;
    }

    /// Ends the hook and swaps the metadata back into `metadata`: as the hook left
    /// it, or, when `completed` is false (it trapped), as it was before the hook, and
    /// then nothing the hook decided stands.
    pub(crate) fn finish(&mut self, completed: bool, metadata: &mut HeaderMap) -> Finished {
        self.in_hook = false;
        self.hook_deadline = None;
        std::mem::swap(&mut self.metadata, metadata);
        let original = self.original.take();
        let outcome = self.outcome.take();
        let unimplemented =
            std::mem::take(&mut self.unimplemented) && outcome.is_none() && self.changes == 0;
        if !completed {
            if let Some(original) = original {
                *metadata = original;
            }
            return Finished {
                decision: Decision::Continue,
                unimplemented: false,
            };
        }
        Finished {
            decision: outcome.unwrap_or(Decision::Continue),
            unimplemented,
        }
    }

    pub(crate) fn info(&self) -> Option<&CallInfo> {
        self.in_hook.then_some(&self.info)
    }

    /// Whether a hook is running: outside one (a start function) the calls that
    /// decide do nothing.
    fn in_hook(&self) -> bool {
        self.in_hook
    }
}

/// Cuts `message` to [`MAX_REJECTION_MESSAGE_BYTES`] at a character boundary.
fn bounded_message(mut message: String) -> String {
    if message.len() > MAX_REJECTION_MESSAGE_BYTES {
        let end = message.floor_char_boundary(MAX_REJECTION_MESSAGE_BYTES);
        message.truncate(end);
    }
    message
}

/// Checks a reply against its bounds.
fn bounded_reply(reply: b::Reply) -> Result<Reply, ReplyTooLarge> {
    if reply.body.len() > MAX_REPLY_BODY_BYTES {
        return Err(ReplyTooLarge {
            what: "body bytes",
            limit: MAX_REPLY_BODY_BYTES,
        });
    }
    if reply.headers.len() > MAX_REPLY_HEADERS {
        return Err(ReplyTooLarge {
            what: "headers",
            limit: MAX_REPLY_HEADERS,
        });
    }
    let header_bytes: usize = reply.headers.iter().map(|(n, v)| n.len() + v.len()).sum();
    if header_bytes > MAX_METADATA_TOTAL_BYTES {
        return Err(ReplyTooLarge {
            what: "header bytes",
            limit: MAX_METADATA_TOTAL_BYTES,
        });
    }
    Ok(Reply {
        code: reply.code.into(),
        headers: reply.headers,
        body: reply.body,
    })
}

impl generated::Host for ActiveCall {
    fn side(&mut self) -> b::Direction {
        match self.info().map(|i| i.direction) {
            Some(Direction::Client) => b::Direction::Client,
            _ => b::Direction::Server,
        }
    }

    fn service(&mut self) -> String {
        self.info()
            .map(|i| i.service.to_string())
            .unwrap_or_default()
    }

    fn method(&mut self) -> String {
        self.info()
            .map(|i| i.method.to_string())
            .unwrap_or_default()
    }

    fn authority(&mut self) -> Option<String> {
        Some(self.info()?.authority.as_ref()?.to_string())
    }

    fn peer_identity(&mut self) -> Option<String> {
        Some(self.info()?.peer_identity.as_ref()?.to_string())
    }

    fn deadline_ms(&mut self) -> Option<u64> {
        let deadline = self.info()?.deadline?;
        Some(
            deadline
                .saturating_duration_since(Instant::now())
                .as_millis() as u64,
        )
    }

    fn reject(&mut self, code: b::Code, message: String) {
        if self.in_hook() {
            self.outcome = Some(Decision::Reject {
                code: code.into(),
                message: bounded_message(message),
            });
        }
    }

    fn respond(&mut self, reply: b::Reply) -> wasmtime::Result<()> {
        let reply = bounded_reply(reply).map_err(wasmtime::Error::new)?;
        if self.in_hook() {
            self.outcome = Some(Decision::Respond(reply));
        }
        Ok(())
    }

    fn hook_unimplemented(&mut self) {
        self.unimplemented = self.in_hook();
    }
}

struct HasCall;

impl HasData for HasCall {
    type Data<'a> = &'a mut ActiveCall;
}

pub(crate) fn add_to_linker(linker: &mut Linker<PluginState>) -> wasmtime::Result<()> {
    generated::add_to_linker::<PluginState, HasCall>(linker, |state| &mut state.call)
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_types::Code;

    fn active() -> ActiveCall {
        let mut call = ActiveCall::default();
        call.begin(&CallInfo::server("s", "m"), &mut HeaderMap::new());
        call
    }

    fn reply(body: usize, headers: usize, value_bytes: usize) -> b::Reply {
        b::Reply {
            code: b::Code::Ok,
            headers: (0..headers)
                .map(|i| (format!("x-{i}"), "v".repeat(value_bytes)))
                .collect(),
            body: vec![0; body],
        }
    }

    #[test]
    fn the_last_decision_stands_and_a_trap_cancels_it() {
        let mut call = active();
        generated::Host::reject(&mut call, b::Code::PermissionDenied, "no".into());
        generated::Host::respond(&mut call, reply(2, 1, 1)).unwrap();
        let finished = call.finish(true, &mut HeaderMap::new());
        assert!(matches!(
            finished.decision,
            Decision::Respond(Reply { code: Code::Ok, .. })
        ));

        let mut call = active();
        generated::Host::reject(&mut call, b::Code::PermissionDenied, "no".into());
        assert_eq!(
            call.finish(false, &mut HeaderMap::new()).decision,
            Decision::Continue
        );
    }

    #[test]
    fn outside_a_hook_nothing_is_decided() {
        let mut call = ActiveCall::default();
        generated::Host::reject(&mut call, b::Code::Internal, "start function".into());
        generated::Host::hook_unimplemented(&mut call);
        assert_eq!(generated::Host::service(&mut call), "");
        call.begin(&CallInfo::server("s", "m"), &mut HeaderMap::new());
        let finished = call.finish(true, &mut HeaderMap::new());
        assert_eq!(finished.decision, Decision::Continue);
        assert!(!finished.unimplemented);
    }

    #[test]
    fn only_a_hook_that_did_nothing_is_taken_as_unimplemented() {
        let mut call = active();
        generated::Host::hook_unimplemented(&mut call);
        assert!(call.finish(true, &mut HeaderMap::new()).unimplemented);

        let mut call = active();
        generated::Host::hook_unimplemented(&mut call);
        generated::Host::reject(&mut call, b::Code::PermissionDenied, "no".into());
        let finished = call.finish(true, &mut HeaderMap::new());
        assert!(!finished.unimplemented);
        assert!(matches!(finished.decision, Decision::Reject { .. }));

        let mut call = active();
        generated::Host::hook_unimplemented(&mut call);
        call.changes = 1;
        assert!(!call.finish(true, &mut HeaderMap::new()).unimplemented);
    }

    #[test]
    fn messages_are_cut_at_a_character_boundary() {
        let mut call = active();
        let long = "é".repeat(MAX_REJECTION_MESSAGE_BYTES);
        generated::Host::reject(&mut call, b::Code::Internal, long);
        let Decision::Reject { message, .. } = call.finish(true, &mut HeaderMap::new()).decision
        else {
            panic!("not a rejection");
        };
        assert_eq!(message.len(), MAX_REJECTION_MESSAGE_BYTES);
        assert!(message.chars().all(|c| c == 'é'));
    }

    #[test]
    fn replies_over_their_bounds_are_refused() {
        let refused = |r: b::Reply| bounded_reply(r).err().map(|e| e.to_string());
        assert_eq!(
            refused(reply(MAX_REPLY_BODY_BYTES + 1, 0, 0)).as_deref(),
            Some("reply too large: more than 4194304 body bytes")
        );
        assert_eq!(
            refused(reply(0, MAX_REPLY_HEADERS + 1, 1)).as_deref(),
            Some("reply too large: more than 64 headers")
        );
        assert_eq!(
            refused(reply(0, 2, MAX_METADATA_TOTAL_BYTES / 2)).as_deref(),
            Some("reply too large: more than 65536 header bytes")
        );
        assert!(bounded_reply(reply(MAX_REPLY_BODY_BYTES, MAX_REPLY_HEADERS, 8)).is_ok());
    }
}
