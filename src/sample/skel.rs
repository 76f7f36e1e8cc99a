//! The generated BPF skeletons of `bpf/profile.bpf.c`: the default object and the fallback
//! for kernels without BTF (see `build.rs`).
#![allow(missing_docs, clippy::all, non_camel_case_types, non_upper_case_globals, dead_code)]
include!(concat!(env!("OUT_DIR"), "/profile.skel.rs"));

/// The fallback object's skeleton (`-DPROF_NO_BTF`): no CO-RE, no BTF-typed tracepoints.
pub mod nobtf {
    #![allow(missing_docs, clippy::all, non_camel_case_types, non_upper_case_globals, dead_code, unused_imports)]
    include!(concat!(env!("OUT_DIR"), "/profile_nobtf.skel.rs"));
}
