// SPDX-License-Identifier: MIT
/* Off-CPU workload with known blocking: the main thread alternates between blocking on a pipe
 * (reader → read) and sleeping (sleeper → clock_nanosleep). A feeder thread writes the time of
 * each tick to the pipe, one tick every PERIOD_NS on an absolute schedule; after reading tick t,
 * main sleeps until t + SLEEP_NS, so it spends SLEEP_NS of each period in nanosleep (70%) and
 * the rest waiting in read (30%), whatever its wake-up latency (the same on both sides).
 * Usage: offcpu SECONDS (0: until killed)
 *        offcpu --once SECONDS: one sleep of SECONDS in sleeper, after 300 ms of short sleeps
 *        (time for prof to read the process's mappings and build libc's unwind table). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PERIOD_NS 10000000L
#define SLEEP_NS 7000000L

static int fds[2];

static void add_ns(struct timespec *t, long ns)
{
	t->tv_nsec += ns;
	while (t->tv_nsec >= 1000000000L) {
		t->tv_nsec -= 1000000000L;
		t->tv_sec++;
	}
}

static void *feeder(void *arg)
{
	(void)arg;
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (;;) {
		add_ns(&next, PERIOD_NS);
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, 0);
		if (write(fds[1], &next, sizeof(next)) != sizeof(next))
			return 0;
	}
}

__attribute__((noinline)) static void reader(struct timespec *tick)
{
	if (read(fds[0], tick, sizeof(*tick)) != sizeof(*tick))
		exit(1);
}

__attribute__((noinline)) static void sleeper(struct timespec until)
{
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, 0))
		;
}

static int once(double secs)
{
	struct timespec until;
	for (int i = 0; i < 30; i++) {
		clock_gettime(CLOCK_MONOTONIC, &until);
		add_ns(&until, PERIOD_NS);
		sleeper(until);
	}
	clock_gettime(CLOCK_MONOTONIC, &until);
	add_ns(&until, (long)(secs * 1e9));
	sleeper(until);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 2 && !strcmp(argv[1], "--once"))
		return once(atof(argv[2]));
	double secs = argc > 1 ? atof(argv[1]) : 0;
	if (pipe(fds))
		return 1;
	pthread_t t;
	if (pthread_create(&t, 0, feeder, 0))
		return 1;
	pthread_setname_np(t, "feeder");
	struct timespec start, now, tick;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		reader(&tick);
		add_ns(&tick, SLEEP_NS);
		sleeper(tick);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (secs > 0 && (now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) / 1e9 >= secs)
			return 0;
	}
}
