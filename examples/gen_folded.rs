//! Generates two realistic folded-stack files for benchmarking `prof diff` (scripts/bench-diff).
//!
//! Both files have the same number of lines (100,000 by default), one unique stack per line, as
//! a long system-wide recording collapsed by perf or prof would: a root `comm` frame, then 5–40
//! frames walked down a fixed random call graph of about 3,000 Rust- and C++-like function names
//! (generics, closures, `::h…` hashes, `(anonymous namespace)`, libc), and for a third of the
//! stacks a kernel tail of `_[k]` frames. Counts are heavy-tailed (most stacks have a few
//! samples, a few have thousands). NEW shares 95% of its stacks with BASE (the other 5% are rare
//! stacks, at most 3 samples) and differs by shifting weight: stacks through three functions
//! grow, through three others shrink, and every count gets sampling noise. Output is
//! deterministic (xorshift PRNG, fixed seed).
//!
//! With MAX_DEPTH (default 40) stacks are cut to at most that many frames below the root:
//! the default gives ~1 KB lines (22 frames on average), 6 gives ~300-byte lines, closer to
//! typical recordings.
//!
//! With `--tree`, one file for the web UI's benchmark instead (scripts/bench-ui): a wide and
//! deep call tree whose flame tree has at least NODES nodes (default 50,000), walked down from
//! the same names with children chosen by a skewed choice (a few hot paths, a long tail), depths
//! 4–37, heavy-tailed counts. With `--dust`, a profile made mostly of dust: under one dispatcher,
//! FRAMES handlers (default 5,000) of 1–3 samples each, every one far below the 0.1% a
//! flamegraph draws, together about 80% of the samples, beside two wide frames of 10% each.
//! With `--flat`, the worst case for drawing: 1,000 stacks of 10 samples, each a chain of its own
//! frames (NODES / 1,000 deep), so that every frame is exactly 0.1% wide.
//!
//! usage: `cargo run --release --example gen_folded -- BASE.folded NEW.folded [LINES [MAX_DEPTH]]`
//!        `cargo run --release --example gen_folded -- --tree OUT.folded [NODES]`
//!        `cargo run --release --example gen_folded -- --dust OUT.folded [FRAMES]`
//!        `cargo run --release --example gen_folded -- --flat OUT.folded [NODES]`

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::process::ExitCode;

