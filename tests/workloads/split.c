// SPDX-License-Identifier: Apache-2.0
// CPU burner with a known split: leaf_a 50%, leaf_b 30%, leaf_c 20% of the work, each reached
// through main -> run -> dispatch -> leaf_X. Every call does the same work and the leaf is drawn
// at random with those probabilities, so no periodic pattern can alias with the sampling period.
// usage: split SECONDS [A B C]   (percent of calls to leaf_a, leaf_b, leaf_c; default 50 30 20)
//        split --calls N        (fixed work for scripts/bench's cost by amplification: N calls,
//                                then prints the wall seconds (CLOCK_MONOTONIC) and the CPU
//                                seconds (CLOCK_PROCESS_CPUTIME_ID) they took; the CPU time
//                                includes the sampling interrupts that hit the burner when the
//                                kernel does not account IRQ time apart, and excludes other
//                                tasks on its CPU)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile unsigned long sink;

#define NOINLINE __attribute__((noinline))

static inline __attribute__((always_inline)) void spin(unsigned long n)
{
	for (unsigned long i = 0; i < n; i++)
		sink += i ^ (sink >> 3);
}

NOINLINE void leaf_a(void) { spin(20000); }
NOINLINE void leaf_b(void) { spin(20000); }
NOINLINE void leaf_c(void) { spin(20000); }

static double clock_s(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* SPLIT_CPU_REPORT=PATH: the thread CPU time of every leaf call is summed, and written to PATH
 * at the end ("leaf_a SECONDS" per line), so a test can compare a profiler's shares with what
 * the leaves really took on this machine (identical code at different addresses need not run
 * at the same speed). The clock is read in dispatch, outside the leaves. */
static const char *cpu_report;
static double leaf_cpu[3];

NOINLINE void dispatch(int which)
{
	double t0 = cpu_report ? clock_s(CLOCK_THREAD_CPUTIME_ID) : 0;
	switch (which) {
	case 0: leaf_a(); break;
	case 1: leaf_b(); break;
	default: leaf_c(); break;
	}
	if (cpu_report)
		leaf_cpu[which] += clock_s(CLOCK_THREAD_CPUTIME_ID) - t0;
}

static void write_cpu_report(void)
{
	FILE *f = fopen(cpu_report, "w");
	if (!f) {
		perror(cpu_report);
		exit(1);
	}
	fprintf(f, "leaf_a %.6f\nleaf_b %.6f\nleaf_c %.6f\n", leaf_cpu[0], leaf_cpu[1], leaf_cpu[2]);
	if (fclose(f)) {
		perror(cpu_report);
		exit(1);
	}
}

static double now(void) { return clock_s(CLOCK_MONOTONIC); }

/* xorshift64: a fixed-seed pseudo-random sequence, the same in every run */
static unsigned long long rng = 0x9e3779b97f4a7c15ULL;

static unsigned pct_a = 50, pct_b = 30;

static int draw(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	unsigned r = (unsigned)(rng % 100);
	return r < pct_a ? 0 : r < pct_a + pct_b ? 1 : 2;
}

NOINLINE void run(double seconds)
{
	double end = now() + seconds;
	while (now() < end)
		for (int i = 0; i < 100; i++)
			dispatch(draw());
}

NOINLINE void run_calls(unsigned long calls)
{
	for (unsigned long i = 0; i < calls; i++)
		dispatch(draw());
}

int main(int argc, char **argv)
{
	if (argc > 2 && strcmp(argv[1], "--calls") == 0) {
		double t0 = now(), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
		run_calls(strtoul(argv[2], NULL, 10));
		printf("%.6f %.6f\n", now() - t0, clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0);
		return 0;
	}
	if (argc > 4) {
		pct_a = (unsigned)atoi(argv[2]);
		pct_b = (unsigned)atoi(argv[3]);
	}
	cpu_report = getenv("SPLIT_CPU_REPORT");
	run(argc > 1 ? atof(argv[1]) : 5.0);
	if (cpu_report)
		write_cpu_report();
	return 0;
}
