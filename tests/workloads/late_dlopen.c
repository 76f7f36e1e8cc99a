// SPDX-License-Identifier: Apache-2.0
// Loads code after it has run a while: burns CPU in warm_up for WARM seconds of CPU time (long
// enough to be sampled and captured), then dlopen()s the shared library LIB
// (tests/workloads/late_lib.c) and spends HOT seconds of CPU time in its late_hot.
// usage: late_dlopen LIB WARM HOT
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define NOINLINE __attribute__((noinline))

static volatile unsigned long sink;

/* Burns until the process has used `seconds` of CPU time: sampled for that long however busy
 * the machine is. */
NOINLINE void warm_up(double seconds)
{
	clock_t until = clock() + (clock_t)(seconds * CLOCKS_PER_SEC);
	while (clock() < until)
		for (unsigned long i = 0; i < 100000; i++)
			sink += i ^ (sink >> 3);
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: late_dlopen LIB WARM HOT\n");
		return 2;
	}
	warm_up(atof(argv[2]));
	void *lib = dlopen(argv[1], RTLD_NOW);
	if (!lib) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return 1;
	}
	void (*late_hot)(double) = (void (*)(double))dlsym(lib, "late_hot");
	if (!late_hot) {
		fprintf(stderr, "dlsym: %s\n", dlerror());
		return 1;
	}
	late_hot(atof(argv[3]));
	return 0;
}
