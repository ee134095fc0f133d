//! The virtual WASI that Rust `std` guests need in order to start.
//!
//! Defaults, all off: no environment variables, no arguments, empty stdin, no
//! preopened directories, no sockets, no clocks unless `clock` is granted. stdout
//! and stderr are routed into the plugin's capped log. `exit` traps the call.
//! Which WASI interfaces may be imported at all is decided in
//! [`classify_import`](palisade_package::policy::classify_import); this module only provides them.

use palisade_types::bounds::MAX_RANDOM_BYTES;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime::component::Linker;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream, WasiCli, WasiCliView};
use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView};
use wasmtime_wasi::p2::bindings::{cli, clocks, random};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};
use wasmtime_wasi::random::{WasiRandom, WasiRandomView};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder};

use super::log::{Level, LogSink, Source};
use crate::instance::state::PluginState;

/// Builds the per-instance WASI context: nothing inherited from the host process.
pub(crate) fn context(log: &Arc<LogSink>) -> WasiCtx {
    WasiCtxBuilder::new()
        .max_random_size(MAX_RANDOM_BYTES)
        .stdout(LogStream {
            sink: Arc::clone(log),
            source: Source::Stdout,
        })
        .stderr(LogStream {
            sink: Arc::clone(log),
            source: Source::Stderr,
        })
        .build()
}

pub(crate) fn add_to_linker(linker: &mut Linker<PluginState>) -> wasmtime::Result<()> {
    super::wasi_io::add_to_linker(linker)?;
    let l = linker;
    cli::exit::add_to_linker::<PluginState, WasiCli>(l, <PluginState as WasiCliView>::cli)?;
    cli::environment::add_to_linker::<PluginState, WasiCli>(l, <PluginState as WasiCliView>::cli)?;
    cli::stdin::add_to_linker::<PluginState, WasiCli>(l, <PluginState as WasiCliView>::cli)?;
    cli::stdout::add_to_linker::<PluginState, WasiCli>(l, <PluginState as WasiCliView>::cli)?;
    cli::stderr::add_to_linker::<PluginState, WasiCli>(l, <PluginState as WasiCliView>::cli)?;
    cli::terminal_input::add_to_linker::<PluginState, WasiCli>(
        l,
        <PluginState as WasiCliView>::cli,
    )?;
    cli::terminal_output::add_to_linker::<PluginState, WasiCli>(
        l,
        <PluginState as WasiCliView>::cli,
    )?;
    cli::terminal_stdin::add_to_linker::<PluginState, WasiCli>(
        l,
        <PluginState as WasiCliView>::cli,
    )?;
    cli::terminal_stdout::add_to_linker::<PluginState, WasiCli>(
        l,
        <PluginState as WasiCliView>::cli,
    )?;
    cli::terminal_stderr::add_to_linker::<PluginState, WasiCli>(
        l,
        <PluginState as WasiCliView>::cli,
    )?;
    random::random::add_to_linker::<PluginState, WasiRandom>(
        l,
        <PluginState as WasiRandomView>::random,
    )?;
    random::insecure::add_to_linker::<PluginState, WasiRandom>(
        l,
        <PluginState as WasiRandomView>::random,
    )?;
    random::insecure_seed::add_to_linker::<PluginState, WasiRandom>(
        l,
        <PluginState as WasiRandomView>::random,
    )?;
    Ok(())
}

/// `wasi:clocks`, linked only when `clock` is granted.
pub(crate) fn add_clocks_to_linker(linker: &mut Linker<PluginState>) -> wasmtime::Result<()> {
    clocks::wall_clock::add_to_linker::<PluginState, WasiClocks>(
        linker,
        <PluginState as WasiClocksView>::clocks,
    )?;
    clocks::monotonic_clock::add_to_linker::<PluginState, WasiClocks>(
        linker,
        <PluginState as WasiClocksView>::clocks,
    )?;
    Ok(())
}

/// stdout or stderr of a guest: every write becomes one capped log message. Nothing is
/// buffered, so a guest writing 100 MB costs the host no memory beyond one write.
struct LogStream {
    sink: Arc<LogSink>,
    source: Source,
}

impl LogStream {
    fn level(&self) -> Level {
        match self.source {
            Source::Stderr => Level::Warn,
            _ => Level::Info,
        }
    }
}

impl IsTerminal for LogStream {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogStream {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(LogStream {
            sink: Arc::clone(&self.sink),
            source: self.source,
        })
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(LogStream {
            sink: Arc::clone(&self.sink),
            source: self.source,
        })
    }
}

/// How much a guest may write per `write` call; the canonical ABI copies each write
/// into host memory, so this bounds the copy.
const WRITE_PERMIT_BYTES: usize = 64 * 1024;

impl OutputStream for LogStream {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.sink.emit(self.source, self.level(), &bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(WRITE_PERMIT_BYTES)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for LogStream {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for LogStream {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let len = buf.len().min(WRITE_PERMIT_BYTES);
        self.sink.emit(self.source, self.level(), &buf[..len]);
        Poll::Ready(Ok(len))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
