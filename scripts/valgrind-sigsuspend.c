/* Loaded (LD_PRELOAD) only by scripts/profile.sh. */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>
/* valgrind 3.19 writes to sigsuspend's mask; Swift's runtime passes one in read-only memory. */
int sigsuspend(const sigset_t *mask) { sigset_t copy = *mask; return syscall(SYS_rt_sigsuspend, &copy, 8); }
