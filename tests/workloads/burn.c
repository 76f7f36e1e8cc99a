// SPDX-License-Identifier: Apache-2.0
// Fixed-work CPU burner for measuring a profiler's cost by amplification (scripts/bench): the
// same main -> run -> dispatch -> leaf_X shape and 50/30/20 split as split.c, but it does a
// fixed number of calls instead of running for a fixed time, and prints how long they took
// (seconds, CLOCK_MONOTONIC, from the first call to the last): the slowdown under a profiler
// is the profiler's cost on this CPU. Build with frame pointers.
// usage: burn CALLS
#include <stdio.h>
#include <stdlib.h>
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

NOINLINE void dispatch(int which)
{
	switch (which) {
	case 0: leaf_a(); break;
	case 1: leaf_b(); break;
	default: leaf_c(); break;
	}
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* xorshift64: a fixed-seed pseudo-random sequence, the same in every run */
static unsigned long long rng = 0x9e3779b97f4a7c15ULL;

static int draw(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	unsigned r = (unsigned)(rng % 100);
	return r < 50 ? 0 : r < 80 ? 1 : 2;
}

NOINLINE void run(unsigned long calls)
{
	for (unsigned long i = 0; i < calls; i++)
		dispatch(draw());
}

int main(int argc, char **argv)
{
	unsigned long calls = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
	double t0 = now();
	run(calls);
	printf("%.6f\n", now() - t0);
	return 0;
}
