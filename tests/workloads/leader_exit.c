// SPDX-License-Identifier: Apache-2.0
// The main thread exits (pthread_exit) while a worker thread keeps burning CPU in worker_burn:
// /proc/PID/maps of the leader is empty then, so symbols must come through the worker's task.
// usage: leader_exit SECONDS
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#define NOINLINE __attribute__((noinline))

static volatile unsigned long sink;
static double seconds = 3.0;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

NOINLINE void worker_burn(void)
{
	double end = now() + seconds;
	while (now() < end)
		for (int i = 0; i < 10000; i++)
			sink += i;
}

static void *worker(void *arg)
{
	(void)arg;
	worker_burn();
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t;
	if (argc > 1)
		seconds = atof(argv[1]);
	if (pthread_create(&t, NULL, worker, NULL))
		return 1;
	pthread_exit(NULL);
}
