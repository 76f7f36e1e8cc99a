// SPDX-License-Identifier: Apache-2.0
// Runs a command with one system call denied by a seccomp filter, as a container runtime's
// default profile does (EPERM), or as on a kernel built without it (ENOSYS):
// usage: deny_syscall [EPERM|ENOSYS] bpf|perf_event_open COMMAND [ARG...]   (default EPERM)
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static void usage(void)
{
	fprintf(stderr, "usage: deny_syscall [EPERM|ENOSYS] bpf|perf_event_open COMMAND [ARG...]\n");
}

int main(int argc, char **argv)
{
	unsigned int err = EPERM;
	if (argc > 1 && !strcmp(argv[1], "ENOSYS")) {
		err = ENOSYS;
		argv++, argc--;
	} else if (argc > 1 && !strcmp(argv[1], "EPERM")) {
		argv++, argc--;
	}
	if (argc < 3 || (strcmp(argv[1], "bpf") && strcmp(argv[1], "perf_event_open"))) {
		usage();
		return 2;
	}
	unsigned int nr = strcmp(argv[1], "bpf") ? __NR_perf_event_open : __NR_bpf;
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (err & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(filter) / sizeof(filter[0]), .filter = filter };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)) {
		perror("deny_syscall: seccomp");
		return 1;
	}
	execvp(argv[2], argv + 2);
	perror("deny_syscall: exec");
	return 127;
}
