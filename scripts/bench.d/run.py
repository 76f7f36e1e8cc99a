#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# The measuring half of scripts/bench (which installs the peers and builds prof and the
# workloads first, then calls this): runs every arm on every workload, interleaved, measures,
# and writes the tables and targets as Markdown (docs/BENCHMARKS.md) plus the raw results as
# JSON. Two phases:
#   A. per-sample kernel cost by amplification: the fixed-work burner pinned to the last CPU,
#      the profiler's own process pinned to CPU 0, sampling at 999 Hz system-wide; the slowdown
#      of the burner against the no-profiler arm of the same repetition, divided by the samples
#      its CPU took, is the cost of one sample. Then, with kernel.bpf_stats_enabled=1 (restored
#      after), the BPF programs' own run time per sample (prof, bpftrace).
#   B. recordings of each workload, system-wide: start-up, steady-state CPU of the profiler,
#      peak RSS, BPF map / ring-buffer memory, samples expected vs captured, full stacks,
#      time from the end of the recording to the SVG (and its stages), bytes per sample, and the
#      burner's split.
#   C. one recording taken by perf and prof at once (archive size against perf.data).
#   D. off-CPU recording's cost per context switch against bpftrace and perf
#      (scripts/bench-offcpu, whose table goes into the report as it is).
# Everything a run leaves (outputs, logs) stays in WORK/runs/<phase>/<workload>/<arm>-<rep>/.
import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone

NCPU = os.cpu_count() or 1
BPFTRACE_PROG = "profile:hz:{hz} {{ @[kstack, ustack, comm] = count(); }}"

# ----------------------------------------------------------------------------------------------
# /proc helpers


def read(path, default=""):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return default


def cpu_ns(pid):
    """CPU time (user + system) of every live thread of `pid`, in ns (schedstat: ns resolution)."""
    total = 0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    for tid in tids:
        s = read(f"/proc/{pid}/task/{tid}/schedstat").split()
        if s:
            total += int(s[0])
    return total


def thread_cpu_ns(pid):
    """{"tid comm": CPU ns} of every live thread."""
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        s = read(f"/proc/{pid}/task/{tid}/schedstat").split()
        if s:
            out[f"{tid} {read(f'/proc/{pid}/task/{tid}/comm').strip()}"] = int(s[0])
    return out


def forks():
    """Processes and threads created since boot (/proc/stat `processes`)."""
    m = re.search(r"^processes (\d+)", read("/proc/stat"), re.M)
    return int(m.group(1)) if m else 0


def proc_status_kib(pid, field):
    m = re.search(rf"^{field}:\s+(\d+) kB", read(f"/proc/{pid}/status"), re.M)
    return int(m.group(1)) if m else None


def fd_links(pid):
    out = []
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return out
    for fd in fds:
        try:
            out.append((fd, os.readlink(f"/proc/{pid}/fd/{fd}")))
        except OSError:
            pass
    return out


def fdinfo(pid, fd):
    d = {}
    for line in read(f"/proc/{pid}/fdinfo/{fd}").splitlines():
        k, _, v = line.partition(":")
        d[k.strip()] = v.strip()
    return d


def bpf_objects(pid, kind):
    """fdinfo of every BPF object of `kind` ("map", "prog") a process holds."""
    for fd, link in fd_links(pid):
        if link == f"anon_inode:bpf-{kind}":
            yield fdinfo(pid, fd)


def bpf_maps(pid):
    """BPF maps a process holds: {map_id: (type, max_entries, memlock bytes)}."""
    return {i["map_id"]: (int(i.get("map_type", -1)), int(i.get("max_entries", 0)), int(i.get("memlock", 0)))
            for i in bpf_objects(pid, "map") if "map_id" in i}


def bpf_progs(pid):
    """Perf-event BPF programs a process holds: {prog_id: (run_time_ns, run_cnt)}."""
    # prog_type 7: BPF_PROG_TYPE_PERF_EVENT (the sampling program; not prof's fork/exec hooks)
    return {i["prog_id"]: (int(i.get("run_time_ns", 0)), int(i.get("run_cnt", 0)))
            for i in bpf_objects(pid, "prog") if i.get("prog_type") == "7" and "prog_id" in i}


def perf_buffer_bytes(pid):
    """Bytes of perf ring buffers mapped by the process (perf record's per-CPU buffers)."""
    total = 0
    for line in read(f"/proc/{pid}/maps").splitlines():
        if "perf_event" in line:
            a, b = line.split()[0].split("-")
            total += int(b, 16) - int(a, 16)
    return total


def perf_event_fds(pid):
    return sum(1 for _, l in fd_links(pid) if l == "anon_inode:[perf_event]")


def children(pid):
    return [int(x) for x in read(f"/proc/{pid}/task/{pid}/children").split()]


# ----------------------------------------------------------------------------------------------
# Arms


class Arm:
    """One profiler configuration: its command line, how to tell it is sampling, its outputs."""

    def __init__(self, name, kind, extra=(), binary=None):
        self.name, self.kind, self.extra = name, kind, list(extra)
        # prof's binary when it is not the one under test (the baseline arm).
        self.binary = binary

    def prof(self, cfg):
        return self.binary or cfg.prof

    def command(self, cfg, d, hz):
        if self.kind == "perf":
            return [cfg.perf, "record", "-F", str(hz), "-e", "cpu-clock", "-a", *self.extra, "-o", f"{d}/perf.data"]
        if self.kind == "bpftrace":
            return [cfg.bpftrace, "-e", BPFTRACE_PROG.format(hz=hz)]
        if self.kind == "prof":
            return [self.prof(cfg), "record", "-F", str(hz), "-v", *self.extra, "-o", f"{d}/x.svg", "-o", f"{d}/x.prof"]
        raise ValueError(self.kind)

    def ready(self, pid, d):
        if self.kind == "prof":
            return "prof: recording" in read(f"{d}/stderr")
        if self.kind == "bpftrace" and "Attaching" not in read(f"{d}/stdout"):
            return False
        return perf_event_fds(pid) >= NCPU


ARMS = {
    "perf": Arm("perf", "perf"),
    "perf -g": Arm("perf -g", "perf", ["-g"]),
    "bpftrace": Arm("bpftrace", "bpftrace"),
    "prof": Arm("prof", "prof"),
    "prof --unwind fp": Arm("prof --unwind fp", "prof", ["--unwind", "fp"]),
}


class Running:
    """A profiler started under /usr/bin/time; `pid` is the profiler itself."""

    def __init__(self, cfg, arm, d, hz, pin=None):
        os.makedirs(d, exist_ok=True)
        self.arm, self.d = arm, d
        cmd = arm.command(cfg, d, hz)
        if pin is not None:
            cmd = ["taskset", "-c", str(pin), *cmd]
        self.t_launch = time.monotonic()
        self.proc = subprocess.Popen(
            ["/usr/bin/time", "-f", "%M %e %U %S", "-o", f"{d}/time", *cmd],
            stdout=open(f"{d}/stdout", "w"),
            stderr=open(f"{d}/stderr", "w"),
            stdin=subprocess.DEVNULL,
            cwd=d,
        )
        self.pid = None
        self.resent = 0
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.pid is None:
                c = children(self.proc.pid)
                if c:
                    self.pid = c[0]
            if self.pid is not None and arm.ready(self.pid, d):
                break
            if self.proc.poll() is not None:
                raise RuntimeError(f"{arm.name} exited before sampling: {read(d + '/stderr')[-2000:]}")
            time.sleep(0.01)
        else:
            self.kill()
            raise RuntimeError(f"{arm.name} did not start sampling within 120 s")
        self.t_ready = time.monotonic()
        self.startup_s = self.t_ready - self.t_launch
        self.cpu_at_ready = cpu_ns(self.pid) or 0

    def signal(self):
        self.out0 = os.path.getsize(self.d + "/stdout")
        self.t_signal = time.monotonic()
        os.kill(self.pid, signal.SIGINT)

    def stop(self, signalled=False):
        """SIGINT (unless sent already), then wait; returns seconds from the signal to the exit."""
        if not signalled:
            self.signal()
        out0 = self.out0
        t = last = self.t_signal
        deadline = t + 600
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"{self.arm.name} did not exit within 600 s of SIGINT")
            # bpftrace 0.17 can miss a SIGINT that lands between its exit check and its epoll_wait
            # (it then sleeps until the next signal). If it has not started printing its map
            # 1.5 s after the signal, repeat it, as a user would press Ctrl-C again (a second
            # SIGINT while it prints would abort the printing).
            if self.arm.kind == "bpftrace" and time.monotonic() - last > 1.5:
                if os.path.getsize(self.d + "/stdout") <= out0:
                    self.resent += 1
                    try:
                        os.kill(self.pid, signal.SIGINT)
                        last = time.monotonic()
                    except ProcessLookupError:
                        pass
            time.sleep(0.005)
        # From the signal that took effect (bpftrace: the repeated one).
        took = time.monotonic() - last
        if self.proc.returncode not in (0, 130, -2):
            # perf and bpftrace exit 0 after SIGINT; anything else is a failed run.
            err = read(self.d + "/stderr")[-3000:]
            raise RuntimeError(f"{self.arm.name} exited with {self.proc.returncode}: {err}")
        return took

    def kill(self):
        for pid in (self.pid, self.proc.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, TypeError):
                pass
        self.proc.wait()

    def peak_rss_kib(self):
        # The last line: GNU time puts "Command exited with non-zero status N" before it.
        lines = read(self.d + "/time").strip().splitlines()
        t = lines[-1].split() if lines else []
        return int(t[0]) if t and t[0].isdigit() else None


