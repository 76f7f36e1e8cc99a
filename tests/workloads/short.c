// SPDX-License-Identifier: Apache-2.0
// A short-lived process: burns CPU in short_burn for MILLISECONDS (default 30), then exits.
// usage: short [MILLISECONDS]
#include <stdlib.h>
#include <time.h>

#define NOINLINE __attribute__((noinline))

static volatile unsigned long sink;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

NOINLINE void short_burn(double seconds)
{
	double end = now() + seconds;
	while (now() < end)
		for (int i = 0; i < 1000; i++)
			sink += i;
}

int main(int argc, char **argv)
{
	short_burn((argc > 1 ? atof(argv[1]) : 30.0) / 1000.0);
	return 0;
}
