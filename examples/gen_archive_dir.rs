//! Generates a realistic archive directory of continuous recording for benchmarking `prof serve`
//! (scripts/bench-ui): 24 hours of 10-second intervals (8,640 archives) by default, written with
//! prof's own library (`ProfileBuilder`, `archive::write_file`, `store::archive_name`), as
//! `prof record --continuous` would.
//!
//! The machine it pretends to profile runs a dozen processes (Rust and C++ services, a database,
//! the idle task) whose stacks are walked down a fixed random call graph (5–40 frames, a third
//! with a kernel tail). Each interval holds 200–800 samples at 99 Hz on 2 CPUs, drawn from
//! heavy-tailed per-stack weights, so an archive has about 100–400 unique stacks. Load varies
//! over the day (each process follows its own daily curve) and at 14:00 a regression starts:
//! stacks through `myapp_index::segment::Segment::search` get three times their weight, so a diff
//! of 13:00–14:00 against 14:00–15:00 has a real, significant change. Output is deterministic
//! (xorshift PRNG, fixed seed, fixed start 2026-01-01T00:00:00Z).
//!
//! usage: `cargo run --release --example gen_archive_dir -- DIR [HOURS] [INTERVAL_SECONDS]`
//! Prints the first interval's start (ns since the epoch) on stdout.

use std::path::Path;
use std::process::ExitCode;

use prof::profile::{EventKind, Frame, FrameKind, LossReason, Metadata, ProfileBuilder};

/// 2026-01-01T00:00:00Z in nanoseconds since the epoch.
const T0: u64 = 1_767_225_600 * 1_000_000_000;
const SEC: u64 = 1_000_000_000;
/// The hour of the day at which the regression starts.
const REGRESSION_HOUR: u64 = 14;
/// The function whose stacks get heavier from then on.
const REGRESSED: &str = "myapp_index::segment::Segment::search";

/// xorshift64*: small, fast and deterministic, enough for synthetic data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A process of the synthetic machine: its comm, pid, main module and function-name style.
struct Process {
    comm: &'static str,
    pid: u32,
    module: &'static str,
    /// Name prefixes of its functions (crate or namespace paths).
    prefixes: &'static [&'static str],
    /// Share of the machine's samples, before the daily curve.
    weight: f64,
    /// Phase of its daily load curve, in hours.
    peak_hour: f64,
}

const PROCESSES: &[Process] = &[
    Process {
        comm: "myapp",
        pid: 2101,
        module: "myapp",
        prefixes: &[
            "myapp::server",
            "myapp_index::segment",
            "myapp_index::query",
            "tokio::runtime::task",
            "hyper::proto::h1",
        ],
        weight: 0.26,
        peak_hour: 15.0,
    },
    Process {
        comm: "tokio-runtime-w",
        pid: 2101,
        module: "myapp",
        prefixes: &[
            "tokio::runtime::scheduler",
            "myapp::handler",
            "serde_json::de",
            "hashbrown::raw",
            "bytes::bytes_mut",
        ],
        weight: 0.14,
        peak_hour: 15.5,
    },
    Process {
        comm: "envoy",
        pid: 1302,
        module: "envoy",
        prefixes: &[
            "Envoy::Http::ConnectionManagerImpl",
            "Envoy::Network::ConnectionImpl",
            "absl::lts_20240116",
            "std::__1",
        ],
        weight: 0.10,
        peak_hour: 14.0,
    },
    Process {
        comm: "mysqld",
        pid: 981,
        module: "mysqld",
        prefixes: &["mysql::Query_block", "innobase::btr_cur", "innobase::buf_pool", "THD", "handler"],
        weight: 0.12,
        peak_hour: 11.0,
    },
    Process {
        comm: "rocksdb:low",
        pid: 1555,
        module: "libstorage.so",
        prefixes: &["rocksdb::CompactionJob", "rocksdb::BlockBasedTable", "rocksdb::MemTable", "rocksdb::DBImpl"],
        weight: 0.06,
        peak_hour: 3.0,
    },
    Process {
        comm: "node",
        pid: 3120,
        module: "node",
        prefixes: &["v8::internal::Heap", "v8::internal::Scavenger", "Builtins_InterpreterEntryTrampoline", "node::fs"],
        weight: 0.08,
        peak_hour: 19.0,
    },
    Process {
        comm: "nginx",
        pid: 700,
        module: "nginx",
        prefixes: &["ngx_http", "ngx_event", "ngx_ssl", "SSL"],
        weight: 0.05,
        peak_hour: 20.0,
    },
    Process {
        comm: "containerd",
        pid: 450,
        module: "containerd",
        prefixes: &["github.com/containerd/containerd/v2/core", "runtime", "google.golang.org/grpc"],
        weight: 0.03,
        peak_hour: 8.0,
    },
    Process {
        comm: "python3",
        pid: 4400,
        module: "python3.11",
        prefixes: &["_PyEval_EvalFrameDefault", "PyObject", "_PyFunction", "list"],
        weight: 0.04,
        peak_hour: 2.0,
    },
    Process { comm: "swapper/0", pid: 0, module: "[kernel.kallsyms]", prefixes: &[], weight: 0.12, peak_hour: 4.0 },
];