/// Functions in the user-space vocabulary.
const USER_FUNCTIONS: usize = 3_000;
/// Fraction of lines of each file that the other file does not have (new or vanished stacks).
const UNSHARED_PER_MILLE: usize = 50;

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

    /// Uniform in (0, 1].
    fn unit(&mut self) -> f64 {
        ((self.next() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const RUST_CRATES: &[&str] = &[
    "tokio",
    "hyper",
    "h2",
    "tonic",
    "prost",
    "serde_json",
    "regex",
    "rayon",
    "hashbrown",
    "bytes",
    "futures_util",
    "mio",
    "parking_lot",
    "tracing",
    "rustls",
    "ring",
    "sqlx",
    "axum",
    "tower",
    "myapp",
    "myapp_storage",
    "myapp_index",
    "core",
    "alloc",
    "std",
];
const RUST_MODULES: &[&str] = &[
    "runtime", "task", "harness", "proto", "codec", "de", "ser", "read", "write", "pool", "sync", "mpsc", "raw", "map",
    "iter", "fmt", "io", "net", "handler", "query", "plan", "exec", "btree", "vec", "slice", "str", "buf", "conn",
    "frame", "stream", "server", "client", "util", "cache",
];
const RUST_TYPES: &[&str] = &[
    "Harness<T,S>",
    "Core<T,S>",
    "Connection<T>",
    "Decoder",
    "Encoder",
    "Deserializer<R>",
    "Serializer<W>",
    "RawTable<T,A>",
    "HashMap<K,V,S>",
    "Vec<T,A>",
    "BytesMut",
    "Sender<T>",
    "Receiver<T>",
    "Mutex<T>",
    "Planner",
    "Executor",
    "Index",
    "Segment",
    "Regex",
    "Pool<T>",
    "Router",
    "Service",
    "Request",
    "Response",
    "Buffer",
    "Worker",
    "Scheduler",
    "Context<'_>",
];
const RUST_METHODS: &[&str] = &[
    "poll",
    "poll_next",
    "call",
    "run",
    "next",
    "decode",
    "encode",
    "serialize",
    "deserialize_any",
    "insert",
    "get",
    "remove",
    "reserve_rehash",
    "find",
    "push",
    "extend",
    "with_capacity",
    "clone",
    "drop",
    "lock_slow",
    "send",
    "recv",
    "parse",
    "search",
    "execute",
    "flush",
    "read_buf",
    "write_all",
    "handle",
    "dispatch",
    "visit_map",
    "fold",
    "try_fold",
    "for_each",
    "resize",
];
const CPP_NAMESPACES: &[&str] = &[
    "v8::internal",
    "rocksdb",
    "grpc_core",
    "absl::lts_20240116",
    "folly",
    "boost::asio::detail",
    "std",
    "mysql",
    "leveldb",
    "(anonymous namespace)",
    "llvm",
    "clang",
    "Envoy::Http",
    "tcmalloc",
];
const CPP_CLASSES: &[&str] = &[
    "Heap",
    "Isolate",
    "DBImpl",
    "MemTable",
    "BlockBasedTable",
    "Arena",
    "Call",
    "Server",
    "Mutex",
    "HashTable",
    "ThreadPool",
    "scheduler",
    "Parser",
    "Lexer",
    "Sema",
    "ConnectionManagerImpl",
    "vector<int, std::allocator<int> >",
    "basic_string<char, std::char_traits<char>, std::allocator<char> >",
    "unordered_map<std::string, int>",
    "Scavenger",
    "MarkCompactCollector",
    "Compiler",
    "Codec",
];
const CPP_METHODS: &[&str] = &[
    "Get(rocksdb::ReadOptions const&, rocksdb::Slice const&, std::string*)",
    "Run()",
    "Scavenge()",
    "CollectGarbage(v8::internal::AllocationSpace)",
    "Lookup(absl::string_view)",
    "Lock()",
    "Unlock()",
    "_M_realloc_insert<int const&>(int*, int const&)",
    "operator()()",
    "_M_append(char const*, unsigned long)",
    "Insert(std::pair<int, int>&&)",
    "Parse()",
    "onData(Envoy::Buffer::Instance&, bool)",
    "do_run_one(boost::asio::detail::scheduler_operation*&)",
    "Compact(int)",
    "Allocate(unsigned long)",
    "Visit(v8::internal::HeapObject)",
    "~Arena()",
];
const C_FUNCTIONS: &[&str] = &[
    "__memmove_avx_unaligned_erms",
    "__memset_avx2_unaligned_erms",
    "malloc",
    "_int_malloc",
    "free",
    "_int_free",
    "__libc_start_call_main",
    "__libc_start_main_impl",
    "start_thread",
    "clone3",
    "pthread_mutex_lock",
    "__lll_lock_wait",
    "pthread_cond_wait@@GLIBC_2.3.2",
    "__strlen_avx2",
    "__GI___libc_write",
    "__GI___libc_read",
    "epoll_wait",
    "__poll",
    "syscall",
    "__memcmp_avx2_movbe",
];
const KERNEL_CHAINS: &[&[&str]] = &[
    &[
        "entry_SYSCALL_64_after_hwframe",
        "do_syscall_64",
        "__x64_sys_read",
        "ksys_read",
        "vfs_read",
        "new_sync_read",
        "sock_read_iter",
        "sock_recvmsg",
        "tcp_recvmsg",
        "tcp_recvmsg_locked",
        "skb_copy_datagram_iter",
        "__skb_datagram_iter",
        "_copy_to_iter",
        "copy_user_enhanced_fast_string",
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
        "__filemap_get_folio",
        "filemap_add_folio",
        "__mem_cgroup_charge",
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
        "__ip_queue_xmit",
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
        "pick_next_task_fair",
        "newidle_balance",
    ],
    &[
        "entry_SYSCALL_64_after_hwframe",
        "do_syscall_64",
        "__x64_sys_epoll_wait",
        "do_epoll_wait",
        "ep_poll",
        "schedule_hrtimeout_range",
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
        "alloc_anon_folio",
        "vma_alloc_folio",
        "__alloc_pages",
        "get_page_from_freelist",
        "clear_page_erms",
    ],
    &[
        "asm_sysvec_apic_timer_interrupt",
        "sysvec_apic_timer_interrupt",
        "__sysvec_apic_timer_interrupt",
        "hrtimer_interrupt",
        "__hrtimer_run_queues",
        "tick_sched_timer",
        "update_process_times",
        "scheduler_tick",
        "task_tick_fair",
        "update_curr",
    ],
    &[
        "entry_SYSCALL_64_after_hwframe",
        "do_syscall_64",
        "__x64_sys_mmap",
        "ksys_mmap_pgoff",
        "vm_mmap_pgoff",
        "do_mmap",
        "mmap_region",
        "vma_merge",
        "vma_adjust",
        "vma_interval_tree_insert",
    ],
    &[
        "entry_SYSCALL_64_after_hwframe",
        "do_syscall_64",
        "__x64_sys_openat",
        "do_sys_openat2",
        "do_filp_open",
        "path_openat",
        "link_path_walk.part.0.constprop.0",
        "walk_component",
        "lookup_fast",
        "__d_lookup_rcu",
    ],
];
const COMMS: &[&str] = &[
    "myapp",
    "myapp-worker",
    "tokio-runtime-w",
    "envoy",
    "mysqld",
    "node",
    "rocksdb:low",
    "java",
    "grpc_global_tim",
    "clang++",
    "postgres",
    "redis-server",
    "nginx",
    "python3",
    "containerd",
];

/// A Rust- or C++-like function name, unique thanks to the index.
fn function_name(rng: &mut Rng, i: usize) -> String {
    match rng.below(10) {
        0..=4 => {
            let mut name = format!(
                "{}::{}::{}::{}_{i}",
                rng.pick(RUST_CRATES),
                rng.pick(RUST_MODULES),
                rng.pick(RUST_TYPES),
                rng.pick(RUST_METHODS)
            );
            match rng.below(6) {
                0 => name.push_str("::{{closure}}"),
                1 => name = format!("<{name} as core::future::future::Future>::poll"),
                _ => {}
            }
            // Rust hashes are per-build; prof diff strips them, inferno compares them verbatim.
            if rng.below(3) == 0 {
                name.push_str(&format!("::h{:016x}", rng.next()));
            }
            name
        }
        5..=8 => format!("{}::{}{i}::{}", rng.pick(CPP_NAMESPACES), rng.pick(CPP_CLASSES), rng.pick(CPP_METHODS)),
        _ => match rng.below(3) {
            0 => format!("{}.isra.{}", rng.pick(C_FUNCTIONS), i % 7),
            _ => format!("{}_{i}", rng.pick(C_FUNCTIONS)),
        },
    }
}

/// A stack's frames (without the root) and its comm index.
struct Stack {
    comm: usize,
    frames: Vec<u32>,
}

/// Index of the first kernel frame in the combined frame table.
const KERNEL_BASE: u32 = USER_FUNCTIONS as u32;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(mode @ ("--tree" | "--dust" | "--flat")) = args.first().map(String::as_str) {
        let (Some(path), None) = (args.get(1), args.get(3)) else {
            eprintln!("usage: gen_folded {mode} OUT.folded [COUNT]");
            return ExitCode::from(2);
        };
        let count: usize = match args.get(2).map(|s| s.parse()) {
            None if mode != "--dust" => 50_000,
            None => 5_000,
            Some(Ok(n)) if n > 0 => n,
            Some(_) => {
                eprintln!("gen_folded: {mode}'s COUNT must be a positive integer");
                return ExitCode::from(2);
            }
        };
        let result = match mode {
            "--tree" => generate_tree(path, count),
            "--flat" => generate_flat(path, count),
            _ => generate_dust(path, count),
        };
        return match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("gen_folded: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let (base_path, new_path) = match (args.first(), args.get(1)) {
        (Some(b), Some(n)) => (b.clone(), n.clone()),
        _ => {
            eprintln!("usage: gen_folded BASE.folded NEW.folded [LINES [MAX_DEPTH]]");
            return ExitCode::from(2);
        }
    };
    let lines: usize = match args.get(2).map(|s| s.parse()) {
        None => 100_000,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("gen_folded: LINES must be a positive integer");
            return ExitCode::from(2);
        }
    };
    let max_depth: usize = match args.get(3).map(|s| s.parse()) {
        None => 40,
        Some(Ok(n)) if n >= 5 => n,
        Some(_) => {
            eprintln!("gen_folded: MAX_DEPTH must be an integer of at least 5");
            return ExitCode::from(2);
        }
    };
    match generate(&base_path, &new_path, lines, max_depth) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gen_folded: {e}");
            ExitCode::FAILURE
        }
    }
}

