//! prof: a continuous CPU profiler for Linux.
//!
//! The pipeline, one module per stage in the order data flows:
//! [`sample`] (BPF perf-event sampling, the only place with unsafe and BPF types) →
//! [`aggregate`] (raw in-kernel counts → a [`profile::Profile`]) →
//! [`symbolize`] (addresses → frames with blazesym) →
//! [`output`] (folded, flamegraph SVG, top table) and [`archive`] (the `.prof` format);
//! continuous recordings also go to [`push`] (each interval's pprof to a Pyroscope-compatible
//! store).
#![warn(missing_docs)]

pub mod aggregate;
pub mod archive;
pub mod diff;
pub mod emit;
pub mod output;
pub mod profile;
pub mod push;
pub mod record;
pub mod report;
pub mod sample;
pub mod serve;
pub mod store;
pub mod symbolize;
pub mod unwind;
