// SPDX-License-Identifier: Apache-2.0
/* Lock contention with known waiting: THREADS workers (comm `worker`) take turns on one mutex;
 * each holds it for HOLD_NS while sleeping (hold → nanosleep) and then waits to take it again
 * (contend → pthread_mutex_lock → futex). With 4 workers, at any time one holds and sleeps and
 * three wait in the futex: 25% / 75% of the workers' time.
 * Usage: lockwait SECONDS */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#define THREADS 4
#define HOLD_NS 2000000L

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static volatile int stop;

__attribute__((noinline)) static void contend(void)
{
	pthread_mutex_lock(&lock);
}

__attribute__((noinline)) static void hold(void)
{
	struct timespec d = { 0, HOLD_NS };
	nanosleep(&d, 0);
	pthread_mutex_unlock(&lock);
}

static void *worker(void *arg)
{
	(void)arg;
	while (!stop) {
		contend();
		hold();
	}
	return 0;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 3;
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++) {
		if (pthread_create(&t[i], 0, worker, 0))
			return 1;
		pthread_setname_np(t[i], "worker");
	}
	struct timespec d = { (time_t)secs, (long)((secs - (time_t)secs) * 1e9) };
	nanosleep(&d, 0);
	stop = 1;
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], 0);
	return 0;
}
