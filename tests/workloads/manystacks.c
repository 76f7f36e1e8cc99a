// SPDX-License-Identifier: Apache-2.0
// Generates many distinct stacks (the tests' 5,000, scripts/bench's 1k/5k/20k): path p (0..N-1,
// N ≤ 32768) goes through 15 levels, taking at level d either step_0 or step_1 depending on bit d
// of p, so each path has its own chain of return addresses (16 step frames from main to leaf).
// Paths are visited in a scrambled round-robin order, each burning a little CPU at the leaf.
// Build with frame pointers (-O0).
// usage: manystacks SECONDS [NPATHS=5000]
#include <stdlib.h>
#include <time.h>

#define NOINLINE __attribute__((noinline))
#define LEVELS 15

static volatile unsigned long sink;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

NOINLINE void leaf(void)
{
	for (int i = 0; i < 20000; i++)
		sink += i;
}

NOINLINE void step_1(int d, unsigned p);

NOINLINE void step_0(int d, unsigned p)
{
	if (d == LEVELS) {
		leaf();
		return;
	}
	if ((p >> d) & 1)
		step_1(d + 1, p);
	else
		step_0(d + 1, p);
	sink++; /* not a tail call: keep this frame on the stack */
}

NOINLINE void step_1(int d, unsigned p)
{
	if (d == LEVELS) {
		leaf();
		return;
	}
	if ((p >> d) & 1)
		step_1(d + 1, p);
	else
		step_0(d + 1, p);
	sink++;
}

int main(int argc, char **argv)
{
	double end = now() + (argc > 1 ? atof(argv[1]) : 10.0);
	unsigned n = argc > 2 ? (unsigned)atoi(argv[2]) : 5000;
	if (n < 1 || n > (1u << LEVELS))
		return 2;
	for (unsigned k = 0; now() < end; k++)
		step_0(0, (unsigned)(((unsigned long)k * 2654435761u) % n));
	return 0;
}