fn generate(base_path: &str, new_path: &str, lines: usize, max_depth: usize) -> std::io::Result<()> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    // Frame table: user functions, then every kernel function of the chains.
    let mut names: Vec<String> = (0..USER_FUNCTIONS).map(|i| function_name(&mut rng, i)).collect();
    let mut kernel_chains: Vec<Vec<u32>> = Vec::new();
    for chain in KERNEL_CHAINS {
        let ids = chain
            .iter()
            .map(|k| {
                let label = format!("{k}_[k]");
                match names.iter().position(|n| *n == label) {
                    Some(p) => p as u32,
                    None => {
                        names.push(label);
                        (names.len() - 1) as u32
                    }
                }
            })
            .collect();
        kernel_chains.push(ids);
    }
    assert!(names.len() > KERNEL_BASE as usize);
    // Call graph: each function calls 2–8 others; a few hundred entry points per program.
    let callees: Vec<Vec<u32>> = (0..USER_FUNCTIONS)
        .map(|_| (0..2 + rng.below(7)).map(|_| rng.below(USER_FUNCTIONS) as u32).collect())
        .collect();
    let entries: Vec<Vec<u32>> =
        COMMS.iter().map(|_| (0..20).map(|_| rng.below(USER_FUNCTIONS) as u32).collect()).collect();

    // Unique stacks: BASE gets the first `lines`, NEW the last `lines` (95% overlap).
    let unshared = lines * UNSHARED_PER_MILLE / 1000;
    let wanted = lines + unshared;
    let mut seen: HashSet<(usize, Vec<u32>)> = HashSet::with_capacity(wanted);
    let mut stacks: Vec<Stack> = Vec::with_capacity(wanted);
    while stacks.len() < wanted {
        let comm = rng.below(COMMS.len());
        // Depth 5–40, most between 10 and 25.
        let depth = (5 + rng.below(12) + rng.below(12) + rng.below(13)).min(max_depth);
        let kernel = rng.below(3) == 0;
        let chain = &kernel_chains[rng.below(kernel_chains.len())];
        let kernel_len = if kernel { (2 + rng.below(chain.len() - 1)).min(depth - 3) } else { 0 };
        let mut frames = Vec::with_capacity(depth);
        let mut f = entries[comm][rng.below(20)];
        frames.push(f);
        while frames.len() < depth - kernel_len {
            let c = &callees[f as usize];
            f = c[rng.below(c.len())];
            frames.push(f);
        }
        frames.extend_from_slice(&chain[..kernel_len]);
        if seen.insert((comm, frames.clone())) {
            stacks.push(Stack { comm, frames });
        }
    }

    // Heavy-tailed counts: Pareto with mean ~10, capped.
    let counts: Vec<u64> = (0..wanted).map(|_| (rng.unit().powf(-0.9).ceil() as u64).min(20_000)).collect();
    // Shifted functions: popular enough to matter, chosen deterministically.
    let mut popularity = vec![0u64; names.len()];
    for (s, &c) in stacks.iter().zip(&counts) {
        for &f in &s.frames {
            popularity[f as usize] += c;
        }
    }
    let mut by_pop: Vec<usize> = (0..USER_FUNCTIONS).collect();
    by_pop.sort_by_key(|&f| std::cmp::Reverse(popularity[f]));
    // Grow three functions of middling weight (2–5% of samples), shrink three others.
    let grow = [by_pop[40], by_pop[90], by_pop[150]];
    let shrink = [by_pop[60], by_pop[120], by_pop[200]];
    for (what, fs) in [("grows", &grow), ("shrinks", &shrink)] {
        for &f in fs.iter() {
            eprintln!("gen_folded: in NEW, {} {what}", names[f]);
        }
    }

    let write = |path: &str, range: std::ops::Range<usize>, rng: &mut Rng, shift: bool| -> std::io::Result<u64> {
        let mut w = BufWriter::new(File::create(path)?);
        let mut total = 0u64;
        let mut line = String::new();
        for i in range {
            let s = &stacks[i];
            // Stacks only one side has are rare ones, as between two real recordings.
            let only_one_side = i < unshared || i >= lines;
            let mut c = if only_one_side { counts[i].min(3) as f64 } else { counts[i] as f64 };
            if shift {
                if s.frames.iter().any(|f| grow.contains(&(*f as usize))) {
                    c *= 2.5;
                }
                if s.frames.iter().any(|f| shrink.contains(&(*f as usize))) {
                    c *= 0.4;
                }
                // Sampling noise of about one standard deviation of a Poisson count.
                c += (rng.unit() - 0.5) * 2.0 * c.sqrt();
            }
            let c = (c.round() as u64).max(1);
            line.clear();
            line.push_str(COMMS[s.comm]);
            for &f in &s.frames {
                line.push(';');
                line.push_str(&names[f as usize]);
            }
            writeln!(w, "{line} {c}")?;
            total += c;
        }
        w.flush()?;
        Ok(total)
    };
    let base_total = write(base_path, 0..lines, &mut rng, false)?;
    let new_total = write(new_path, unshared..wanted, &mut rng, true)?;
    eprintln!(
        "gen_folded: {lines} lines each; BASE {base_total} samples, NEW {new_total} samples; {} functions",
        names.len()
    );
    Ok(())
}