def run_cmd(cmd, out=None, check=True, **kw):
    """Runs a command (shell string or list), returns (seconds, CompletedProcess)."""
    t = time.monotonic()
    p = subprocess.run(cmd, shell=isinstance(cmd, str), stdout=out if out else subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, **kw)
    took = time.monotonic() - t
    if check and p.returncode != 0:
        raise RuntimeError(f"`{cmd}` failed ({p.returncode}): {p.stderr[-2000:]}")
    return took, p


# ----------------------------------------------------------------------------------------------
# Parsing outputs into {comm: [ (frames outer→inner, count) ]}


def strip_frame(f):
    f = f.strip()
    for suf in ("_[k]", "_[i]", "_[j]", "_[w]"):
        if f.endswith(suf):
            f = f[: -len(suf)]
    return f


def parse_folded(path):
    stacks = []
    for line in read(path).splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        frames = [strip_frame(f) for f in stack.split(";")]
        stacks.append((frames[0], frames[1:], int(n)))
    return stacks


def parse_bpftrace(path):
    """bpftrace's map print: @[\\n kstack\\n, \\n ustack\\n, comm]: N (stacks innermost first)."""
    text = read(path)
    stacks = []
    for m in re.finditer(r"@\[(.*?)\]: (\d+)\n", text, re.S):
        parts = ("\n" + m.group(1)).split("\n,")
        if len(parts) < 3:
            continue
        comm = parts[-1].strip()
        frames = []
        for part in (parts[1], parts[0]):  # user (outer part of the stack) then kernel
            fr = [re.sub(r"\+\d+$", "", x.strip()) for x in part.strip().splitlines() if x.strip()]
            frames += list(reversed(fr))
        stacks.append((comm, frames, int(m.group(2))))
    return stacks


# A user stack that reaches one of these frames is complete (threads start in clone3/start_thread).
OUTERMOST = {"main", "__libc_start_call_main", "__libc_start_main", "_start", "start_thread", "clone3",
             "__clone3", "clone", "__clone"}


def analyse(stacks, comm):
    """Samples of `comm`, how many reach main (full stack), distinct stacks, the burner's split."""
    mine = [(f, n) for c, f, n in stacks if c == comm]
    total = sum(n for _, n in mine)
    full = sum(n for f, n in mine if any(x in OUTERMOST or x.endswith("::main") for x in f))
    split = {}
    for leaf in ("leaf_a", "leaf_b", "leaf_c"):
        split[leaf] = sum(n for f, n in mine if leaf in f)
    distinct = len({tuple(f) for f, _ in mine})
    return {"samples": total, "full": full, "distinct": distinct, "split": split,
            "all_samples": sum(n for _, _, n in stacks)}


# ----------------------------------------------------------------------------------------------
# Workloads of phase B


# Processes the churn workload starts per second.
CHURN_RATE = 50


def churn_bins(bindir):
    """The churn's children (scripts/bench builds them)."""
    d = f"{bindir}/churn-bins"
    return sorted(f"{d}/{n}" for n in os.listdir(d)) if os.path.isdir(d) else []


def per_process_ms(cell, arm):
    """An arm's CPU per new process (ms): its steady CPU under churn less its idle steady CPU,
    over the tasks the machine created per second meanwhile."""
    churn, idle, rate = cell("churn", arm, "steady_ms_per_s"), cell("idle", arm, "steady_ms_per_s"), \
        cell("churn", arm, "forks_per_s")
    return (churn - idle) / rate if None not in (churn, idle, rate) and rate > 0 else None


def baseline_arm(cfg):
    """The arm of prof built at --baseline's revision (named after it), or None."""
    name = getattr(cfg, "baseline_name", "")
    return f"prof {name}" if name else None


def workloads(cfg):
    """Phase B's workloads, each with its arms (the baseline's, if any, right after prof's)."""
    wls = _workloads(cfg)
    base = baseline_arm(cfg)
    if base:
        for wl in wls.values():
            wl["arms"].insert(wl["arms"].index("prof") + 1, base)
    return wls


def _workloads(cfg):
    long = 3600
    w = cfg.workdir + "/bin"
    # Shorter windows at 999 Hz: bpftrace needs ~1 s per 1,000 distinct stacks to print its map.
    # (--quick: 99 Hz, a smoke test needs the path, not the pressure.)
    st = {"hz": 99} if cfg.quick else {"warm": 1.0, "steady": 3.0}
    return {
        "idle": {"procs": [], "comm": None, "hz": 99, "arms": ["perf", "perf -g", "bpftrace", "prof"],
                 "what": "nothing started (the machine's own background)"},
        "burner": {"procs": [[f"{w}/split", str(long)]] * NCPU, "comm": "split", "hz": 99,
                   "arms": ["perf", "perf -g", "bpftrace", "prof"],
                   "what": f"tests/workloads/split.c (50/30/20 leaf split, frame pointers), {NCPU} instances"},
        "stacks-1k": {"procs": [[f"{w}/manystacks", str(long), "1000"]] * NCPU, "comm": "manystacks", "hz": 999,
                      "arms": ["perf -g", "bpftrace", "prof"],
                      "what": f"tests/workloads/manystacks.c, 1,000 distinct 18-frame stacks, {NCPU} instances", **st},
        "stacks-5k": {"procs": [[f"{w}/manystacks", str(long), "5000"]] * NCPU, "comm": "manystacks", "hz": 999,
                      "arms": ["perf -g", "bpftrace", "prof"],
                      "what": f"tests/workloads/manystacks.c, 5,000 distinct stacks, {NCPU} instances", **st},
        "stacks-20k": {"procs": [[f"{w}/manystacks", str(long), "20000"]] * NCPU, "comm": "manystacks", "hz": 999,
                       "arms": ["perf -g", "bpftrace", "prof"],
                       "what": f"tests/workloads/manystacks.c, 20,000 distinct stacks, {NCPU} instances", **st},
        "syscalls": {"procs": [[f"{w}/syscalls", str(long)]] * NCPU, "comm": "syscalls", "hz": 99,
                     "arms": ["perf", "perf -g", "bpftrace", "prof"],
                     "what": f"tests/workloads/syscalls.c (read 1 MiB from /dev/zero), {NCPU} instances"},
        "churn": {"procs": [[f"{w}/churn", str(CHURN_RATE), str(long), "20"] + churn_bins(w)], "comm": None, "hz": 99,
                  "arms": ["perf -g", "bpftrace", "prof"],
                  "what": f"tests/workloads/churn.c: {CHURN_RATE} processes a second, round-robin over 20 builds "
                          "of tests/workloads/short.c with distinct build IDs, each burning 20 ms"},
        "bigbin": {"procs": [[f"{w}/bigbin", str(long), str(NCPU)]], "comm": "bigbin", "hz": 99,
                   "arms": ["perf -g", "bpftrace", "prof"],
                   "what": f"large binary: scripts/bench.d/gen-bigbin.py {cfg.bigbin_n} (Rust, -O -g, "
                           f"{cfg.bigbin_mb:.0f} MB), {NCPU} threads"},
    }


