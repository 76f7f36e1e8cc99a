// SPDX-License-Identifier: Apache-2.0
/* A known rate of context switches: THREADS threads (comm `ticker`) each sleep until the next
 * multiple of PERIOD_US on an absolute schedule, so the process leaves the CPU
 * THREADS * 1e6 / PERIOD_US times a second (10 threads every 1000 us: 10,000 a second) when
 * the machine keeps up (a sleep whose time has passed when it starts does not block). At the
 * end it prints `voluntary switches N`: how many times its threads did leave the CPU (getrusage
 * sums them over every thread), the count a profiler of blocks should find.
 * Usage: switches THREADS PERIOD_US SECONDS */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

static long period_ns;
static struct timespec end;

static int before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

__attribute__((noinline)) static void tick(struct timespec *next)
{
	next->tv_nsec += period_ns;
	while (next->tv_nsec >= 1000000000L) {
		next->tv_nsec -= 1000000000L;
		next->tv_sec++;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, next, 0))
		;
}

static void *ticker(void *arg)
{
	struct timespec next = *(struct timespec *)arg;
	while (before(&next, &end))
		tick(&next);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 4)
		return 2;
	int threads = atoi(argv[1]);
	period_ns = atol(argv[2]) * 1000L;
	double secs = atof(argv[3]);
	if (threads < 1 || threads > 256 || period_ns <= 0)
		return 2;
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	end = start;
	end.tv_sec += (time_t)secs;
	end.tv_nsec += (long)((secs - (time_t)secs) * 1e9);
	if (end.tv_nsec >= 1000000000L) {
		end.tv_nsec -= 1000000000L;
		end.tv_sec++;
	}
	pthread_t t[256];
	for (int i = 0; i < threads; i++) {
		if (pthread_create(&t[i], 0, ticker, &start))
			return 1;
		pthread_setname_np(t[i], "ticker");
	}
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], 0);
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		printf("voluntary switches %ld\n", ru.ru_nvcsw);
	return 0;
}
