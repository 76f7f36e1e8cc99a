//! Compiles `bpf/profile.bpf.c` twice and generates a Rust skeleton of each into `OUT_DIR`: the
//! default object (`profile`: CO-RE, BTF-typed tracepoints, the table-driven unwinder) and the
//! fallback for kernels without BTF (`profile_nobtf`, built with `-DPROF_NO_BTF`).

use std::env;
use std::path::PathBuf;

use libbpf_cargo::SkeletonBuilder;

const SRC: &str = "bpf/profile.bpf.c";
const HEADER: &str = "bpf/profile.h";

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR is set by cargo"));
    let arch = env::var("CARGO_CFG_TARGET_ARCH").expect("CARGO_CFG_TARGET_ARCH is set by cargo");
    let vmlinux_dir = PathBuf::from("bpf/vmlinux").join(&arch);
    let target_arch = match arch.as_str() {
        "x86_64" => "x86",
        "aarch64" => "arm64",
        other => other,
    };

    let args = [
        format!("-I{}", vmlinux_dir.display()),
        "-Ibpf".to_string(),
        format!("-D__TARGET_ARCH_{target_arch}"),
        "-O2".to_string(),
        "-g".to_string(),
        "-Wall".to_string(),
    ];
    for (name, defines) in [("profile", &[][..]), ("profile_nobtf", &["-DPROF_NO_BTF".to_string()][..])] {
        SkeletonBuilder::new()
            .source(SRC)
            .obj(out.join(format!("{name}.bpf.o")))
            .clang_args(args.iter().chain(defines))
            .build_and_generate(out.join(format!("{name}.skel.rs")))
            .unwrap_or_else(|e| {
                panic!("failed to build `{SRC}` ({name}): {e:#}\n(run ./scripts/setup to install clang and libelf-dev)")
            });
    }

    println!("cargo:rerun-if-changed={SRC}");
    println!("cargo:rerun-if-changed={HEADER}");
    println!("cargo:rerun-if-changed={}", vmlinux_dir.join("vmlinux.h").display());
}
