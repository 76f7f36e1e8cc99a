// SPDX-License-Identifier: Apache-2.0
// The shared library tests/workloads/late_dlopen.c loads after it started: late_hot burns CPU in
// late_inner for the seconds of CPU time asked. Built with -shared -fPIC.
#include <time.h>

#define NOINLINE __attribute__((noinline))

static volatile unsigned long sink;

NOINLINE void late_inner(void)
{
	for (unsigned long i = 0; i < 100000; i++)
		sink += i ^ (sink >> 5);
}

NOINLINE void late_hot(double seconds)
{
	clock_t until = clock() + (clock_t)(seconds * CLOCKS_PER_SEC);
	do
		late_inner();
	while (clock() < until);
}