/// Uniform in `0..n`, skewed towards 0 (the square of a uniform number): child 0 is chosen about
/// a third of the time, the last child rarely.
fn skewed(rng: &mut Rng, n: usize) -> usize {
    let u = rng.unit();
    ((u * u * n as f64) as usize).min(n - 1)
}

/// Writes `stacks` (frame indices into `names`, counts) as sorted folded lines; returns the total.
fn write_folded(path: &str, names: &[String], stacks: &BTreeMap<Vec<u32>, u64>) -> std::io::Result<u64> {
    let mut w = BufWriter::new(File::create(path)?);
    let mut total = 0;
    for (frames, count) in stacks {
        let line: Vec<&str> = frames.iter().map(|&f| names[f as usize].as_str()).collect();
        writeln!(w, "{} {count}", line.join(";"))?;
        total += count;
    }
    w.flush()?;
    Ok(total)
}

/// `--tree`: a folded file whose flame tree has at least `nodes` nodes (see the module's doc).
fn generate_tree(path: &str, nodes: usize) -> std::io::Result<()> {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let mut names: Vec<String> = (0..USER_FUNCTIONS).map(|i| function_name(&mut rng, i)).collect();
    names.extend(COMMS.iter().map(|c| c.to_string()));
    // The flame tree as a trie: (parent node, name) → node; the roots' parent is u32::MAX.
    let mut trie: HashMap<(u32, u32), u32> = HashMap::new();
    let mut stacks: BTreeMap<Vec<u32>, u64> = BTreeMap::new();
    while trie.len() < nodes {
        let comm = (USER_FUNCTIONS + skewed(&mut rng, COMMS.len())) as u32;
        let depth = 4 + rng.below(12) + rng.below(12) + rng.below(11);
        let mut frames = vec![comm];
        let next = trie.len() as u32;
        let mut parent = *trie.entry((u32::MAX, comm)).or_insert(next);
        while frames.len() < depth {
            // Wide near the root, narrower further down, as real programs are.
            let fanout = match frames.len() {
                1..=3 => 12,
                4..=10 => 6,
                _ => 3,
            };
            let k = skewed(&mut rng, fanout) as u64;
            // Each node's children are its own names (a hash of the node and the choice).
            let name = ((u64::from(parent) * 2_654_435_761 + k * 40_503 + 17) % USER_FUNCTIONS as u64) as u32;
            frames.push(name);
            let next = trie.len() as u32;
            parent = *trie.entry((parent, name)).or_insert(next);
        }
        *stacks.entry(frames).or_default() += (rng.unit().powf(-0.9).ceil() as u64).min(20_000);
    }
    let total = write_folded(path, &names, &stacks)?;
    eprintln!(
        "gen_folded: {} stacks, {total} samples; flame tree of {} nodes (without the root)",
        stacks.len(),
        trie.len()
    );
    Ok(())
}