const METHODS: &[&str] = &[
    "poll",
    "run",
    "call",
    "next",
    "decode",
    "encode",
    "insert",
    "get",
    "find",
    "reserve_rehash",
    "push",
    "lock_slow",
    "send",
    "recv",
    "parse",
    "execute",
    "flush",
    "read_buf",
    "write_all",
    "handle",
    "dispatch",
    "visit_map",
    "try_fold",
    "resize",
    "Compact",
    "Get",
    "Seek",
    "Next",
    "Allocate",
    "Scavenge",
    "ProcessRequest",
    "onData",
    "evaluate",
    "optimize",
    "hash_join",
    "sort",
    "merge",
];
const LIBC: &[&str] = &[
    "__memmove_avx_unaligned_erms",
    "malloc",
    "_int_malloc",
    "free",
    "_int_free",
    "pthread_mutex_lock",
    "__lll_lock_wait",
    "__strlen_avx2",
    "__memcmp_avx2_movbe",
    "__GI___libc_write",
    "epoll_wait",
];
const KERNEL_CHAINS: &[&[&str]] = &[
    &[
        "entry_SYSCALL_64_after_hwframe",
        "do_syscall_64",
        "__x64_sys_read",
        "ksys_read",
        "vfs_read",
        "sock_read_iter",
        "sock_recvmsg",
        "tcp_recvmsg",
        "tcp_recvmsg_locked",
        "skb_copy_datagram_iter",
        "__skb_datagram_iter",
        "_copy_to_iter",
    ],
    &[
        "entry_SYSCALL_64_after_hwframe",
        "do_syscall_64",
        "__x64_sys_write",
        "ksys_write",
        "vfs_write",
        "ext4_file_write_iter",
        "ext4_buffered_write_iter",
        "generic_perform_write",
        "ext4_da_write_begin",
    ],
    &[
        "entry_SYSCALL_64_after_hwframe",
        "do_syscall_64",
        "__x64_sys_sendto",
        "__sys_sendto",
        "tcp_sendmsg",
        "tcp_sendmsg_locked",
        "tcp_push",
        "__tcp_push_pending_frames",
        "tcp_write_xmit",
        "__tcp_transmit_skb",
        "ip_queue_xmit",
        "ip_finish_output2",
        "__dev_queue_xmit",
    ],
    &[
        "entry_SYSCALL_64_after_hwframe",
        "do_syscall_64",
        "__x64_sys_futex",
        "do_futex",
        "futex_wait",
        "futex_wait_queue",
        "schedule",
        "__schedule",
        "finish_task_switch.isra.0",
    ],
    &[
        "asm_exc_page_fault",
        "exc_page_fault",
        "do_user_addr_fault",
        "handle_mm_fault",
        "__handle_mm_fault",
        "do_anonymous_page",
        "vma_alloc_folio",
        "__alloc_pages",
        "get_page_from_freelist",
        "clear_page_erms",
    ],
    &[
        "asm_sysvec_apic_timer_interrupt",
        "sysvec_apic_timer_interrupt",
        "hrtimer_interrupt",
        "__hrtimer_run_queues",
        "tick_sched_timer",
        "update_process_times",
        "scheduler_tick",
        "task_tick_fair",
    ],
];
const IDLE_CHAIN: &[&str] = &[
    "secondary_startup_64_no_verify",
    "start_secondary",
    "cpu_startup_entry",
    "do_idle",
    "cpuidle_idle_call",
    "cpuidle_enter",
    "cpuidle_enter_state",
    "acpi_idle_enter",
    "acpi_idle_do_entry",
    "default_idle",
];