def record_once(cfg, wname, wl, arm, rep):
    d = f"{cfg.workdir}/runs/B/{wname}/{arm.name.replace(' ', '_')}-{rep}"
    shutil.rmtree(d, ignore_errors=True)
    hz = wl["hz"]
    r = {"workload": wname, "arm": arm.name, "rep": rep, "hz": hz}
    run = Running(cfg, arm, d, hz)
    r["startup_s"] = run.startup_s
    r["cpu_to_ready_ms"] = run.cpu_at_ready / 1e6
    procs = [subprocess.Popen(p, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for p in wl["procs"]]
    try:
        time.sleep(wl.get("warm", cfg.warm))
        c0, t0, th0, f0 = cpu_ns(run.pid), time.monotonic(), thread_cpu_ns(run.pid), forks()
        r["warmup_cpu_ms"] = (c0 - run.cpu_at_ready) / 1e6
        steady = wl.get("steady", cfg.steady)
        time.sleep(steady / 2)
        maps = bpf_maps(run.pid)
        r["bpf_map_bytes"] = sum(m[2] for m in maps.values())
        r["bpf_maps"] = {k: v for k, v in maps.items()}
        r["perf_buffer_bytes"] = perf_buffer_bytes(run.pid)
        time.sleep(steady / 2)
        c1, t1 = cpu_ns(run.pid), time.monotonic()
        r["steady_ms_per_s"] = (c1 - c0) / 1e6 / (t1 - t0)
        r["forks_per_s"] = (forks() - f0) / (t1 - t0)
        th1 = thread_cpu_ns(run.pid)
        r["steady_threads_ms_per_s"] = {k: (v - th0.get(k, 0)) / 1e6 / (t1 - t0) for k, v in th1.items()}
        r["rss_steady_kib"] = proc_status_kib(run.pid, "VmHWM")
        for p in procs:
            os.kill(p.pid, signal.SIGSTOP)
        # CPU the workload got while recorded (it started after the profiler was sampling).
        r["workload_cpu_s"] = sum((cpu_ns(p.pid) or 0) for p in procs) / 1e9
        r["recorded_s"] = time.monotonic() - run.t_ready
        r["stop_to_exit_s"] = run.stop()
        r["sigint_repeated"] = run.resent
    except BaseException:
        if run.proc.poll() is None:
            run.kill()
        raise
    finally:
        for p in procs:
            p.kill()
            os.kill(p.pid, signal.SIGCONT) if p.poll() is None else None
            p.wait()
    r["peak_rss_kib"] = run.peak_rss_kib()
    comm = wl["comm"]

    if arm.kind == "prof":
        err = read(d + "/stderr")
        m = re.search(r"prof: recorded .*?: (\d+) samples", err)
        r["samples_total"] = int(m.group(1)) if m else None
        r["lost"] = {re.sub(r"\s+", " ", x[1]).strip(): int(x[0])
                     for x in re.findall(r"^\s+lost: (\d+) \([\d.]+%\) (.*?) \(sample", err, re.M)}
        # prof -v: "end of recording → outputs: stop and last drain N ms, symbolize N ms, write
        # PATH N ms, PATH N ms".
        m = re.search(r"end of recording → outputs: stop and last drain (\d+) ms, symbolize (\d+) ms, write (.*)", err)
        if m:
            r["stage_stop_s"], r["stage_symbolize_s"] = int(m.group(1)) / 1e3, int(m.group(2)) / 1e3
            writes = {os.path.basename(p): int(ms) / 1e3 for p, ms in re.findall(r"(\S+) (\d+) ms", m.group(3))}
            r["stage_write_svg_s"], r["stage_write_archive_s"] = writes.get("x.svg"), writes.get("x.prof")
            r["stage_exit_s"] = r["stop_to_exit_s"] - sum(
                x or 0 for x in (r["stage_stop_s"], r["stage_symbolize_s"], r["stage_write_svg_s"], r["stage_write_archive_s"]))
        prof = arm.prof(cfg)
        r["render_svg_s"], _ = run_cmd([prof, "report", f"{d}/x.prof", "-o", f"{d}/r.svg"])
        r["render_pprof_s"], _ = run_cmd([prof, "report", f"{d}/x.prof", "-o", f"{d}/x.pb.gz"])
        run_cmd([prof, "report", f"{d}/x.prof", "-o", f"{d}/x.folded"])
        r["bytes"] = {"archive": os.path.getsize(f"{d}/x.prof"), "pprof": os.path.getsize(f"{d}/x.pb.gz"),
                      "svg": os.path.getsize(f"{d}/x.svg")}
        stacks = parse_folded(f"{d}/x.folded")
        r["to_svg_s"] = r["stop_to_exit_s"]
    elif arm.kind == "perf":
        err = read(d + "/stderr")
        m = re.search(r"\((\d+) samples\)", err)
        r["samples_total"] = int(m.group(1)) if m else None
        lost = re.findall(r"(?:lost|Lost) (\d+) (chunks|events|samples)", err)
        r["lost"] = {f"perf: lost {k}": int(n) for n, k in lost}
        r["bytes"] = {"perf.data": os.path.getsize(f"{d}/perf.data")}
        data = f"{d}/perf.data"
        if "-g" in arm.extra:
            # The pipeline as a user runs it, then each stage on its own (stages run concurrently
            # in the pipeline, so they add up to more than its time).
            r["pipeline_s"], _ = run_cmd(f"'{cfg.perf}' script -i '{data}' 2>/dev/null | inferno-collapse-perf "
                                         f"| tee '{d}/perf.folded' | inferno-flamegraph > '{d}/perf.svg'")
            r["to_svg_s"] = r["stop_to_exit_s"] + r["pipeline_s"]
            if cfg.stages or wname == "bigbin":
                with open(f"{d}/perf.script", "w") as f:
                    r["stage_script_s"], _ = run_cmd([cfg.perf, "script", "-i", data], out=f)
                with open(f"{d}/perf.folded2", "w") as f:
                    r["stage_collapse_s"], _ = run_cmd(["inferno-collapse-perf", f"{d}/perf.script"], out=f)
                with open(f"{d}/perf2.svg", "w") as f:
                    r["stage_flamegraph_s"], _ = run_cmd(["inferno-flamegraph", f"{d}/perf.folded2"], out=f)
                os.unlink(f"{d}/perf.script")
            r["bytes"]["svg"] = os.path.getsize(f"{d}/perf.svg")
            # inferno-collapse-perf weighs each sample by its period (cpu-clock: 1e9/hz ns).
            period = int(1e9 / hz)
            stacks = [(c, f, round(n / period)) for c, f, n in parse_folded(f"{d}/perf.folded")]
            # ... which is adjusted in frequency mode, so count the samples themselves too.
            _, p = run_cmd([cfg.perf, "script", "-i", data, "-F", "comm"])
            exact = {}
            for line in p.stdout.splitlines():
                exact[line.strip()] = exact.get(line.strip(), 0) + 1
        else:
            _, p = run_cmd([cfg.perf, "script", "-i", data, "-F", "comm"])
            counts = {}
            for line in p.stdout.splitlines():
                counts[line.strip()] = counts.get(line.strip(), 0) + 1
            stacks = [(c, [], n) for c, n in counts.items()]
    else:  # bpftrace
        stacks = parse_bpftrace(f"{d}/stdout")
        r["samples_total"] = sum(n for _, _, n in stacks)
        err = read(d + "/stderr")
        r["lost"] = {}
        n = len(re.findall(r"failed to look up stack id", err))
        if n:
            r["lost"]["bpftrace: stack ids that failed (printed as errors; stacks shown empty)"] = n
        r["bytes"] = {"text": os.path.getsize(f"{d}/stdout")}
        r["to_text_s"] = r["stop_to_exit_s"]
    if comm:
        a = analyse(stacks, comm)
        r.update({"samples": a["samples"], "full": a["full"], "distinct": a["distinct"], "split": a["split"]})
        if arm.kind == "perf" and "-g" in arm.extra:
            # Shares (full, split) from the period-weighted folded file; the count exactly.
            r["full"] = a["full"] * exact.get(comm, 0) / a["samples"] if a["samples"] else 0
            r["samples"] = exact.get(comm, 0)
        r["expected"] = hz * r["workload_cpu_s"]
    if r.get("samples_total") is None:
        r["samples_total"] = sum(n for _, _, n in stacks)
    if not cfg.keep:
        for f in ("perf.data", "x.svg", "r.svg", "perf.svg", "perf2.svg", "perf.folded2"):
            if os.path.exists(f"{d}/{f}"):
                os.unlink(f"{d}/{f}")
    return r


# ----------------------------------------------------------------------------------------------
# Phase A: amplification


def irq_time_accounted_apart():
    """CONFIG_IRQ_TIME_ACCOUNTING: True, False, or None when the kernel config is not readable."""
    import gzip
    try:
        text = gzip.open("/proc/config.gz", "rt").read()
    except OSError:
        text = read(f"/boot/config-{os.uname().release}")
    if "CONFIG_IRQ_TIME_ACCOUNTING=y" in text:
        return True
    if "# CONFIG_IRQ_TIME_ACCOUNTING is not set" in text:
        return False
    return None


def burn(cfg, calls, cpu):
    """Seconds the fixed work took: the burner's own CPU time where IRQ time is not accounted
    apart (it then includes the sampling interrupts that hit the burner and excludes the time
    other tasks ran on its CPU: robust to a busy machine), else wall time."""
    _, p = run_cmd(["taskset", "-c", str(cpu), f"{cfg.workdir}/bin/split", "--calls", str(calls)])
    wall, cpu_s = (float(x) for x in p.stdout.split())
    return cpu_s if cfg.irq_apart is False else wall


def amplification(cfg, log):
    # The kernel lowers perf_event_max_sample_rate by itself when sampling interrupts take too
    # long; put back what it was.
    rate = read("/proc/sys/kernel/perf_event_max_sample_rate").strip()
    try:
        return amplification_runs(cfg, log)
    finally:
        if rate and read("/proc/sys/kernel/perf_event_max_sample_rate").strip() != rate:
            with open("/proc/sys/kernel/perf_event_max_sample_rate", "w") as f:
                f.write(rate)


def amplification_runs(cfg, log):
    burn_cpu = NCPU - 1
    # Calibrate: calls for the wanted duration.
    t = burn(cfg, 2000, burn_cpu)
    calls = max(1000, int(2000 * cfg.amp_seconds / t))
    log(f"phase A: {calls} calls ≈ {cfg.amp_seconds} s per run, burner on CPU {burn_cpu}, profilers on CPU 0, "
        f"{cfg.amp_hz} Hz")
    arms = ["none", "perf", "perf -g", "bpftrace", "prof", "prof --unwind fp"]
    rows = []
    for rep in range(cfg.reps):
        order = arms[rep % len(arms):] + arms[: rep % len(arms)]
        if rep % 2:
            order.reverse()
        for a in order:
            if a == "none":
                el = burn(cfg, calls, burn_cpu)
                rows.append({"arm": a, "rep": rep, "elapsed_s": el})
                continue
            d = f"{cfg.workdir}/runs/A/{a.replace(' ', '_')}-{rep}"
            shutil.rmtree(d, ignore_errors=True)
            run = Running(cfg, ARMS[a], d, cfg.amp_hz, pin=0)
            try:
                time.sleep(cfg.settle)
                el = burn(cfg, calls, burn_cpu)
                run.stop()
            except BaseException:
                run.kill()
                raise
            rows.append({"arm": a, "rep": rep, "elapsed_s": el})
            if not cfg.keep:
                for f in ("perf.data", "x.svg", "x.prof"):
                    if os.path.exists(f"{d}/{f}"):
                        os.unlink(f"{d}/{f}")
        log(f"  rep {rep + 1}/{cfg.reps}: " + ", ".join(
            f"{r['arm']} {r['elapsed_s']:.3f}s" for r in rows if r["rep"] == rep))

    # BPF programs' own run time per sample, burner on every CPU so nearly every sample is one.
    stats = []
    old = read("/proc/sys/kernel/bpf_stats_enabled").strip() or "0"
    try:
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write("1")
        for rep in range(cfg.stat_reps):
            for a in ("prof", "prof --unwind fp", "bpftrace"):
                d = f"{cfg.workdir}/runs/A/stats-{a.replace(' ', '_')}-{rep}"
                shutil.rmtree(d, ignore_errors=True)
                run = Running(cfg, ARMS[a], d, cfg.stats_hz, pin=0)
                try:
                    time.sleep(cfg.settle)
                    p0 = bpf_progs(run.pid)
                    procs = [subprocess.Popen(["taskset", "-c", str(c), f"{cfg.workdir}/bin/split", "--calls", str(calls)],
                                              stdout=subprocess.DEVNULL) for c in range(NCPU)]
                    for p in procs:
                        p.wait()
                    p1 = bpf_progs(run.pid)
                    run.stop()
                except BaseException:
                    run.kill()
                    raise
                dt = sum(p1[k][0] - p0.get(k, (0, 0))[0] for k in p1)
                dn = sum(p1[k][1] - p0.get(k, (0, 0))[1] for k in p1)
                stats.append({"arm": a, "rep": rep, "run_time_ns": dt, "run_cnt": dn,
                              "ns_per_run": dt / dn if dn else None})
                log(f"  bpf_stats {a}: {dt / dn if dn else float('nan'):.0f} ns per run ({dn} runs)")
    finally:
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write(old)
    return {"calls": calls, "rows": rows, "bpf_stats": stats, "hz": cfg.amp_hz, "stats_hz": cfg.stats_hz}


# ----------------------------------------------------------------------------------------------
# Phase C: one recording, two recorders: prof and perf -g at once on the same workload


def same_recording(cfg, log):
    wl = workloads(cfg)["burner"]
    out = []
    for rep in range(cfg.size_reps):
        d = f"{cfg.workdir}/runs/C/{rep}"
        shutil.rmtree(d, ignore_errors=True)
        runs = [Running(cfg, ARMS["perf -g"], d + "/perf", 99), Running(cfg, ARMS["prof"], d + "/prof", 99)]
        procs = [subprocess.Popen(p, stdout=subprocess.DEVNULL) for p in wl["procs"]]
        try:
            time.sleep(cfg.size_seconds)
        finally:
            for p in procs:
                p.kill()
                p.wait()
            for r in runs:
                r.signal()
            for r in runs:
                r.stop(signalled=True)
        err = read(d + "/perf/stderr")
        m = re.search(r"\((\d+) samples\)", err)
        perf_samples = int(m.group(1)) if m else None
        m = re.search(r"prof: recorded .*?: (\d+) samples", read(d + "/prof/stderr"))
        prof_samples = int(m.group(1)) if m else None
        run_cmd([cfg.prof, "report", f"{d}/prof/x.prof", "-o", f"{d}/prof/x.pb.gz"])
        r = {"seconds": cfg.size_seconds, "perf_samples": perf_samples, "prof_samples": prof_samples,
             "perf.data": os.path.getsize(f"{d}/perf/perf.data"), "archive": os.path.getsize(f"{d}/prof/x.prof"),
             "pprof": os.path.getsize(f"{d}/prof/x.pb.gz")}
        out.append(r)
        log(f"phase C: {cfg.size_seconds} s, perf.data {r['perf.data']} B ({perf_samples} samples), "
            f"archive {r['archive']} B ({prof_samples} samples), pprof {r['pprof']} B")
        if not cfg.keep:
            os.unlink(f"{d}/perf/perf.data")
    return out


# ----------------------------------------------------------------------------------------------
# Summaries


def side_script(cfg, name, args):
    """Runs scripts/NAME (a benchmark of its own) on this run's prof with ARGS and returns the JSON
    it wrote (its rows and Markdown table)."""
    path = f"{cfg.workdir}/{name}.json"
    script = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), name)
    cmd = [sys.executable, script, "--prof", cfg.prof, *args, "--json", path]
    # Once more when it fails: a peer that did not attach in time (bpftrace, seen once in a
    # full run) should not cost the run's other phases; twice is a real failure.
    if subprocess.run(cmd, stdout=subprocess.DEVNULL).returncode != 0:
        print(f"scripts/bench: {name} failed; running it once more", file=sys.stderr)
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(path) as f:
        return json.load(f)


