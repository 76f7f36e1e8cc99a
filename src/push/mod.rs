//! Pushing continuous profiles to a Pyroscope-compatible store (`record --continuous --push
//! URL`): after each interval's archive is written, its profile is sent as pprof to the store's
//! `/ingest` endpoint, from a background thread, so the store can never slow or stop recording.
//!
//! The local archive is the source of truth. The recorder hands the pusher only the archive's
//! path ([`Pusher::enqueue`], never blocking); the push thread reads the archive back, converts
//! it to pprof and posts it ([`client`]). The queue is bounded ([`PushOptions::queue_capacity`]):
//! when it is full the oldest path is dropped and counted. A push that fails for a reason that
//! may pass (no connection, timeout, 408, 429, 5xx) is retried with exponential backoff and
//! jitter, in order: later intervals wait behind it. One the store refuses (other 4xx) is
//! counted as rejected and logged once. An archive deleted (by retention) before its turn is
//! counted as missing. On exit the pusher gets a bounded grace period to catch up, then reports
//! what was not pushed ([`PushStats`]); everything not pushed is still in the archive directory.
//!
//!
//! The same machinery pushes to an OpenTelemetry collector (`--push-otlp URL`): only the
//! request differs ([`Protocol`]): an OTLP/HTTP profiles export instead of `/ingest`.
//!
//! - [`labels`]: the application name and labels, validated as Pyroscope does.
//! - [`template`]: label values taken from each sample (`--label service_name={container}`).
//! - [`split`]: an interval's profile split by those values, one push per label set.
//! - [`client`]: the `/ingest` request (URL, multipart body) and sending any request.
//! - [`otlp`]: the OTLP profiles export request.
//! - [`queue`]: the bounded queue, the push thread, retries and the counters.

pub mod client;
pub mod labels;
pub mod otlp;
pub mod queue;
pub mod split;
pub mod template;

use std::sync::mpsc::SyncSender;
use std::time::Duration;

pub use client::Endpoint;
pub use labels::{parse_label, validate_app_name, Series};
pub use queue::Pusher;

use crate::profile::Profile;

/// Archives the push queue holds while the store is unreachable. At the default 10 s interval
/// that is 2¾ hours of outage before the oldest interval is dropped from the queue (it stays in
/// the archive directory), for a few hundred kilobytes of paths.
pub const DEFAULT_QUEUE_CAPACITY: usize = 1000;

/// First retry delay after a failed push; doubles per consecutive failure.
pub const DEFAULT_INITIAL_BACKOFF: Duration = Duration::from_secs(1);

/// Longest retry delay: a store that is down for hours is probed once a minute, and one that
/// comes back is used again within a minute.
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Connect and request timeout: a hung store holds the push thread this long at most.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the recorder waits on exit for queued pushes (`--push-timeout`).
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);

/// What a store speaks: how an interval's profile becomes a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// Pyroscope's `/ingest` with a pprof profile (`--push`).
    Pyroscope,
    /// An OTLP/HTTP profiles export (`--push-otlp`).
    Otlp,
}

impl Protocol {
    /// The path appended to the store's base URL.
    pub fn path(self) -> &'static str {
        match self {
            Protocol::Pyroscope => "/ingest",
            Protocol::Otlp => crate::output::otlp::EXPORT_PATH,
        }
    }

    /// The option that selects it, for messages.
    pub fn option(self) -> &'static str {
        match self {
            Protocol::Pyroscope => "--push",
            Protocol::Otlp => "--push-otlp",
        }
    }

    /// The request of one interval's profile for `endpoint`, or why it cannot be encoded. The
    /// profile's metadata may be scrubbed of what is not sent (host name, target, notes).
    pub fn request(
        self,
        endpoint: &Endpoint,
        series: &Series,
        profile: &mut Profile,
    ) -> Result<client::IngestRequest, String> {
        match self {
            Protocol::Pyroscope => {
                client::ingest_request(endpoint, series, profile).map_err(|e| format!("cannot encode as pprof: {e}"))
            }
            Protocol::Otlp => {
                otlp::export_request(endpoint, series, profile).map_err(|e| format!("cannot encode as OTLP: {e}"))
            }
        }
    }

    /// The requests of one interval's profile: one, or with placeholders in `series`' labels
    /// one per label set its samples resolve to (at most [`split::MAX_SERIES`] and the
    /// overflow), each with only its samples. Also returns how many label sets were merged
    /// into the overflow.
    pub fn requests(
        self,
        endpoint: &Endpoint,
        series: &Series,
        mut profile: Profile,
    ) -> Result<(Vec<client::IngestRequest>, usize), String> {
        if !series.is_templated() {
            return Ok((vec![self.request(endpoint, series, &mut profile)?], 0));
        }
        let split = split::split(&mut profile, series, split::MAX_SERIES);
        let mut requests = Vec::with_capacity(split.parts.len());
        for part in split.parts {
            profile.samples = part.samples;
            requests.push(self.request(endpoint, &part.series, &mut profile)?);
        }
        Ok((requests, split.merged))
    }

    /// What the profiles are pushed as, for people: Pyroscope's `app{k=v,…}`, OTLP's
    /// `service.name=app, k=v`.
    pub fn describe(self, series: &Series) -> String {
        match self {
            Protocol::Pyroscope => series.name_param(),
            Protocol::Otlp => otlp::describe(series),
        }
    }
}

