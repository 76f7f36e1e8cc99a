// SPDX-License-Identifier: Apache-2.0
// Process churn: starts RATE processes a second for SECONDS, round-robin over the binaries
// given, each run with the argument ARG (tests/workloads/short.c burns ARG milliseconds), and
// reaps them. Prints how many it started and how many it could not start.
// usage: churn RATE SECONDS ARG BINARY...
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: churn RATE SECONDS ARG BINARY...\n");
		return 2;
	}
	double rate = atof(argv[1]), seconds = atof(argv[2]);
	char *arg = argv[3];
	char **bins = argv + 4;
	int nbins = argc - 4;
	if (rate <= 0 || seconds <= 0) {
		fprintf(stderr, "churn: RATE and SECONDS must be positive\n");
		return 2;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	double t0 = now();
	unsigned long started = 0, failed = 0;
	for (unsigned long n = 0; !stop; n++) {
		double due = t0 + n / rate;
		if (due - t0 >= seconds)
			break;
		double wait = due - now();
		if (wait > 0) {
			struct timespec ts = { (time_t)wait, (long)((wait - (time_t)wait) * 1e9) };
			nanosleep(&ts, NULL);
		}
		pid_t pid = fork();
		if (pid == 0) {
			char *child_argv[] = { bins[n % nbins], arg, NULL };
			execv(child_argv[0], child_argv);
			_exit(127);
		}
		if (pid < 0)
			failed++;
		else
			started++;
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
	}
	while (wait(NULL) > 0 || errno == EINTR)
		;
	printf("started=%lu failed=%lu\n", started, failed);
	return 0;
}
