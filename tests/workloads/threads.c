// SPDX-License-Identifier: Apache-2.0
// Two threads burning CPU in different functions, for per-thread tests: thread `thr_a` spins
// in spin_a, thread `thr_b` in spin_b, for SECONDS of wall time; the main thread waits.
// usage: threads SECONDS
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#define NOINLINE __attribute__((noinline))

static volatile unsigned long sink;
static double seconds;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

NOINLINE void spin_a(void)
{
	for (unsigned long i = 0; i < 100000; i++)
		sink += i ^ (sink >> 3);
}

NOINLINE void spin_b(void)
{
	for (unsigned long i = 0; i < 100000; i++)
		sink += i ^ (sink >> 5);
}

static void *run(void *arg)
{
	void (*spin)(void) = arg;
	pthread_setname_np(pthread_self(), spin == spin_a ? "thr_a" : "thr_b");
	double until = now() + seconds;
	while (now() < until)
		spin();
	return NULL;
}

int main(int argc, char **argv)
{
	seconds = argc > 1 ? atof(argv[1]) : 2;
	pthread_t a, b;
	pthread_create(&a, NULL, run, (void *)spin_a);
	pthread_create(&b, NULL, run, (void *)spin_b);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	return 0;
}
