// SPDX-License-Identifier: Apache-2.0
// A function whose stack frame is larger than 512 KiB (rustc's run_compiler closure has a
// 540 KiB one): main -> big_frame (600,000-byte local array) -> burn. Built with
// -O2 -fomit-frame-pointer, so the only way from burn back to main is big_frame's CFI rule
// CFA = RSP + ~600 KiB, which did not fit the unwind row's former 16-bit offset.
// usage: bigframe SECONDS
#include <stdlib.h>
#include <time.h>

#define NOINLINE __attribute__((noinline))
#define FRAME_BYTES 600000

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

NOINLINE unsigned long burn(volatile char *buf, double secs)
{
	unsigned long x = 1;
	double end = now() + secs;
	while (now() < end) {
		for (int i = 0; i < 100000; i++) {
			x = x * 6364136223846793005UL + buf[i % FRAME_BYTES];
			__asm__ volatile("" : "+r"(x));
		}
	}
	return x;
}

NOINLINE unsigned long big_frame(double secs)
{
	volatile char buf[FRAME_BYTES];
	for (int i = 0; i < FRAME_BYTES; i += 4096)
		buf[i] = (char)i;
	unsigned long x = burn(buf, secs);
	return x + buf[12345];
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 3;
	volatile unsigned long sink = big_frame(secs);
	(void)sink;
	return 0;
}
