//! One OTLP push: the OTLP/HTTP profiles export of one interval (`--push-otlp URL`), posted as
//! gzip'd binary protobuf (`Content-Encoding: gzip`, which OTLP/HTTP servers must accept) to
//! `URL/v1development/profiles` (what the OpenTelemetry Collector's OTLP receiver serves with
//! its `service.profilesSupport` feature gate on). The message is
//! [`output::otlp`](crate::output::otlp)'s: the series' application name becomes
//! `service.name` and its labels further resource attributes.

use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;

use super::client::{AcceptCheck, Endpoint, IngestRequest};
use super::labels::Series;
use crate::output::otlp::{self, OtlpError, ResourceInfo};
use crate::profile::Profile;

/// gzip level of the request body. The protobuf is mostly small integers and a string table
/// that compress well (5 s system-wide intervals measured here: 50–313 KB of protobuf,
/// 16–75 KB gzip'd, the size of the same intervals' pprof push); the default level (6) is
/// within a few percent of the best in a fraction of its time, as for pprof files.
const GZIP_LEVEL: u32 = 6;

/// Why an interval cannot be pushed as OTLP.
#[derive(Debug, thiserror::Error)]
pub enum OtlpPushError {
    /// The profile does not fit the format.
    #[error(transparent)]
    Encode(#[from] OtlpError),
    /// Compressing the body failed.
    #[error("cannot compress the request: {0}")]
    Compress(#[from] std::io::Error),
}

/// The export request of one interval's profile.
pub fn export_request(endpoint: &Endpoint, series: &Series, profile: &Profile) -> Result<IngestRequest, OtlpPushError> {
    let resource = ResourceInfo { service_name: series.app().to_string(), labels: series.labels().to_vec() };
    let protobuf = otlp::encode(profile, &resource)?;
    let mut gz = GzEncoder::new(Vec::with_capacity(protobuf.len() / 3), Compression::new(GZIP_LEVEL));
    gz.write_all(&protobuf)?;
    Ok(IngestRequest {
        url: endpoint.target().to_string(),
        content_type: otlp::CONTENT_TYPE.to_string(),
        content_encoding: Some("gzip"),
        body: gz.finish()?,
        check_accepted: Some(AcceptCheck { content_type: otlp::CONTENT_TYPE, refusal: otlp::rejection }),
        retryable: super::client::retry_otlp,
    })
}

/// How an OTLP pusher names what it pushes: `service.name=app` and the labels.
pub fn describe(series: &Series) -> String {
    let mut s = format!("service.name={}", series.app());
    for (k, v) in series.labels() {
        s.push_str(&format!(", {k}={v}"));
    }
    s
}
