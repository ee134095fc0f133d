//! `wasi:io` (streams, poll, error) as **synchronous** host functions that never wait.
//!
//! wasmtime-wasi offers `wasi:io` either as async functions (which make every call
//! into the guest run on a fiber with `call_async`) or as sync shims that `block_on`
//! a tokio runtime (which panics inside one). Neither fits a hot path that runs on
//! tokio workers, so Palisade links its own: the non-blocking functions go straight
//! to wasmtime-wasi-io's implementation over the resource table, and the `blocking-*`
//! ones poll that implementation exactly once. Every stream and pollable a plugin can
//! reach is always ready (stdout and stderr write into the capped log, stdin is
//! empty), so one poll completes them; anything that would wait instead (a
//! `wasi:clocks` timer under `poll`, say) traps the call. A plugin can therefore never
//! park a host thread, and with no async host function linked, guest calls are plain
//! function calls: no fiber, no stack switch.

use std::pin::pin;
use std::task::{Context, Poll, Waker};

use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use wasmtime_wasi::p2::bindings::sync::io::{poll, streams};
use wasmtime_wasi_io::bindings::wasi::io::{
    error as async_error, poll as async_poll, streams as async_streams,
};
use wasmtime_wasi_io::poll::DynPollable;
use wasmtime_wasi_io::streams::{DynInputStream, DynOutputStream, StreamError, StreamResult};

use crate::instance::state::PluginState;

/// Runs `future` to completion if it completes without waiting; otherwise traps.
fn at_once<F: Future>(operation: &str, future: F) -> wasmtime::Result<F::Output> {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => Ok(output),
        Poll::Pending => Err(wasmtime::format_err!(
            "{operation} would block: a plugin cannot wait on the host"
        )),
    }
}

/// [`at_once`] for stream operations, whose errors carry the trap.
fn stream_at_once<T, F>(operation: &str, future: F) -> StreamResult<T>
where
    F: Future<Output = StreamResult<T>>,
{
    at_once(operation, future).map_err(StreamError::Trap)?
}

/// The view the `wasi:io` functions run on: the store's resource table.
pub(crate) struct NonBlockingIo<'a>(&'a mut ResourceTable);

/// Pollables one `poll` call may name. The list is the guest's to choose (the same
/// handle may be named again and again), and wasi-io's `poll` does per-entry work
/// and answers with a list as long, all in the host where the deadline cannot
/// interrupt it. A plugin has few pollables (the resource table holds at most
/// [`MAX_RESOURCES`](crate::instance::state::MAX_RESOURCES) entries).
pub(crate) const MAX_POLL_LIST: usize = 64;

impl poll::Host for NonBlockingIo<'_> {
    fn poll(&mut self, pollables: Vec<Resource<DynPollable>>) -> wasmtime::Result<Vec<u32>> {
        if pollables.len() > MAX_POLL_LIST {
            return Err(wasmtime::format_err!(
                "wasi:io/poll.poll of {} pollables: at most {MAX_POLL_LIST} per call",
                pollables.len()
            ));
        }
        at_once(
            "wasi:io/poll.poll",
            async_poll::Host::poll(self.0, pollables),
        )?
    }
}

impl poll::HostPollable for NonBlockingIo<'_> {
    fn ready(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<bool> {
        at_once(
            "wasi:io/poll.pollable.ready",
            async_poll::HostPollable::ready(self.0, pollable),
        )?
    }

    fn block(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        at_once(
            "wasi:io/poll.pollable.block",
            async_poll::HostPollable::block(self.0, pollable),
        )?
    }

    fn drop(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        async_poll::HostPollable::drop(self.0, pollable)
    }
}

impl streams::Host for NonBlockingIo<'_> {
    fn convert_stream_error(&mut self, err: StreamError) -> wasmtime::Result<streams::StreamError> {
        Ok(
            match async_streams::Host::convert_stream_error(self.0, err)? {
                async_streams::StreamError::LastOperationFailed(e) => {
                    streams::StreamError::LastOperationFailed(e)
                }
                async_streams::StreamError::Closed => streams::StreamError::Closed,
            },
        )
    }
}

