//! Prometheus metrics: request counts and latency histograms by route pattern and status
//! (actix-web-prom), plus database-pool and outbox gauges read at scrape time.

use actix_web_prom::{PrometheusMetrics, PrometheusMetricsBuilder};
use prometheus::{Encoder, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder};

/// Latency buckets in seconds, fine enough for sub-millisecond reads.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// One application's metrics. Each app has its own registry, so several apps in one process
/// (tests, embedders) never mix their numbers.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    middleware: PrometheusMetrics,
    pool_connections: IntGauge,
    pool_idle: IntGauge,
    outbox_pending: IntGauge,
    outbox_failed: IntGauge,
    mail_suppressed: IntGaugeVec,
}

fn gauge(registry: &Registry, name: &str, help: &str) -> anyhow::Result<IntGauge> {
    let gauge = IntGauge::new(name, help)?;
    registry.register(Box::new(gauge.clone()))?;
    Ok(gauge)
}

impl Metrics {
    /// A fresh registry with the HTTP metrics (`emporium_http_requests_total`,
    /// `emporium_http_requests_duration_seconds`, labelled by route pattern, method and
    /// status; paths no route matches are counted as `UNKNOWN`) and the gauges.
    pub fn new() -> anyhow::Result<Metrics> {
        let registry = Registry::new();
        let middleware = PrometheusMetricsBuilder::new("emporium")
            .registry(registry.clone())
            .buckets(BUCKETS)
            .mask_unmatched_patterns("UNKNOWN")
            .build()
            .map_err(|e| anyhow::anyhow!("metrics: {e}"))?;
        Ok(Metrics {
            pool_connections: gauge(
                &registry,
                "emporium_db_pool_connections",
                "Open database connections",
            )?,
            pool_idle: gauge(
                &registry,
                "emporium_db_pool_idle_connections",
                "Idle database connections",
            )?,
            outbox_pending: gauge(
                &registry,
                "emporium_outbox_pending",
                "Emails waiting to be delivered",
            )?,
            outbox_failed: gauge(
                &registry,
                "emporium_outbox_failed",
                "Emails given up on after the last attempt",
            )?,
            mail_suppressed: {
                let vec = IntGaugeVec::new(
                    Opts::new(
                        "emporium_mail_suppressed",
                        "Verification and password-reset emails not sent because the address \
                         had reached its limit (MAIL_MAX_PER_ADDRESS_*), by kind, all servers",
                    ),
                    &["kind"],
                )?;
                registry.register(Box::new(vec.clone()))?;
                vec
            },
            registry,
            middleware,
        })
    }

    /// The request-metrics middleware.
    pub fn middleware(&self) -> PrometheusMetrics {
        self.middleware.clone()
    }

    /// Sets the gauges and renders everything in the Prometheus text format.
    pub fn render(
        &self,
        pool: r2d2::State,
        outbox: emporium_mail::outbox::OutboxCounts,
    ) -> anyhow::Result<String> {
        self.pool_connections.set(i64::from(pool.connections));
        self.pool_idle.set(i64::from(pool.idle_connections));
        self.outbox_pending.set(outbox.pending);
        self.outbox_failed.set(outbox.failed);
        for (kind, n) in &outbox.suppressed {
            self.mail_suppressed
                .with_label_values(&[kind.as_str()])
                .set(*n);
        }
        let mut buffer = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buffer)?;
        Ok(String::from_utf8(buffer)?)
    }
}