def offcpu_phase(cfg, log):
    """Phase D: scripts/bench-offcpu on this run's prof; its JSON (rows and Markdown table)."""
    reps, trips = (1, 20000) if cfg.quick else (3, 200000)
    D = side_script(cfg, "bench-offcpu", ["--reps", str(reps), "--round-trips", str(trips)])
    log("phase D off-CPU: " + "; ".join(
        f"{r['arm']}: {r['added_ns_per_switch'] / 1000:+.2f} µs/switch" for r in D["rows"]))
    return D


def offcpu_report(D):
    """The target row of phase D (prof's off-CPU cost per switch as ratios of bpftrace's and
    perf's) and its section."""
    total = {r["arm"]: r["total_ns_per_switch"] for r in D["rows"]}
    every, budget = total.get("prof --off-cpu --off-cpu-budget 0"), total.get("prof --off-cpu")
    peers = {"bpftrace": next((v for k, v in total.items() if k.startswith("bpftrace")), None),
             "perf": next((v for k, v in total.items() if k.startswith("perf record")), None)}
    def r(a, b):
        return fmt(a / b if a is not None and b else None)
    row = ("off-CPU: CPU per context switch against bpftrace and `perf record -e sched:sched_switch -g`",
           f"recording every switch {r(every, peers['bpftrace'])}× bpftrace's, {r(every, peers['perf'])}× perf's "
           f"({fmt(every and every / 1000)} µs per switch); with the default budget {r(budget, peers['bpftrace'])}× and "
           f"{r(budget, peers['perf'])}× ({fmt(budget and budget / 1000)} µs)", "–")
    section = ["## Off-CPU recording: cost per context switch\n",
               "`scripts/bench-offcpu` (see its header): a ping-pong of two threads through pipes pinned to one "
               "CPU, each tool attached with -p. *Added*: the workload's CPU per switch above the no-profiler "
               "arm (what the tool runs at each switch); *profiler CPU*: the tool's own process; the ratio is "
               "prof recording every switch (`--off-cpu-budget 0`, what the peers do) over each arm's total.\n"]
    section += D["markdown"] + [""]
    return row, section


def python_phase(cfg, log):
    """Phase E: scripts/bench-python on this run's prof; its JSON (rows and Markdown table)."""
    reps, window = (1, 2.0) if cfg.quick else (3, 5.0)
    E = side_script(cfg, "bench-python", ["--reps", str(reps), "--window", str(window)])
    log("phase E Python: " + "; ".join(
        f"{r['arm']}: BPF {fmt(r['bpf_ns_per_sample'] and r['bpf_ns_per_sample'] / 1000)} µs, "
        f"own CPU {r['tool_ns_per_sample'] / 1000:.1f} µs per sample" for r in E["rows"]))
    return E


def python_report(E):
    """The target row of phase E (the kernel's extra time per sample for a 30-frame Python stack,
    beside py-spy's own CPU per sample) and its section."""
    rows = {r["arm"]: r for r in E["rows"]}
    off, on = rows.get("prof --python off"), rows.get("prof (Python frames)")
    extra = (on["bpf_ns_per_sample"] - off["bpf_ns_per_sample"]
             if off and on and None not in (off["bpf_ns_per_sample"], on["bpf_ns_per_sample"]) else None)
    # prof's whole cost of a Python sample: its BPF time plus its process's CPU, per sample.
    prof_total = on["bpf_ns_per_sample"] + on["tool_ns_per_sample"] if on and on["bpf_ns_per_sample"] is not None else None
    spy = rows.get("py-spy record")
    ratio = fmt(spy["tool_ns_per_sample"] / prof_total if spy and prof_total else None)
    row = ("Python frames: extra BPF time per sample for a stack 30 Python frames deep, beside py-spy's CPU per sample",
           f"+{fmt(extra and extra / 1000)} µs in the kernel; prof's whole cost per Python sample "
           f"{fmt(prof_total and prof_total / 1000)} µs, py-spy's {fmt(spy and spy['tool_ns_per_sample'] / 1000)} µs "
           f"({ratio}× prof's)" if spy else "py-spy not installed", "–")
    section = ["## Python frames: cost per sample\n",
               "`scripts/bench-python` (see its header): `/usr/bin/python3` spinning 30 Python frames deep, one per "
               "CPU; prof with and without `--python off` (the perf-event program's run time per sample from "
               "`kernel.bpf_stats_enabled`, and prof's own CPU per sample) and py-spy at the same rate.\n"]
    section += E["markdown"] + [""]
    return row, section


