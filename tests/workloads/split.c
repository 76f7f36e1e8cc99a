// SPDX-License-Identifier: Apache-2.0
// CPU burner with a known split: leaf_a 50%, leaf_b 30%, leaf_c 20% of the work, each reached
// through main -> run -> dispatch -> leaf_X. Built with frame pointers and no inlining.
// usage: split SECONDS
#include <stdlib.h>
#include <time.h>

static volatile unsigned long sink;

#define NOINLINE __attribute__((noinline))

static inline __attribute__((always_inline)) void spin(unsigned long n)
{
	for (unsigned long i = 0; i < n; i++)
		sink += i ^ (sink >> 3);
}

NOINLINE void leaf_a(void) { spin(50000); }
NOINLINE void leaf_b(void) { spin(30000); }
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

NOINLINE void run(double seconds)
{
	double end = now() + seconds;
	while (now() < end)
		for (int i = 0; i < 300; i++)
			dispatch(i % 3);
}

int main(int argc, char **argv)
{
	run(argc > 1 ? atof(argv[1]) : 5.0);
	return 0;
}
