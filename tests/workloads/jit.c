// SPDX-License-Identifier: Apache-2.0
// A tiny "JIT": copies a counted loop of x86-64 machine code into anonymous executable memory,
// announces it in /tmp/perf-PID.map as `jitted_hot_loop`, and calls it for SECONDS.
// usage: jit SECONDS
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	/* mov ecx, 1000000; l: dec ecx; jnz l; ret */
	static const unsigned char code[] = { 0xB9, 0x40, 0x42, 0x0F, 0x00, 0xFF, 0xC9, 0x75, 0xFC, 0xC3 };
	double seconds = argc > 1 ? atof(argv[1]) : 3.0;
	void *mem = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return 1;
	memcpy(mem, code, sizeof(code));
	char path[64];
	snprintf(path, sizeof(path), "/tmp/perf-%d.map", getpid());
	FILE *f = fopen(path, "w");
	if (!f)
		return 1;
	fprintf(f, "%lx %zx jitted_hot_loop\n", (unsigned long)mem, sizeof(code));
	fclose(f);
	void (*fn)(void) = (void (*)(void))mem;
	double end = now() + seconds;
	while (now() < end)
		fn();
	return 0;
}
