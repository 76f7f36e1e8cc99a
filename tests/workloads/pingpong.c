// SPDX-License-Identifier: Apache-2.0
/* A context-switch-heavy fixed amount of work, for scripts/bench-offcpu: two threads pass a byte
 * back and forth through two pipes ROUND_TRIPS times, after WAIT_S seconds of sleep (time for a
 * profiler to attach). Prints the context switches of the process during the exchange
 * (getrusage), its CPU time (CLOCK_PROCESS_CPUTIME_ID: the switching threads' own time, which
 * includes what a tracer's program costs at each switch) and the wall time, in ns.
 * Usage: pingpong WAIT_S ROUND_TRIPS */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static int ping[2], pong[2];

static void *echo(void *arg)
{
	(void)arg;
	char c;
	while (read(ping[0], &c, 1) == 1)
		if (write(pong[1], &c, 1) != 1)
			break;
	return 0;
}

static long long ns(clockid_t clock)
{
	struct timespec t;
	clock_gettime(clock, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static long switches(void)
{
	struct rusage u;
	getrusage(RUSAGE_SELF, &u);
	return u.ru_nvcsw + u.ru_nivcsw;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	sleep((unsigned)atoi(argv[1]));
	long n = atol(argv[2]);
	if (pipe(ping) || pipe(pong))
		return 1;
	pthread_t t;
	if (pthread_create(&t, 0, echo, 0))
		return 1;
	long s0 = switches();
	long long c0 = ns(CLOCK_PROCESS_CPUTIME_ID), w0 = ns(CLOCK_MONOTONIC);
	char c = 'x';
	for (long i = 0; i < n; i++)
		if (write(ping[1], &c, 1) != 1 || read(pong[0], &c, 1) != 1)
			return 1;
	long long c1 = ns(CLOCK_PROCESS_CPUTIME_ID), w1 = ns(CLOCK_MONOTONIC);
	long s1 = switches();
	printf("switches=%ld cpu_ns=%lld wall_ns=%lld\n", s1 - s0, c1 - c0, w1 - w0);
	return 0;
}
