//! prof: a continuous CPU profiler for Linux.
//!
//! The modules are listed in the order data flows (docs/ARCHITECTURE.md draws it); each one
//! imports only modules above it, and [`profile`], [`atomic_file`] and [`error_text`] are the
//! ground they all stand on:
//!
//! - [`profile`]: the in-memory model (frames, stacks, samples, metadata, the unwind report).
//! - [`atomic_file`]: the one way a file is written (temp file, sync, mode, rename).
//! - [`error_text`]: an error and its sources on one line, for errors a stage reports and
//!   goes on after.
//! - [`process`]: what is known about each sampled process: its mappings and open binaries,
//!   shared by unwinding and symbolization.
//! - [`unwind`]: unwind tables built from binaries' call-frame information, the input of the
//!   in-kernel DWARF walker.
//! - [`python`]: CPython in a process: its version's offsets, its memory, its threads'
//!   Python frames, and code objects named `qualname (file.py:line)`.
//! - [`sample`]: BPF perf-event sampling, the only place with BPF types: loads tables, counts
//!   stacks in the kernel, reports process events, drains the counts.
//! - [`aggregate`]: the drained counts summed per stack (addresses only).
//! - [`symbolize`]: addresses → frames (blazesym, kallsyms, perf maps); builds the [`profile`].
//! - [`archive`]: prof's own versioned, compressed file format.
//! - [`output`]: every format written (folded, SVG, top table, pprof, speedscope, archive) and
//!   the one dispatcher that writes files for `record`, `report` and `diff`.
//! - [`input`]: reading a profile back from an archive, pprof or folded file.
//! - [`store`]: the archive directory of continuous recording (names, retention, time ranges).
//! - [`diff`]: comparing two profiles, with significance; its outputs go through [`output`].
//! - [`serve`]: the local web UI over an archive directory (read-only: store, archive, output).
//! - [`push`]: sending each interval's pprof to a Pyroscope-compatible store.
//! - [`record`]: drives a recording session through all of the above; reports progress
//!   through an observer, never prints.
//! - [`top`]: `prof top`'s model: the newest intervals in a decaying window, the table of
//!   hottest functions per process, a function's callers and callees.
#![warn(missing_docs)]

pub mod profile;

pub mod atomic_file;

pub mod error_text;

pub mod process;

pub mod unwind;

pub mod python;

pub mod sample;

pub mod aggregate;

pub mod symbolize;

pub mod archive;

pub mod output;

pub mod input;

pub mod store;

pub mod diff;

pub mod serve;

pub mod push;

pub mod record;

pub mod top;
