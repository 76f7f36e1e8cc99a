// SPDX-License-Identifier: Apache-2.0
// CPU burner with a known split: leaf_a 50%, leaf_b 30%, leaf_c 20% of the work, each reached
// through main -> run -> dispatch -> leaf_X. Every call does the same work and the leaf is drawn
// at random with those probabilities, so no periodic pattern can alias with the sampling period.
// usage: split SECONDS [A B C]   (percent of calls to leaf_a, leaf_b, leaf_c; default 50 30 20)
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

int main(int argc, char **argv)
{
	if (argc > 4) {
		pct_a = (unsigned)atoi(argv[2]);
		pct_b = (unsigned)atoi(argv[3]);
	}
	run(argc > 1 ? atof(argv[1]) : 5.0);
	return 0;
}