def run_facts_from_markdown(path):
    """Date, loads and duration of a run, from the report it wrote (results.json of runs before
    these were stored in it)."""
    text = read(path)
    la = re.search(r"load average at start ([\d. ]+), at end ([\d. ]+); median 1-min load during the recordings ([\d.]+)", text)
    took = re.search(r"run took ([\d.]+) min", text)
    date = re.search(r"- date: (\S+ \S+ UTC)", text)
    if not (la and took and date):
        sys.exit(f"run.py: --from-results: `{path}` lacks the run's date, loads or duration")
    return {"load0": la.group(1).split(), "load1": la.group(2).split(), "loads": [float(la.group(3))],
            "elapsed": float(took.group(1)) * 60, "date": date.group(1)}


def sanity(B, wls):
    """What must hold in every run, quick or not, whatever the load (timings are never judged):
    each arm got at least half the samples the workload's CPU time calls for (expected is
    computed from the CPU the workload actually got), and prof's stacks of the burner reach
    main and split the work."""
    problems = []
    for r in B:
        wl = wls[r["workload"]]
        if not wl.get("comm") or r["arm"] == "bpftrace":
            # bpftrace drops stacks it cannot store (its map is fixed-size): reported, not a failure.
            continue
        if not r.get("expected") or r.get("samples") is None or r["samples"] < 0.5 * r["expected"]:
            problems.append(f"{r['workload']}/{r['arm']} rep {r['rep']}: {r.get('samples')} samples of "
                            f"`{wl['comm']}`, expected ~{r.get('expected') or 0:.0f}")
        if r["arm"] == "prof" and r["workload"] == "burner":
            split = r.get("split") or {}
            if sum(split.values()) == 0 or r.get("full", 0) < 0.9 * r["samples"]:
                problems.append(f"burner/prof rep {r['rep']}: split {split}, {r.get('full')} of "
                                f"{r['samples']} samples reach main")
    return problems


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, spec=".2f", none="–"):
    return none if x is None else format(x, spec)


def ratio(a, b):
    return a / b if a is not None and b not in (None, 0) else None


def without_builder(B, wname, arm):
    """An arm's steady CPU (ms/s, median) in all threads but the unwind-table builder, which works
    when a binary is first sampled."""
    return med([sum(v for k, v in r.get("steady_threads_ms_per_s", {}).items() if not k.endswith(" prof-unwind"))
                for r in B if r["workload"] == wname and r["arm"] == arm and r.get("steady_threads_ms_per_s")])


def before_after(cfg, B, wls, cell):
    """The table comparing prof with its baseline arm, workload by workload (same run,
    interleaved); `cell(workload, arm, key)` is the median of one measurement."""
    base = baseline_arm(cfg)
    if not base:
        return []

    def pair(old, new, spec=".2f", scale=1.0):
        if old is None or new is None:
            return f"{fmt(old and old * scale, spec)} → {fmt(new and new * scale, spec)}"
        return f"{old * scale:{spec}} → {new * scale:{spec}} ({fmt(ratio(new, old), '.2f')}×)"

    L = []
    w = L.append
    w(f"### Before and after: prof at {cfg.baseline_name} in the same run\n")
    w(f"The arm `{base}` is prof built at commit {cfg.baseline_name} (release build; `scripts/bench --baseline "
      f"{cfg.baseline_name}`), recorded in every repetition beside the others, interleaved; each cell "
      f"is {cfg.baseline_name} → this build (this build ÷ {cfg.baseline_name}), medians. Below 1× is "
      "better for every column.\n")
    w("| workload | steady CPU ms/s | without the table builder ms/s | peak RSS MB | steady RSS MB | "
      "end of recording → SVG s | BPF maps MB |")
    w("|---|---:|---:|---:|---:|---:|---:|")
    for wn in wls:
        w(f"| {wn} | {pair(cell(wn, base, 'steady_ms_per_s'), cell(wn, 'prof', 'steady_ms_per_s'))} | "
          f"{pair(without_builder(B, wn, base), without_builder(B, wn, 'prof'))} | "
          f"{pair(cell(wn, base, 'peak_rss_kib'), cell(wn, 'prof', 'peak_rss_kib'), '.1f', 1 / 1024)} | "
          f"{pair(cell(wn, base, 'rss_steady_kib'), cell(wn, 'prof', 'rss_steady_kib'), '.1f', 1 / 1024)} | "
          f"{pair(cell(wn, base, 'to_svg_s'), cell(wn, 'prof', 'to_svg_s'), '.3f')} | "
          f"{pair(cell(wn, base, 'bpf_map_bytes'), cell(wn, 'prof', 'bpf_map_bytes'), '.1f', 2**-20)} |")
    w("")
    w(f"CPU per new process (churn less idle, per new task): "
      f"{pair(per_process_ms(cell, base), per_process_ms(cell, 'prof'), '.3f')} ms. Samples captured, full "
      f"stacks and losses of both are in the tables above (arm `{base}`).\n")
    return L