impl streams::HostOutputStream for NonBlockingIo<'_> {
    fn drop(&mut self, stream: Resource<DynOutputStream>) -> wasmtime::Result<()> {
        at_once(
            "wasi:io/streams.output-stream.drop",
            async_streams::HostOutputStream::drop(self.0, stream),
        )?
    }

    fn check_write(&mut self, stream: Resource<DynOutputStream>) -> StreamResult<u64> {
        async_streams::HostOutputStream::check_write(self.0, stream)
    }

    fn write(&mut self, stream: Resource<DynOutputStream>, bytes: Vec<u8>) -> StreamResult<()> {
        async_streams::HostOutputStream::write(self.0, stream, bytes)
    }

    fn blocking_write_and_flush(
        &mut self,
        stream: Resource<DynOutputStream>,
        bytes: Vec<u8>,
    ) -> StreamResult<()> {
        stream_at_once(
            "wasi:io/streams.output-stream.blocking-write-and-flush",
            async_streams::HostOutputStream::blocking_write_and_flush(self.0, stream, bytes),
        )
    }

    fn blocking_write_zeroes_and_flush(
        &mut self,
        stream: Resource<DynOutputStream>,
        len: u64,
    ) -> StreamResult<()> {
        stream_at_once(
            "wasi:io/streams.output-stream.blocking-write-zeroes-and-flush",
            async_streams::HostOutputStream::blocking_write_zeroes_and_flush(self.0, stream, len),
        )
    }

    fn subscribe(
        &mut self,
        stream: Resource<DynOutputStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        async_streams::HostOutputStream::subscribe(self.0, stream)
    }

    fn write_zeroes(&mut self, stream: Resource<DynOutputStream>, len: u64) -> StreamResult<()> {
        async_streams::HostOutputStream::write_zeroes(self.0, stream, len)
    }

    fn flush(&mut self, stream: Resource<DynOutputStream>) -> StreamResult<()> {
        async_streams::HostOutputStream::flush(self.0, stream)
    }

    fn blocking_flush(&mut self, stream: Resource<DynOutputStream>) -> StreamResult<()> {
        stream_at_once(
            "wasi:io/streams.output-stream.blocking-flush",
            async_streams::HostOutputStream::blocking_flush(self.0, stream),
        )
    }

    fn splice(
        &mut self,
        dst: Resource<DynOutputStream>,
        src: Resource<DynInputStream>,
        len: u64,
    ) -> StreamResult<u64> {
        async_streams::HostOutputStream::splice(self.0, dst, src, len)
    }

    fn blocking_splice(
        &mut self,
        dst: Resource<DynOutputStream>,
        src: Resource<DynInputStream>,
        len: u64,
    ) -> StreamResult<u64> {
        stream_at_once(
            "wasi:io/streams.output-stream.blocking-splice",
            async_streams::HostOutputStream::blocking_splice(self.0, dst, src, len),
        )
    }
}

impl streams::HostInputStream for NonBlockingIo<'_> {
    fn drop(&mut self, stream: Resource<DynInputStream>) -> wasmtime::Result<()> {
        at_once(
            "wasi:io/streams.input-stream.drop",
            async_streams::HostInputStream::drop(self.0, stream),
        )?
    }

    fn read(&mut self, stream: Resource<DynInputStream>, len: u64) -> StreamResult<Vec<u8>> {
        async_streams::HostInputStream::read(self.0, stream, len)
    }

    fn blocking_read(
        &mut self,
        stream: Resource<DynInputStream>,
        len: u64,
    ) -> StreamResult<Vec<u8>> {
        stream_at_once(
            "wasi:io/streams.input-stream.blocking-read",
            async_streams::HostInputStream::blocking_read(self.0, stream, len),
        )
    }

    fn skip(&mut self, stream: Resource<DynInputStream>, len: u64) -> StreamResult<u64> {
        async_streams::HostInputStream::skip(self.0, stream, len)
    }

    fn blocking_skip(&mut self, stream: Resource<DynInputStream>, len: u64) -> StreamResult<u64> {
        stream_at_once(
            "wasi:io/streams.input-stream.blocking-skip",
            async_streams::HostInputStream::blocking_skip(self.0, stream, len),
        )
    }

    fn subscribe(
        &mut self,
        stream: Resource<DynInputStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        async_streams::HostInputStream::subscribe(self.0, stream)
    }
}

struct HasIo;

impl HasData for HasIo {
    type Data<'a> = NonBlockingIo<'a>;
}

struct HasTable;

impl HasData for HasTable {
    type Data<'a> = &'a mut ResourceTable;
}

/// Links `wasi:io/{error,poll,streams}`, all synchronous.
pub(crate) fn add_to_linker(linker: &mut Linker<PluginState>) -> wasmtime::Result<()> {
    // `wasi:io/error` has no blocking functions: wasmtime-wasi-io's is already sync.
    async_error::add_to_linker::<PluginState, HasTable>(linker, |state| state.table_mut())?;
    poll::add_to_linker::<PluginState, HasIo>(linker, |state| NonBlockingIo(state.table_mut()))?;
    streams::add_to_linker::<PluginState, HasIo>(linker, |state| NonBlockingIo(state.table_mut()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poll_list_is_bounded() {
        let mut table = ResourceTable::new();
        let list = (0..=MAX_POLL_LIST)
            .map(|_| Resource::<DynPollable>::new_borrow(0))
            .collect();
        let err = poll::Host::poll(&mut NonBlockingIo(&mut table), list).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "wasi:io/poll.poll of {} pollables: at most {MAX_POLL_LIST} per call",
                MAX_POLL_LIST + 1
            )
        );
    }
}