/// One stack of the population: its process and frames (outermost first) and its weight.
struct Stack {
    process: usize,
    frames: Vec<Frame>,
    weight: f64,
    regressed: bool,
}

/// Stacks per user process in the population.
const STACKS_PER_PROCESS: usize = 2_500;

fn population(rng: &mut Rng) -> Vec<Stack> {
    let kernel = |name: &str| Frame::new(name, "[kernel.kallsyms]", FrameKind::Kernel);
    let mut stacks = Vec::new();
    for (pi, p) in PROCESSES.iter().enumerate() {
        if p.prefixes.is_empty() {
            // The idle task: short kernel stacks with a long tail of interrupt variants.
            for i in 0..200 {
                let depth = 5 + rng.below(IDLE_CHAIN.len() - 4);
                let mut frames: Vec<Frame> = IDLE_CHAIN[..depth].iter().map(|k| kernel(k)).collect();
                frames.push(kernel(&format!("irq_handler_{i}")));
                stacks.push(Stack { process: pi, frames, weight: 1.0 / (i + 1) as f64, regressed: false });
            }
            continue;
        }
        // The process's functions and call graph.
        let functions: Vec<Frame> = (0..300)
            .map(|i| {
                if i % 10 == 9 {
                    Frame::new(LIBC[rng.below(LIBC.len())], "libc.so.6", FrameKind::User)
                } else {
                    let prefix = p.prefixes[rng.below(p.prefixes.len())];
                    let name = format!("{prefix}::{}_{i}", METHODS[rng.below(METHODS.len())]);
                    let mut f = Frame::new(name, p.module, FrameKind::User);
                    f.inlined = i % 17 == 0;
                    f
                }
            })
            .collect();
        let callees: Vec<Vec<usize>> =
            (0..functions.len()).map(|_| (0..2 + rng.below(5)).map(|_| rng.below(300)).collect()).collect();
        let regressed_fn = (pi == 0).then(|| Frame::new(REGRESSED, p.module, FrameKind::User));
        for rank in 0..STACKS_PER_PROCESS {
            let depth = (5 + rng.below(10) + rng.below(10) + rng.below(16)).min(40);
            let chain = KERNEL_CHAINS[rng.below(KERNEL_CHAINS.len())];
            let kernel_len = if rng.below(3) == 0 { (2 + rng.below(chain.len() - 1)).min(depth - 3) } else { 0 };
            let mut frames = Vec::with_capacity(depth);
            let mut f = rng.below(8);
            frames.push(functions[f].clone());
            let mut regressed = false;
            while frames.len() < depth - kernel_len {
                f = callees[f][rng.below(callees[f].len())];
                match &regressed_fn {
                    // One in six of myapp's stacks goes through the regressed function.
                    Some(r) if frames.len() == 4 && rank % 6 == 0 => {
                        frames.push(r.clone());
                        regressed = true;
                    }
                    _ => frames.push(functions[f].clone()),
                }
            }
            frames.extend(chain[..kernel_len].iter().map(|k| kernel(k)));
            // Zipf-like weights: a few hot stacks, a long tail.
            stacks.push(Stack { process: pi, frames, weight: ((rank + 1) as f64).powf(-1.2), regressed });
        }
    }
    stacks
}

