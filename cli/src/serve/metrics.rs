//! `GET /metrics`: the Prometheus text format (0.0.4), produced at scrape time by a
//! collector that reads each plugin's [`stats`](palisade::Plugin::stats) from
//! the chain current at that moment. The call path only bumps the plugins' own
//! atomics; nothing here runs on it.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

use super::State;

/// The content type of the text exposition format.
pub(super) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Debug)]
struct ChainCollector(Arc<State>);

fn counter(encoder: &mut MetricEncoder<'_>, value: u64) -> std::fmt::Result {
    encoder.encode_counter::<NoLabelSet, u64, u64>(&value, None)
}

impl Collector for ChainCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        let chain = self.0.chain.current();
        let stats: Vec<(String, palisade::PluginStats)> = chain
            .plugins()
            .iter()
            .map(|p| (p.name().to_owned(), p.stats()))
            .collect();
        type Field = fn(&palisade::PluginStats) -> u64;
        let per_plugin: [(&str, &str, Field); 4] = [
            (
                "palisade_plugin_calls",
                "Hook calls started, per plugin of the current chain.",
                |s| s.calls,
            ),
            (
                "palisade_plugin_traps",
                "Hook calls that trapped (timeouts included).",
                |s| s.traps,
            ),
            (
                "palisade_plugin_timeouts",
                "Hook calls that ran out of time.",
                |s| s.timeouts,
            ),
            (
                "palisade_plugin_failures",
                "Hook calls that failed for any reason (traps, saturation, backoff, instantiation).",
                |s| s.failures,
            ),
        ];
        for (name, help, field) in per_plugin {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            for (plugin, stats) in &stats {
                let labels = [("plugin", plugin.as_str())];
                counter(&mut family.encode_family(&labels)?, field(stats))?;
            }
        }

        let mut decisions = encoder.encode_descriptor(
            "palisade_plugin_decisions",
            "Hook calls that returned a decision, by kind (continue, reject, respond).",
            None,
            MetricType::Counter,
        )?;
        for (plugin, stats) in &stats {
            let d = &stats.decisions;
            for (kind, value) in [
                ("continue", d.continued),
                ("reject", d.rejected),
                ("respond", d.responded),
            ] {
                let labels = [("plugin", plugin.as_str()), ("decision", kind)];
                counter(&mut decisions.encode_family(&labels)?, value)?;
            }
        }

        let mut durations = encoder.encode_descriptor(
            "palisade_plugin_call_duration_seconds",
            "How long hook calls took, failures included (waiting for an instance, running, returning).",
            None,
            MetricType::Histogram,
        )?;
        for (plugin, stats) in &stats {
            let h = &stats.duration;
            // Per-bucket counts; the encoder accumulates them into `le` buckets.
            let buckets: Vec<(f64, u64)> = h
                .bounds_seconds
                .iter()
                .copied()
                .chain(std::iter::once(f64::INFINITY))
                .zip(h.counts.iter().copied())
                .collect();
            let labels = [("plugin", plugin.as_str())];
            durations
                .encode_family(&labels)?
                .encode_histogram::<NoLabelSet>(h.sum_seconds, h.count, &buckets, None)?;
        }

        let mut plugins = encoder.encode_descriptor(
            "palisade_chain_plugins",
            "Plugins in the chain new calls get.",
            None,
            MetricType::Gauge,
        )?;
        plugins.encode_gauge(&i64::try_from(stats.len()).unwrap_or(i64::MAX))?;

        let counters = &self.0.counters;
        let mut reloads = encoder.encode_descriptor(
            "palisade_reloads",
            "Reload requests, by outcome (ok, failed: the old chain kept, refused: reload is off).",
            None,
            MetricType::Counter,
        )?;
        for (outcome, value) in [
            ("ok", &counters.reloads_ok),
            ("failed", &counters.reloads_failed),
            ("refused", &counters.reloads_refused),
        ] {
            let labels = [("outcome", outcome)];
            counter(
                &mut reloads.encode_family(&labels)?,
                value.load(Ordering::Relaxed),
            )?;
        }
        let mut upstream = encoder.encode_descriptor(
            "palisade_upstream_errors",
            "Calls the upstream could not be reached for.",
            None,
            MetricType::Counter,
        )?;
        counter(
            &mut upstream,
            counters.upstream_errors.load(Ordering::Relaxed),
        )?;
        Ok(())
    }
}

fn registry(state: Arc<State>) -> Registry {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(ChainCollector(state)));
    registry
}

fn respond(registry: &Registry, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    let text = |status, body: String, content_type| {
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static(content_type),
        );
        response
    };
    if req.uri().path() != "/metrics" {
        return text(
            StatusCode::NOT_FOUND,
            "not found: try /metrics\n".into(),
            "text/plain",
        );
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            "GET /metrics\n".into(),
            "text/plain",
        );
    }
    let mut body = String::new();
    match prometheus_client::encoding::prometheus_text::encode(&mut body, registry) {
        Ok(()) => text(StatusCode::OK, body, CONTENT_TYPE),
        Err(error) => {
            tracing::warn!(%error, "cannot encode the metrics");
            text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot encode the metrics\n".into(),
                "text/plain",
            )
        }
    }
}

/// Serves `GET /metrics` over plain HTTP/1.1 on `listener` until `shutdown`.
pub(super) async fn serve(
    listener: TcpListener,
    state: Arc<State>,
    shutdown: impl Future<Output = ()> + Send,
) {
    let registry = Arc::new(registry(state));
    tracing::info!(addr = ?listener.local_addr().ok(), "metrics: GET /metrics");
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "metrics: accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => return,
        };
        let registry = Arc::clone(&registry);
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            let response = respond(&registry, &req);
            async move { Ok::<_, Infallible>(response) }
        });
        tokio::spawn(async move {
            if let Err(error) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service)
                .await
            {
                tracing::debug!(%error, "metrics connection ended with an error");
            }
        });
    }
}
