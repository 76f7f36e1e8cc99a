//! Python frames (stage between unwinding and sampling): finding a CPython interpreter in a
//! process ([`detect`]), the offsets of the interpreter's structures per version
//! ([`offsets`]), reading the process's memory ([`memory`], [`objects`]), walking a thread's
//! Python frames from userspace ([`walk`]) and naming a frame's code object and instruction
//! `qualname (file.py:line)` ([`code`], [`linetable`]).
//!
//! Everything read here comes from a process another user controls: every read is bounded,
//! every pointer checked, every length capped.

pub mod code;
pub mod detect;
pub mod linetable;
pub mod memory;
pub mod objects;
pub mod offsets;
pub mod walk;

pub use code::{CodeCache, CodeInfo};
pub use detect::{DetectError, Detector, PythonProcess};
pub use memory::{Memory, ProcessMemory};
pub use offsets::{Offsets, Version};