/// Cumulative weights of every stack at time `t` (hours since midnight).
fn cumulative(stacks: &[Stack], hour: f64) -> Vec<f64> {
    let totals: Vec<f64> = PROCESSES
        .iter()
        .enumerate()
        .map(|(pi, _)| stacks.iter().filter(|s| s.process == pi).map(|s| s.weight).sum())
        .collect();
    let mut acc = 0.0;
    stacks
        .iter()
        .map(|s| {
            let p = &PROCESSES[s.process];
            let daily = 1.0 + 0.6 * ((hour - p.peak_hour) / 24.0 * std::f64::consts::TAU).cos();
            let regression = if s.regressed && hour >= REGRESSION_HOUR as f64 { 3.0 } else { 1.0 };
            acc += p.weight * daily * s.weight / totals[s.process] * regression;
            acc
        })
        .collect()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args.first() else {
        eprintln!("usage: gen_archive_dir DIR [HOURS] [INTERVAL_SECONDS]");
        return ExitCode::from(2);
    };
    let number = |i: usize, default: u64| match args.get(i).map(|s| s.parse::<u64>()) {
        None => Some(default),
        Some(Ok(n)) if n > 0 => Some(n),
        Some(_) => None,
    };
    let (Some(hours), Some(interval_s)) = (number(1, 24), number(2, 10)) else {
        eprintln!("gen_archive_dir: HOURS and INTERVAL_SECONDS must be positive integers");
        return ExitCode::from(2);
    };
    match generate(Path::new(dir), hours, interval_s) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gen_archive_dir: {e}");
            ExitCode::FAILURE
        }
    }
}

fn generate(dir: &Path, hours: u64, interval_s: u64) -> Result<(), Box<dyn std::error::Error>> {
    prof::store::ensure_dir(dir)?;
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let stacks = population(&mut rng);
    let intervals = hours * 3600 / interval_s;
    let mut cum = Vec::new();
    let (mut samples_sum, mut unique_sum, mut unique_min, mut unique_max) = (0u64, 0usize, usize::MAX, 0usize);
    for i in 0..intervals {
        let start = T0 + i * interval_s * SEC;
        // The distribution changes slowly: recompute it every simulated minute.
        if i % (60 / interval_s).max(1) == 0 {
            cum = cumulative(&stacks, ((i * interval_s) % 86_400) as f64 / 3600.0);
        }
        let meta = Metadata {
            prof_version: env!("CARGO_PKG_VERSION").into(),
            hostname: "bench-host".into(),
            kernel_release: "6.12.0-bench".into(),
            cpus: vec![0, 1],
            event: EventKind::CpuClock.into(),
            frequency_hz: 99,
            start_unix_ns: start,
            end_unix_ns: start + interval_s * SEC,
            target: "system-wide".into(),
            ..Default::default()
        };
        let mut b = ProfileBuilder::new(meta);
        let n = 200 + rng.below(601) as u64;
        let total = *cum.last().unwrap_or(&1.0);
        for _ in 0..n {
            let x = rng.unit() * total;
            let s = &stacks[cum.partition_point(|&c| c <= x).min(stacks.len() - 1)];
            let ids = s.frames.iter().map(|f| b.frame(f.clone())).collect();
            let id = b.stack(ids);
            let p = &PROCESSES[s.process];
            b.add(id, p.pid, p.comm, 1);
        }
        let m = b.meta_mut();
        m.total_samples = n;
        if rng.below(20) == 0 {
            m.losses.insert(LossReason::UserStackFault, 1 + rng.below(5) as u64);
        }
        let profile = b.finish();
        samples_sum += n;
        unique_sum += profile.stacks.len();
        unique_min = unique_min.min(profile.stacks.len());
        unique_max = unique_max.max(profile.stacks.len());
        let path = dir.join(prof::store::archive_name(start, 4242, i));
        prof::archive::write_file(&profile, &path)?;
    }
    eprintln!(
        "gen_archive_dir: {intervals} archives in `{}`: {:.0} samples and {:.0} unique stacks per archive on average \
         (stacks {unique_min}–{unique_max}); regression of `{REGRESSED}` from {REGRESSION_HOUR}:00",
        dir.display(),
        samples_sum as f64 / intervals as f64,
        unique_sum as f64 / intervals as f64,
    );
    println!("{T0}");
    Ok(())
}
