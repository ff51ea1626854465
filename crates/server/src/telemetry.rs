//! Logging: an env-filtered `tracing` subscriber, text or JSON, and the request span.

use std::io::IsTerminal;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage};
use emporium_core::settings::{LogFormat, LogSettings};
use tracing::Span;
use tracing::field::Empty;
use tracing_actix_web::{DefaultRootSpanBuilder, RootSpanBuilder};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::middleware::RequestId;

/// Installs the global subscriber: `RUST_LOG` filter, text or JSON lines, one line per
/// finished request (its span closing, with timings).
pub fn init(settings: &LogSettings) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(&settings.filter).map_err(|e| {
        anyhow::anyhow!("RUST_LOG: '{}' is not a valid filter: {e}", settings.filter)
    })?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(FmtSpan::CLOSE)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let result = match settings.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().with_current_span(true).try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("could not install the logger: {e}"))
}

/// The root span of every request: its id, method, path (never the query string, which can
/// carry tokens), route pattern and status.
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(|id| id.0.clone())
            .unwrap_or_default();
        tracing::info_span!(
            "http_request",
            request_id = %request_id,
            http.method = %request.method(),
            http.path = %request.path(),
            http.route = Empty,
            http.status_code = Empty,
            otel.status_code = Empty,
            exception.message = Empty,
            exception.details = Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        if let Ok(response) = outcome
            && let Some(pattern) = response.request().match_pattern()
        {
            span.record("http.route", pattern);
        }
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}