def summarize(cfg, A, B, C, meta):
    L = []
    w = L.append
    out = {}

    # --- Phase A
    hz = A["hz"]
    by_rep = {}
    for r in A["rows"]:
        by_rep.setdefault(r["rep"], {})[r["arm"]] = r["elapsed_s"]
    cost = {}
    for a in ("perf", "perf -g", "bpftrace", "prof", "prof --unwind fp"):
        per = []
        for rep, d in by_rep.items():
            if a in d and "none" in d:
                per.append((d[a] - d["none"]) / (hz * d[a]) * 1e6)  # µs per sample
        cost[a] = med(per)
    # The fastest run of each arm: interference (other tasks, the host taking the vCPU) only ever
    # adds time, so the minimum is the least disturbed measurement of each.
    fastest = {a: min([r["elapsed_s"] for r in A["rows"] if r["arm"] == a], default=None)
               for a in ("none", "perf", "perf -g", "bpftrace", "prof", "prof --unwind fp")}
    cost_min = {a: (fastest[a] - fastest["none"]) / (hz * fastest[a]) * 1e6
                if fastest.get(a) and fastest.get("none") else None for a in fastest if a != "none"}
    out["cost_us_fastest"] = cost_min
    nones = [r["elapsed_s"] for r in A["rows"] if r["arm"] == "none"]
    none_med = med(nones)
    bpfns = {a: med([s["ns_per_run"] for s in A["bpf_stats"] if s["arm"] == a]) for a in
             ("prof", "prof --unwind fp", "bpftrace")}
    out["cost_us"] = cost
    out["bpf_ns"] = bpfns
    w("## Per-sample kernel cost (amplification)\n")
    if cfg.irq_apart is False:
        how = ("the burner's own CPU time (CONFIG_IRQ_TIME_ACCOUNTING is not set: the sampling interrupts that "
               "hit the burner are charged to it, other tasks on its CPU are not)")
    else:
        how = "the burner's wall time (IRQ time is accounted apart here, or the kernel config is unreadable)"
    w(f"Fixed-work burner (`tests/workloads/split.c --calls`, {A['calls']} calls, ≈{fmt(none_med)} s alone) pinned "
      f"to CPU {NCPU - 1}, profiler pinned to CPU 0, {hz} Hz system-wide; elapsed = {how}; cost = (elapsed − elapsed without "
      f"profiler in the same repetition) ÷ ({hz} × elapsed), median of {cfg.reps}. Projected to 99 Hz: "
      f"share of a CPU spent in sampling. {hz} Hz rather than the issue's 999: at 999 Hz the slowdown "
      f"(< 1%) is below this machine's run-to-run noise. BPF run time from `kernel.bpf_stats_enabled` at "
      f"{A.get('stats_hz', hz)} Hz (burner on every CPU, median of {cfg.stat_reps}). Second estimate from the "
      f"fastest run of each arm (interference only adds time). The no-profiler arm alone ranged "
      f"{fmt(min(nones, default=None), '.3f')}–{fmt(max(nones, default=None), '.3f')} s over the repetitions: "
      f"differences smaller than that spread are noise.\n")
    w("| arm | elapsed (median) | fastest | µs per sample (median of pairs) | µs per sample (fastest runs) | at 99 Hz, % of a CPU | ratio to `perf` (median / fastest) | BPF program ns per sample |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|")
    for a in ("none", "perf", "perf -g", "bpftrace", "prof", "prof --unwind fp"):
        el = med([r["elapsed_s"] for r in A["rows"] if r["arm"] == a])
        c, cm = cost.get(a), cost_min.get(a)
        w(f"| {a} | {fmt(el, '.3f')} s | {fmt(fastest.get(a), '.3f')} s | {fmt(c)} | {fmt(cm)} | "
          f"{fmt(c * 99 / 1e4 if c is not None else None, '.3f')} | "
          f"{fmt(ratio(c, cost['perf']))} / {fmt(ratio(cm, cost_min.get('perf')))} | {fmt(bpfns.get(a), '.0f')} |")
    w("")

    # --- Phase B
    def cell(wname, arm, key):
        return med([r.get(key) for r in B if r["workload"] == wname and r["arm"] == arm])

    wls = workloads(cfg)
    w("## Recordings\n")
    w(f"System-wide, each arm started, then the workload; warm-up {cfg.warm} s, steady window {cfg.steady} s "
      f"({'same' if cfg.quick else '1 s and 3 s'} for stacks-*); "
      f"medians of {cfg.reps} interleaved repetitions. Workloads:\n")
    for wn, wl in wls.items():
        w(f"- **{wn}**: {wl['what']}, {wl['hz']} Hz")
    w("")
    w("### Profiler CPU and memory\n")
    w("Steady CPU: the profiler process's CPU time (all threads, schedstat) over the steady window, per "
      "second; new tasks/s: processes and threads the machine created meanwhile (/proc/stat), which prof "
      "pays for (it captures each new process's mappings and builds tables for new binaries). Start-up: launch → sampling (prof: its `recording` line; perf/bpftrace: perf events open on "
      "every CPU), and CPU used until then. Peak RSS: /usr/bin/time over the whole run (including writing "
      "outputs); steady: VmHWM before the stop. Kernel memory: BPF maps' memlock (fdinfo of the profiler's "
      "map fds) or perf's mmapped ring buffers.\n")
    w("| workload | arm | steady CPU ms/s | new tasks/s on the machine | start-up s | CPU to start ms | warm-up CPU ms | peak RSS MB (steady) | BPF maps / buffers MB |")
    w("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for wn, wl in wls.items():
        for a in wl["arms"]:
            kmem = cell(wn, a, "bpf_map_bytes") or cell(wn, a, "perf_buffer_bytes")
            w(f"| {wn} | {a} | {fmt(cell(wn, a, 'steady_ms_per_s'))} | {fmt(cell(wn, a, 'forks_per_s'), '.1f')} | "
              f"{fmt(cell(wn, a, 'startup_s'))} | "
              f"{fmt(cell(wn, a, 'cpu_to_ready_ms'), '.0f')} | {fmt(cell(wn, a, 'warmup_cpu_ms'), '.0f')} | "
              f"{fmt(cell(wn, a, 'peak_rss_kib') and cell(wn, a, 'peak_rss_kib') / 1024, '.1f')} "
              f"({fmt(cell(wn, a, 'rss_steady_kib') and cell(wn, a, 'rss_steady_kib') / 1024, '.1f')}) | "
              f"{fmt(kmem and kmem / 2**20, '.1f')} |")
    w("")
    # prof's maps in detail (first prof run)
    first = next((r for r in B if r["arm"] == "prof" and r.get("bpf_maps")), None)
    if first:
        typ = {1: "hash", 2: "array", 6: "percpu_array", 9: "lru_hash", 27: "ringbuf"}
        w("prof's BPF maps (memlock, from the first recording): " + ", ".join(
            f"{typ.get(t, t)}×{n} {mem / 2**20:.2f} MB" for t, n, mem in
            sorted(first["bpf_maps"].values(), key=lambda x: -x[2])) + "\n")

    w("### Samples: expected vs captured, full stacks, losses\n")
    w("Expected: frequency × CPU seconds the workload got while recorded. Captured: samples attributed to the "
      "workload's comm. Full: samples whose user stack reaches `main`. Distinct: distinct stacks of the "
      "workload seen.\n")
    w("| workload | arm | expected | captured | captured/expected | full stacks | distinct stacks | lost (by reason, whole recording) |")
    w("|---|---|---:|---:|---:|---:|---:|---|")
    for wn, wl in wls.items():
        if not wl["comm"]:
            continue
        for a in wl["arms"]:
            e, c, f = cell(wn, a, "expected"), cell(wn, a, "samples"), cell(wn, a, "full")
            rs = [r for r in B if r["workload"] == wn and r["arm"] == a]
            lost = {}
            for r in rs:
                for k, v in (r.get("lost") or {}).items():
                    lost.setdefault(k, []).append(v)
            lost_s = "; ".join(f"{k}: {med(v):.0f}" for k, v in lost.items()) or "none"
            full_pct = med([100 * r["full"] / r["samples"] for r in rs if r.get("samples")]) if a != "perf" else None
            w(f"| {wn} | {a} | {fmt(e, '.0f')} | {fmt(c, '.0f')} | {fmt(ratio(c, e), '.3f')} | "
              f"{fmt(full_pct, '.2f')}{'' if full_pct is None else ' %'} | "
              f"{fmt(cell(wn, a, 'distinct'), '.0f') if a != 'perf' else '–'} | {lost_s} |")
    w("")

    w("### End of recording → flamegraph\n")
    w("prof: SIGINT → prof exits with x.svg and x.prof written; its stages as `prof record -v` reports them "
      "(detach + last drain, symbolize, write the SVG, write the archive) and the rest (signal delivery, "
      "start of the stop, process exit: closing the BPF maps and perf events), by difference. "
      "perf: SIGINT → perf record exits (it post-processes "
      "perf.data for build-ids), then `perf script | inferno-collapse-perf | inferno-flamegraph`; stages "
      "timed one by one on the same data. bpftrace: SIGINT → exit (it symbolizes and prints its map; no SVG).\n")
    w("| workload | prof to SVG s | prof: stop+drain / symbolize / write SVG / write archive / rest s | perf -g: record exit s | perf script s | inferno-collapse-perf s | inferno-flamegraph s | perf pipeline total s | perf total / prof | bpftrace to text s |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    speed = {}
    for wn, wl in wls.items():
        if "perf -g" not in wl["arms"]:
            continue
        pt, ft = cell(wn, "prof", "to_svg_s"), cell(wn, "perf -g", "to_svg_s")
        rs_prof = [r for r in B if r["workload"] == wn and r["arm"] == "prof"]
        rs_perf = [r for r in B if r["workload"] == wn and r["arm"] == "perf -g"]
        # Ratio per repetition pair (interleaved), then the median.
        pairs = [ratio(b["to_svg_s"], a["to_svg_s"]) for a, b in zip(rs_prof, rs_perf)]
        speed[wn] = med(pairs)
        stages = " / ".join(fmt(cell(wn, "prof", k), ".3f") for k in (
            "stage_stop_s", "stage_symbolize_s", "stage_write_svg_s", "stage_write_archive_s", "stage_exit_s"))
        w(f"| {wn} | {fmt(pt, '.3f')} | {stages} | "
          f"{fmt(cell(wn, 'perf -g', 'stop_to_exit_s'), '.3f')} | {fmt(cell(wn, 'perf -g', 'stage_script_s'), '.3f')} | "
          f"{fmt(cell(wn, 'perf -g', 'stage_collapse_s'), '.3f')} | {fmt(cell(wn, 'perf -g', 'stage_flamegraph_s'), '.3f')} | "
          f"{fmt(ft, '.3f')} | {fmt(speed[wn], '.1f')}× | {fmt(cell(wn, 'bpftrace', 'to_text_s'), '.3f')} |")
    w("")
    out["speed"] = speed

    L.extend(before_after(cfg, B, wls, cell))

    w("### Output bytes per sample\n")
    w("Bytes of each output ÷ samples it holds (the whole system's samples).\n")
    w("| workload | prof archive | prof pprof (.pb.gz) | prof SVG | perf.data (no stacks) | perf.data (-g) | perf -g SVG | bpftrace text | perf.data(-g) / archive |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    size_ratio = {}
    for wn, wl in wls.items():
        def bps(arm, key):
            return med([r["bytes"].get(key) / r["samples_total"] for r in B
                        if r["workload"] == wn and r["arm"] == arm and r.get("samples_total") and key in r.get("bytes", {})])
        arc, pd = bps("prof", "archive"), bps("perf -g", "perf.data")
        size_ratio[wn] = ratio(pd, arc)
        w(f"| {wn} | {fmt(arc, '.1f')} | {fmt(bps('prof', 'pprof'), '.1f')} | {fmt(bps('prof', 'svg'), '.0f')} | "
          f"{fmt(bps('perf', 'perf.data'), '.0f')} | {fmt(pd, '.0f')} | {fmt(bps('perf -g', 'svg'), '.0f')} | "
          f"{fmt(bps('bpftrace', 'text'), '.0f')} | {fmt(size_ratio[wn], '.0f')} |")
    w("")
    out["size_ratio"] = size_ratio

    w(f"The same recording, by both at once: `perf record -g` and `prof record` side by side on the burner "
      f"for {cfg.size_seconds} s (99 Hz, system-wide), median of {len(C)}:\n")
    w("| perf.data (-g) bytes | prof archive bytes | prof pprof bytes | perf samples | prof samples | perf.data / archive |")
    w("|---:|---:|---:|---:|---:|---:|")
    same = med([ratio(c["perf.data"], c["archive"]) for c in C])
    w(f"| {fmt(med([c['perf.data'] for c in C]), '.0f')} | {fmt(med([c['archive'] for c in C]), '.0f')} | "
      f"{fmt(med([c['pprof'] for c in C]), '.0f')} | {fmt(med([c['perf_samples'] for c in C]), '.0f')} | "
      f"{fmt(med([c['prof_samples'] for c in C]), '.0f')} | {fmt(same, '.0f')} |")
    w("")
    out["same_ratio"] = same

    w("### Accuracy: the burner's split\n")
    w("Share of the burner's leaf samples in each leaf (by construction 50 / 30 / 20).\n")
    w("| arm | leaf_a % | leaf_b % | leaf_c % | leaf samples | max distance to perf -g (points) |")
    w("|---|---:|---:|---:|---:|---:|")
    shares = {}
    for a in ("perf -g", "bpftrace", "prof"):
        rs = [r for r in B if r["workload"] == "burner" and r["arm"] == a and r.get("split")]
        tot = {k: sum(r["split"][k] for r in rs) for k in ("leaf_a", "leaf_b", "leaf_c")}
        n = sum(tot.values())
        shares[a] = {k: 100 * v / n for k, v in tot.items()} if n else None
    acc = {}
    for a in ("perf -g", "bpftrace", "prof"):
        s = shares[a]
        dist = (max(abs(s[k] - shares["perf -g"][k]) for k in s) if s and shares["perf -g"] else None)
        acc[a] = dist
        w(f"| {a} | " + " | ".join(fmt(s and s[k], '.1f') for k in ("leaf_a", "leaf_b", "leaf_c")) +
          f" | {sum(sum(r['split'].values()) for r in B if r['workload'] == 'burner' and r['arm'] == a and r.get('split'))}"
          f" | {fmt(dist, '.2f') if a != 'perf -g' else '–'} |")
    w("")
    out["acc"] = acc

    # --- Targets
    T = []
    t = T.append

    def verdict(ok):
        return "–" if ok is None else ("met" if ok else "**missed**")

    floor = cost.get("perf")
    r1 = ratio(cost.get("prof"), floor) if floor and floor > 0 else None
    floor_min = cost_min.get("perf")
    r1m = ratio(cost_min.get("prof"), floor_min) if floor_min and floor_min > 0 else None
    t(("prof's per-sample kernel cost ≤ 1.1× perf's no-stack floor",
       f"{fmt(r1)}× by medians of paired runs ({fmt(cost.get('prof'))} µs vs {fmt(floor)} µs; --unwind fp "
       f"{fmt(ratio(cost.get('prof --unwind fp'), floor) if floor and floor > 0 else None)}×)"
       + ("" if r1 is not None else " (floor not above noise: no ratio)")
       + f"; {fmt(r1m)}× by fastest runs ({fmt(cost_min.get('prof'))} µs vs {fmt(floor_min)} µs; --unwind fp "
       f"{fmt(ratio(cost_min.get('prof --unwind fp'), floor_min) if floor_min and floor_min > 0 else None)}×)"
       + f"; BPF program alone {fmt(bpfns.get('prof'), '.0f')} ns (--unwind fp {fmt(bpfns.get('prof --unwind fp'), '.0f')}, "
       f"bpftrace {fmt(bpfns.get('bpftrace'), '.0f')})",
       "**not shown**: the two estimates disagree, the machine's noise is larger than the effect"
       if r1 is not None and r1m is not None and (r1 <= 1.1) != (r1m <= 1.1)
       else verdict(None if r1 is None or r1m is None else max(r1, r1m) <= 1.1)))
    steady = {wn: cell(wn, "prof", "steady_ms_per_s") for wn, wl in wls.items() if wl["hz"] == 99}
    worst = max((v for v in steady.values() if v is not None), default=None)
    bt = cell("idle", "bpftrace", "steady_ms_per_s")
    def main_thread(wn):
        return without_builder(B, wn, "prof")
    t(("prof userspace CPU in steady state ≤ 1 ms per second at 99 Hz system-wide",
       f"{fmt(worst)} ms/s worst of the 99 Hz workloads (" + ", ".join(f"{k} {fmt(v)}" for k, v in steady.items()) +
       "); without the unwind-table builder thread (busy only when a binary is sampled for the first time, e.g. "
       "the benchmark's own python during the window): " + ", ".join(f"{k} {fmt(main_thread(k))}" for k in steady) +
       f"; bpftrace idle {fmt(bt)} ms/s", verdict(None if worst is None else worst <= 1.0)))
    rss_by = {wn: cell(wn, "prof", "peak_rss_kib") for wn in wls}
    rss = max((v for v in rss_by.values() if v is not None), default=None)
    rss = rss and rss / 1024
    # Map sizes follow the sampling rate (room for two drains of samples): judged at the default
    # 99 Hz, the 999 Hz workloads shown beside.
    maps_by = {wn: cell(wn, "prof", "bpf_map_bytes") for wn in wls}
    maps = max((v for wn, v in maps_by.items() if v is not None and wls[wn]["hz"] == 99), default=None)
    maps = maps and maps / 2**20
    maps_fast = max((v for wn, v in maps_by.items() if v is not None and wls[wn]["hz"] != 99), default=None)
    t(("peak RSS ≤ 30 MB", f"{fmt(rss, '.1f')} MB, largest of the workloads' medians (" +
       ", ".join(f"{k} {fmt(v and v / 1024, '.1f')}" for k, v in rss_by.items()) + ")",
       verdict(None if rss is None else rss <= 30)))
    t(("BPF maps ≤ 16 MB", f"{fmt(maps, '.1f')} MB at 99 Hz, the default (memlock of every map prof holds); "
       f"{fmt(maps_fast and maps_fast / 2**20, '.1f')} MB at 999 Hz (stack and counts maps sized for the rate)",
       verdict(None if maps is None else maps <= 16)))
    pp = {a: per_process_ms(cell, a) for a in ("prof", "bpftrace", "perf -g")}
    t(("prof CPU per new process ≤ 0.1 ms (the churn workload, beside bpftrace's and perf's)",
       f"{fmt(pp['prof'], '.3f')} ms (bpftrace {fmt(pp['bpftrace'], '.3f')} ms, `perf record -g` "
       f"{fmt(pp['perf -g'], '.3f')} ms while recording; perf resolves its mmap events later, in `perf script`): "
       f"steady CPU under churn less idle, over {fmt(cell('churn', 'prof', 'forks_per_s'), '.0f')} new tasks/s",
       verdict(None if pp["prof"] is None else pp["prof"] <= 0.1)))
    sp = speed.get("bigbin")
    t(("end of recording → SVG ≥ 10× faster than perf script + inferno on the large binary",
       f"{fmt(sp, '.1f')}× (" + ", ".join(f"{k} {fmt(v, '.1f')}×" for k, v in speed.items() if k != "bigbin") + ")",
       verdict(None if sp is None else sp >= 10)))
    sr = [v for v in size_ratio.values() if v is not None]
    t(("archive ≤ 1/50 of perf.data (-g) for the same recording",
       f"1/{fmt(same, '.0f')} for one {cfg.size_seconds:.0f} s recording taken by both at once; per sample in the "
       f"{cfg.warm + cfg.steady:.0f} s recordings: 1/{fmt(min(sr) if sr else None, '.0f')} worst (" +
       ", ".join(f"{k} 1/{fmt(v, '.0f')}" for k, v in size_ratio.items()) + ")",
       verdict(None if same is None else same >= 50)))
    rs = [r for r in B if r["workload"] == "stacks-5k" and r["arm"] == "prof" and r.get("samples")]
    full5 = med([100 * r["full"] / r["samples"] for r in rs])
    rsb = [r for r in B if r["workload"] == "stacks-5k" and r["arm"] == "bpftrace" and r.get("samples")]
    full5b = med([100 * r["full"] / r["samples"] for r in rsb])
    cap5 = med([r["samples"] / r["expected"] * 100 for r in rs if r.get("expected")])
    full5e = med([100 * r["full"] / r["expected"] for r in rs if r.get("expected")])
    t(("≥ 99.5% of samples with full stacks at 5k distinct stacks",
       f"{fmt(full5, '.2f')}% of captured ({fmt(full5e, '.2f')}% of expected; captured {fmt(cap5, '.2f')}% of "
       f"expected); bpftrace {fmt(full5b, '.2f')}%",
       verdict(None if full5 is None else full5 >= 99.5)))
    t(("burner split within ±3 points of perf's", f"{fmt(acc.get('prof'))} points (bpftrace {fmt(acc.get('bpftrace'))})",
       verdict(None if acc.get("prof") is None else acc["prof"] <= 3)))
    out["targets"] = T

    head = []
    h = head.append
    h("| target | measured | |")
    h("|---|---|---|")
    for name, val, v in T:
        h(f"| {name} | {val} | {v} |")
    return head, L, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--reps", type=int)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--prof", required=True)
    ap.add_argument("--perf", required=True)
    ap.add_argument("--bpftrace", required=True)
    ap.add_argument("--bigbin-n", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", default="", help="comma-separated workloads of phase B (debugging)")
    ap.add_argument("--skip-a", action="store_true", help="skip phase A (debugging)")
    ap.add_argument("--keep", action="store_true", help="keep every output file")
    ap.add_argument("--amp-hz", type=int, default=9999,
                    help="sampling rate of the amplification phase (the issue's 999 Hz slows the burner by "
                         "less than 1%%, below a VM's run-to-run noise)")
    ap.add_argument("--stats-hz", type=int, default=999, help="sampling rate while reading BPF run times")
    ap.add_argument("--meta", default="{}", help="JSON: facts scripts/bench knows (commit, versions)")
    ap.add_argument("--baseline-prof", default="", help="prof built at an earlier revision: an extra arm")
    ap.add_argument("--baseline-name", default="", help="that revision (the arm is `prof NAME`)")
    ap.add_argument("--from-results", default="",
                    help="write the report again from a results.json of an earlier run (no measuring)")
    cfg = ap.parse_args()
    cfg.workdir, cfg.prof, cfg.out = (os.path.abspath(x) for x in (cfg.workdir, cfg.prof, cfg.out))
    q = cfg.quick
    cfg.reps = cfg.reps or (1 if q else 5)
    cfg.stat_reps = 1 if q else 3
    cfg.warm, cfg.steady = (1.0, 1.5) if q else (2.0, 4.0)
    cfg.amp_seconds, cfg.settle = (0.5 if q else 3.0), (0.5 if q else 1.0)
    cfg.stages = False
    cfg.irq_apart = irq_time_accounted_apart()
    cfg.size_reps, cfg.size_seconds = (1, 3.0) if q else (3, 30.0)
    cfg.bigbin_mb = os.path.getsize(f"{cfg.workdir}/bin/bigbin") / 1e6
    meta = json.loads(cfg.meta)
    if cfg.baseline_name:
        meta["baseline"] = cfg.baseline_name
    t_start = time.monotonic()
    load0 = read("/proc/loadavg").split()[:3]

    def log(msg):
        print(f"[{time.monotonic() - t_start:6.0f}s] {msg}", flush=True)

    if cfg.from_results:
        # Re-render an earlier run: its measurements and the facts of the run it stored.
        with open(cfg.from_results) as f:
            saved = json.load(f)
        meta, A, B, C, D, E = saved["meta"], saved["A"], saved["B"], saved["C"], saved.get("D"), saved.get("E")
        cfg.baseline_name = meta.get("baseline", "")
        run = saved.get("run") or run_facts_from_markdown(cfg.out)
        load0, load1, loads, elapsed, now = run["load0"], run["load1"], run["loads"], run["elapsed"], run["date"]
        wls = workloads(cfg)
        problems = sanity(B, wls)
    else:
        log(f"{NCPU} CPUs, load average {' '.join(load0)}; {cfg.reps} repetition(s)")
        A = ({"calls": 0, "rows": [], "bpf_stats": [], "hz": cfg.amp_hz, "stats_hz": cfg.stats_hz} if cfg.skip_a
             else amplification(cfg, log))
        if cfg.baseline_name:
            ARMS[baseline_arm(cfg)] = Arm(baseline_arm(cfg), "prof", binary=os.path.abspath(cfg.baseline_prof))
        wls = workloads(cfg)
        only = [x for x in cfg.only.split(",") if x]
        B = []
        loads = []
        for wn, wl in wls.items():
            if only and wn not in only:
                continue
            for rep in range(cfg.reps):
                arms = wl["arms"][rep % len(wl["arms"]):] + wl["arms"][: rep % len(wl["arms"])]
                for a in arms:
                    r = record_once(cfg, wn, wl, ARMS[a], rep)
                    B.append(r)
                loads.append(float(read("/proc/loadavg").split()[0]))
            log(f"phase B {wn}: " + "; ".join(
                f"{a}: steady {med([r['steady_ms_per_s'] for r in B if r['workload'] == wn and r['arm'] == a]):.2f} ms/s, "
                f"stop→exit {med([r['stop_to_exit_s'] for r in B if r['workload'] == wn and r['arm'] == a]):.2f} s"
                for a in wl["arms"]))
        C = same_recording(cfg, log) if not only or "same" in only else []
        # What the run has so far, should a later phase fail (re-render with --from-results).
        with open(f"{cfg.workdir}/results.partial.json", "w") as f:
            json.dump({"meta": meta, "run": {"load0": load0, "load1": read("/proc/loadavg").split()[:3],
                                             "loads": loads, "elapsed": time.monotonic() - t_start,
                                             "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")},
                       "A": A, "B": B, "C": C}, f)
        D = offcpu_phase(cfg, log) if not only or "offcpu" in only else None
        E = python_phase(cfg, log) if not only or "python" in only else None
        problems = sanity(B, wls)
        load1 = read("/proc/loadavg").split()[:3]
        elapsed = time.monotonic() - t_start
        now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    head, body, out = summarize(cfg, A, B, C, meta)
    if D:
        row, section = offcpu_report(D)
        head.append(f"| {row[0]} | {row[1]} | {row[2]} |")
        out["targets"].append(row)
        body.extend(section)
    if E:
        row, section = python_report(E)
        head.append(f"| {row[0]} | {row[1]} | {row[2]} |")
        out["targets"].append(row)
        body.extend(section)
    if problems:
        out["problems"] = problems
    run = {"load0": load0, "load1": load1, "loads": loads, "elapsed": elapsed, "date": now}
    with open(f"{cfg.workdir}/results.json", "w") as f:
        json.dump({"meta": meta, "run": run, "A": A, "B": B, "C": C, "D": D, "E": E,
                   "summary": {k: v for k, v in out.items() if k != "targets"}, "targets": out["targets"]},
                  f, indent=1, default=str)

    md = []
    m = md.append
    m("# Benchmarks: prof against perf and bpftrace\n")
    m("Written by `scripts/bench` (do not edit by hand; rerun it). Every arm ran on every workload in the "
      "same run on the same machine, interleaved (A B C, B C A, …), and the figures below are medians; "
      "the claims are the ratios, which hold on a noisy machine where absolute times drift.\n")
    m(f"- date: {now}{' (quick run: one short repetition, timings not meaningful)' if q else ''}")
    m(f"- machine: {NCPU} CPUs ({meta.get('cpu', '?')}), kernel {os.uname().release}, {meta.get('os', '')}")
    m(f"- event: `cpu-clock` for every arm (no hardware PMU here; `perf record -e cpu-clock`, prof falls back "
      f"to it and says so), 99 Hz unless a table says otherwise")
    m(f"- load average at start {' '.join(load0)}, at end {' '.join(load1)}; median 1-min load during the "
      f"recordings {fmt(med(loads), '.2f')}" + (f" ({meta['load_note']})" if meta.get("load_note") else ""))
    m(f"- prof {meta.get('prof', '?')} ({meta.get('prof_build', 'release')} build, commit {meta.get('commit', '?')}), "
      f"{meta.get('perf_version', 'perf ?')}, {meta.get('bpftrace_version', 'bpftrace ?')}, "
      f"inferno {meta.get('inferno', '?')}")
    m(f"- {cfg.reps} repetition(s); run took {elapsed / 60:.1f} min\n")
    m("Arms: (1) no profiler; (2) `perf record -F 99 -e cpu-clock -a` (no stacks: the platform's floor for "
      "a sample); (3) `perf record -F 99 -e cpu-clock -a -g`, then `perf script | inferno-collapse-perf | "
      "inferno-flamegraph`; (4) `bpftrace -e 'profile:hz:99 { @[kstack, ustack, comm] = count(); }'`; "
      "(5) `prof record -F 99 -o x.svg -o x.prof` (default `--unwind auto`), and in the cost table also "
      "`--unwind fp`" + (f"; (6) `prof {cfg.baseline_name}`: the same command with prof built at commit "
                         f"{cfg.baseline_name} (recordings only)" if cfg.baseline_name else "") + ".\n")
    m("## Targets\n")
    md.extend(head)
    m("")
    md.extend(body)
    m("## Reading the figures\n")
    m("- The per-sample cost by amplification is a difference of two run times of a few seconds each; a "
      "busy machine (load above) makes it noisy, and a negative value means the profiler's cost was below "
      "the noise. The BPF run time (`kernel.bpf_stats_enabled`) is exact but covers only the BPF "
      "program, not the interrupt and perf-event machinery every arm pays.\n"
      "- Steady CPU excludes start-up and the output phase. prof builds an unwind table the first time it "
      "samples a binary (`--unwind auto`), so a machine that starts new large programs during the "
      "recording (compilers, test binaries) raises its steady CPU; `perf record` only copies samples "
      "to a file and does its work afterwards (`perf script`), which is why its steady CPU is near zero "
      "and its time to flamegraph is not.\n"
      "- inferno-collapse-perf weighs each sample by its period; the counts above are perf's own sample "
      "counts (`perf script -F comm`), the shares come from the folded file.\n"
      "- bpftrace 0.17 sometimes misses the first SIGINT (it then sleeps until another signal); the script "
      "repeats the signal when bpftrace has not started printing 1.5 s later and times its exit from the "
      "signal that took effect.\n"
      "- prof symbolizes inlined frames (DWARF) for every sampled address; `perf script` in its default "
      "configuration does not (`--inline` would call addr2line for each address), so the large-binary "
      "comparison is prof doing more work than perf, not less.\n")
    m("## Rerun\n")
    m("```sh\nscripts/bench            # full run (root; ~30 min on 2 CPUs): rewrites docs/BENCHMARKS.md\n"
      "scripts/bench --quick    # one short repetition of everything (CI smoke test; does not judge timings)\n"
      "scripts/bench --baseline REV   # also prof built at REV, and a before/after table\n"
      "```\n")
    m("Needs root (or CAP_BPF + CAP_PERFMON + CAP_SYS_ADMIN for bpftrace and the sysctl). `scripts/bench-setup "
      "perf bpftrace inferno` installs linux-perf, bpftrace, hyperfine, /usr/bin/time and inferno's tools. "
      "Raw results: `target/bench/results.json`; each run's outputs and logs: `target/bench/runs/`. For a "
      "quiet measurement, stop other work first (the script prints the load average).\n")
    with open(cfg.out, "w") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(head))
    log(f"wrote {cfg.out} and {cfg.workdir}/results.json")
    if problems:
        print("scripts/bench: FAILED sanity checks:\n  " + "\n  ".join(problems), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
