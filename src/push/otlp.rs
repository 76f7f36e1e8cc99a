//! One OTLP push: the OTLP/HTTP profiles export of one interval (`--push-otlp URL`), posted as
//! binary protobuf to `URL/v1development/profiles` (what the OpenTelemetry Collector's OTLP
//! receiver serves with its `service.profilesSupport` feature gate on). The message is
//! [`output::otlp`](crate::output::otlp)'s: the series' application name becomes
//! `service.name` and its labels further resource attributes.

use super::client::{AcceptCheck, Endpoint, IngestRequest};
use super::labels::Series;
use crate::output::otlp::{self, OtlpError, ResourceInfo};
use crate::profile::Profile;

/// The export request of one interval's profile.
pub fn export_request(endpoint: &Endpoint, series: &Series, profile: &Profile) -> Result<IngestRequest, OtlpError> {
    let resource = ResourceInfo { service_name: series.app().to_string(), labels: series.labels().to_vec() };
    Ok(IngestRequest {
        url: endpoint.target().to_string(),
        content_type: otlp::CONTENT_TYPE.to_string(),
        body: otlp::encode(profile, &resource)?,
        check_accepted: Some(AcceptCheck { content_type: otlp::CONTENT_TYPE, refusal: otlp::rejection }),
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