/// A message of the push thread for whoever runs the recording (the `prof` binary prints it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushMessage {
    /// A failure or rejection (true), or news such as pushing working again (false).
    pub warning: bool,
    /// What happened, for a person.
    pub text: String,
}

/// How pushing behaves.
#[derive(Clone, Debug)]
pub struct PushOptions {
    /// Archive paths held while waiting; when full, the oldest is dropped.
    pub queue_capacity: usize,
    /// First retry delay; doubles per consecutive failure, with jitter.
    pub initial_backoff: Duration,
    /// Cap of the retry delay.
    pub max_backoff: Duration,
    /// Connect and whole-request timeout.
    pub timeout: Duration,
    /// How long [`Pusher::finish`] waits for the queue to drain.
    pub grace: Duration,
    /// Where failures, recoveries and rejections are reported as they happen (they also go into
    /// the next archive's notes). None: nowhere; a full channel drops the message.
    pub messages: Option<SyncSender<PushMessage>>,
}

impl Default for PushOptions {
    fn default() -> Self {
        PushOptions {
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            initial_backoff: DEFAULT_INITIAL_BACKOFF,
            max_backoff: DEFAULT_MAX_BACKOFF,
            timeout: DEFAULT_TIMEOUT,
            grace: DEFAULT_GRACE,
            messages: None,
        }
    }
}

/// Where and how a continuous recording pushes.
#[derive(Clone, Debug)]
pub struct PushConfig {
    /// What the store speaks.
    pub protocol: Protocol,
    /// The store.
    pub endpoint: Endpoint,
    /// Application name; `None`: the profiled command's or process's name, else `prof`.
    pub app_name: Option<String>,
    /// Labels, validated (see [`Series::new`]).
    pub labels: Vec<(String, String)>,
    /// Queue, retries, timeouts.
    pub options: PushOptions,
}

impl PushConfig {
    /// The series profiles are pushed as, with `default_app` when no application name was given.
    pub fn series(&self, default_app: &str) -> Result<Series, String> {
        match &self.app_name {
            Some(app) => Series::new(app, &self.labels),
            None => Series::new(&labels::app_name_from(default_app), &self.labels),
        }
    }
}

/// What one pusher did, by store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushSummary {
    /// The store's URL (without credentials).
    pub endpoint: String,
    /// The counters after the grace period.
    pub stats: PushStats,
}

/// What the pusher did. At the end, `queued = pushed + rejected + dropped + missing +
/// unreadable + unsent`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PushStats {
    /// Archives handed to the pusher.
    pub queued: u64,
    /// Accepted by the store (2xx).
    pub pushed: u64,
    /// Attempts that failed for a passing reason and were retried (or would have been).
    pub retries: u64,
    /// Refused by the store for good (4xx other than 408 and 429).
    pub rejected: u64,
    /// Dropped from the full queue, oldest first.
    pub dropped: u64,
    /// Deleted (by retention) before their turn.
    pub missing: u64,
    /// Could not be read back or converted.
    pub unreadable: u64,
    /// Still queued or being retried when the grace period ended.
    pub unsent: u64,
}

impl PushStats {
    /// Archives that did not reach the store, for any reason.
    pub fn not_pushed(&self) -> u64 {
        self.rejected + self.dropped + self.missing + self.unreadable + self.unsent
    }
}
