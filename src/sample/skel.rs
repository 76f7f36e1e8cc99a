//! The generated BPF skeleton of `bpf/profile.bpf.c`.
#![allow(missing_docs, clippy::all, non_camel_case_types, non_upper_case_globals, dead_code)]
include!(concat!(env!("OUT_DIR"), "/profile.skel.rs"));