/// `--dust`: `frames` handlers of 1–3 samples each under one dispatcher (see the module's doc).
fn generate_dust(path: &str, frames: usize) -> std::io::Result<()> {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let mut names: Vec<String> = vec!["app".into(), "main".into(), "dispatch".into(), "wide_a".into(), "wide_b".into()];
    let mut stacks: BTreeMap<Vec<u32>, u64> = BTreeMap::new();
    let mut dust = 0;
    for i in 0..frames {
        names.push(format!("handler_{i:05}"));
        names.push(format!("work_{}", i % 7));
        let count = 1 + rng.below(3) as u64;
        dust += count;
        stacks.insert(vec![0, 1, 2, names.len() as u32 - 2, names.len() as u32 - 1], count);
    }
    // Dust is 80%: each wide frame gets an eighth of it.
    stacks.insert(vec![0, 1, 3], dust / 8);
    stacks.insert(vec![0, 1, 4], dust / 8);
    let total = write_folded(path, &names, &stacks)?;
    eprintln!("gen_folded: {frames} handlers of 1-3 samples ({dust} samples) of {total} samples");
    Ok(())
}

/// `--flat`: 1,000 stacks of 10 samples, each a chain of its own `nodes / 1000` frames (at
/// least one), every frame 0.1% wide.
fn generate_flat(path: &str, nodes: usize) -> std::io::Result<()> {
    const STACKS: usize = 1000;
    let depth = nodes.div_ceil(STACKS);
    let mut names = vec!["app".to_string()];
    let mut stacks: BTreeMap<Vec<u32>, u64> = BTreeMap::new();
    for i in 0..STACKS {
        let mut frames = vec![0];
        for d in 0..depth {
            names.push(format!("chain{i}_{d}"));
            frames.push(names.len() as u32 - 1);
        }
        stacks.insert(frames, 10);
    }
    let total = write_folded(path, &names, &stacks)?;
    eprintln!(
        "gen_folded: {STACKS} chains of {depth} frames, {total} samples; flame tree of {} nodes",
        STACKS * depth + 1
    );
    Ok(())
}
