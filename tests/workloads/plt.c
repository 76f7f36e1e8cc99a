// SPDX-License-Identifier: Apache-2.0
// A hot loop of calls through the PLT into libc: main -> spin -> abs, a function so short that
// a large share of the samples land in the `abs@plt` stub itself; the clock is read through the
// vDSO (clock_gettime) every 64 calls. Built with -fno-builtin (abs stays a call), with and
// without IBT (.plt.sec or plain .plt), and with -fno-plt (no stub at all). usage: plt SECONDS
#include <stdlib.h>
#include <time.h>

#define NOINLINE __attribute__((noinline))

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

volatile long sink;

NOINLINE void spin(double seconds)
{
	double end = now() + seconds;
	long sum = 0;
	for (int i = 0; now() < end; i++)
		for (int j = 0; j < 64; j++)
			sum += abs(i - j);
	sink = sum;
}

int main(int argc, char **argv)
{
	spin(argc > 1 ? atof(argv[1]) : 5);
	return 0;
}
