// SPDX-License-Identifier: Apache-2.0
// Fixture for the unwind-table tests (tests/unwind_tables.rs): functions whose call-frame
// information has a known shape. Built with -O2 -fomit-frame-pointer, so:
//   fixture_leaf    no frame at all (CFA = rsp+8 throughout),
//   fixture_pushes  saves callee-saved registers (rbp among them, as a plain register) and
//                   allocates a stack buffer (CFA = rsp+N, rbp saved at a CFA offset),
//   fixture_framed  keeps a frame pointer (push %rbp; mov %rsp,%rbp: CFA = rbp+16).
// With -DUNWIND_FIXTURE_BOTH_SECTIONS the assembler writes the CFI to .debug_frame as well.
// usage: unwind_fixture [maps]   ("maps": print the address of fixture_leaf, then /proc/self/maps)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOINLINE __attribute__((noinline))

#ifdef UNWIND_FIXTURE_BOTH_SECTIONS
/* The same call-frame information in .debug_frame too: the tests check .eh_frame wins. */
__asm__(".cfi_sections .eh_frame, .debug_frame");
#endif

static volatile long sink;
/* Called through a volatile pointer so the compiler cannot see what the callee clobbers. */
static long (*volatile leaf_ptr)(long);

NOINLINE long fixture_leaf(long x)
{
	return x * 3 + 1;
}

NOINLINE long fixture_pushes(long n, long m, long k)
{
	volatile long buf[200];
	long a = n * 7, b = m ^ k, c = k + n, d = m * n;

	for (long i = 0; i < 200; i++)
		buf[i] = leaf_ptr(i + a);
	a += leaf_ptr(b);
	b += leaf_ptr(c);
	c += leaf_ptr(d);
	d += leaf_ptr(a);
	return buf[n % 200] + a + b + c + d;
}

NOINLINE __attribute__((optimize("no-omit-frame-pointer"))) long fixture_framed(long n)
{
	long *p = __builtin_alloca((size_t)(n & 63) * sizeof(long) + 8);

	p[0] = fixture_pushes(n, n + 1, n + 2);
	return p[0] + fixture_leaf(n);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "maps") == 0) {
		char line[512];
		FILE *maps = fopen("/proc/self/maps", "r");

		if (!maps)
			return 1;
		printf("fixture_leaf %lx\n", (unsigned long)(void *)&fixture_leaf);
		while (fgets(line, sizeof(line), maps))
			fputs(line, stdout);
		fclose(maps);
		return 0;
	}
	leaf_ptr = fixture_leaf;
	sink = fixture_framed(argc);
	return 0;
}
