// SPDX-License-Identifier: Apache-2.0
// A 13-deep call chain with a known leaf split, for unwinding tests: main -> level1 -> ... ->
// level13 -> leaf_a (50%) / leaf_b (30%) / leaf_c (20%). Built with -O2 -fomit-frame-pointer
// (no frame pointers: only the unwind tables lead back to main) and once with frame pointers,
// to compare. Each level does work after its call (no tail calls) and keeps values in
// callee-saved registers, so its CFI has pushes and stack adjustments to follow.
// usage: deep SECONDS
#include <stdlib.h>
#include <time.h>

#define NOINLINE __attribute__((noinline))

static volatile unsigned long sink;

static inline __attribute__((always_inline)) unsigned long spin(unsigned long n, unsigned long x)
{
	for (unsigned long i = 0; i < n; i++) {
		x = x * 6364136223846793005UL + i;
		__asm__ volatile("" : "+r"(x));
	}
	return x;
}

NOINLINE unsigned long leaf_a(unsigned long x) { return spin(20000, x); }
NOINLINE unsigned long leaf_b(unsigned long x) { return spin(20000, x ^ 1); }
NOINLINE unsigned long leaf_c(unsigned long x) { return spin(20000, x ^ 2); }

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

NOINLINE unsigned long level13(unsigned long x)
{
	unsigned long a = x * 3, b = x ^ 0x55;
	unsigned long r;
	switch (draw()) {
	case 0: r = leaf_a(x); break;
	case 1: r = leaf_b(x); break;
	default: r = leaf_c(x); break;
	}
	__asm__ volatile("" : "+r"(a), "+r"(b));
	return r + a + b;
}

/* Each level: a local array on the stack (a stack adjustment in the CFI), values live across
 * the call (callee-saved pushes), and work after the call (no tail call). */
#define LEVEL(n, next)                                                  \
	NOINLINE unsigned long level##n(unsigned long x)                \
	{                                                               \
		volatile unsigned long buf[n + 2];                      \
		unsigned long a = x + n, b = x * n, c = x ^ n;          \
		buf[0] = a;                                             \
		unsigned long r = next(x + buf[0]);                     \
		__asm__ volatile("" : "+r"(a), "+r"(b), "+r"(c));       \
		buf[1] = r;                                             \
		return buf[1] + a + b + c;                              \
	}

LEVEL(12, level13)
LEVEL(11, level12)
LEVEL(10, level11)
LEVEL(9, level10)
LEVEL(8, level9)
LEVEL(7, level8)
LEVEL(6, level7)
LEVEL(5, level6)
LEVEL(4, level5)
LEVEL(3, level4)
LEVEL(2, level3)
LEVEL(1, level2)

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double end = now() + (argc > 1 ? atof(argv[1]) : 5.0);
	unsigned long x = 1;
	while (now() < end)
		for (int i = 0; i < 100; i++)
			x = level1(x);
	sink = x;
	return 0;
}
