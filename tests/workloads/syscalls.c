// SPDX-License-Identifier: Apache-2.0
// Syscall-heavy loop: main -> do_reads -> read(/dev/zero, 1 MiB), so most samples are in the
// kernel (clearing user pages) below user frames. usage: syscalls SECONDS
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

static char buf[1 << 20];

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

NOINLINE void do_reads(int fd, double seconds)
{
	double end = now() + seconds;
	while (now() < end)
		for (int i = 0; i < 16; i++)
			if (read(fd, buf, sizeof(buf)) < 0)
				exit(1);
}

int main(int argc, char **argv)
{
	int fd = open("/dev/zero", O_RDONLY);
	if (fd < 0)
		return 1;
	do_reads(fd, argc > 1 ? atof(argv[1]) : 5.0);
	return 0;
}
