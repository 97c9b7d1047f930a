/* Instructions executed inside one function, counted by single-stepping
 * (Linux x86-64, ptrace): for builds callgrind cannot run, such as the
 * AVX-512 VNNI kernels (valgrind stops on EVEX instructions with SIGILL).
 * Each call of the function is stepped from its first instruction through
 * its return, callees included, as callgrind --toggle-collect counts it; a
 * rep-prefixed instruction counts once per iteration, as in callgrind.
 *
 *   step_icount ADDRESS PROGRAM [ARGS...]
 *
 * ADDRESS (hex) is the function's entry in a non-PIE PROGRAM (nm PROGRAM).
 * Prints "calls N instructions M" on stdout; PROGRAM's own output is left
 * alone. Exit status 1 when PROGRAM fails or the function is never called. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

static int step_until_return(pid_t pid, uint64_t *count)
{
    struct user_regs_struct r;
    long ret;
    uint64_t sp0, n = 0;
    int st;
    if (ptrace(PTRACE_GETREGS, pid, NULL, &r) < 0)
        return -1;
    sp0 = r.rsp;
    errno = 0;
    ret = ptrace(PTRACE_PEEKDATA, pid, (void *)(uintptr_t)sp0, NULL);
    if (errno)
        return -1;
    for (;;) {
        if (ptrace(PTRACE_SINGLESTEP, pid, NULL, NULL) < 0 || waitpid(pid, &st, 0) < 0)
            return -1;
        if (!WIFSTOPPED(st) || WSTOPSIG(st) != SIGTRAP)
            return -1;
        n++;
        if (ptrace(PTRACE_GETREGS, pid, NULL, &r) < 0)
            return -1;
        if (r.rip == (uint64_t)ret && r.rsp > sp0)
            break;
    }
    *count += n;
    return 0;
}

int main(int argc, char **argv)
{
    uint64_t addr, total = 0;
    unsigned long calls = 0;
    long orig;
    pid_t pid;
    int st;
    if (argc < 3) {
        fprintf(stderr, "usage: step_icount ADDRESS PROGRAM [ARGS...]\n");
        return 2;
    }
    addr = strtoull(argv[1], NULL, 16);
    pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0) {
        ptrace(PTRACE_TRACEME, 0, NULL, NULL);
        execv(argv[2], argv + 2);
        _exit(127);
    }
    if (waitpid(pid, &st, 0) < 0 || !WIFSTOPPED(st))
        return 1;
    errno = 0;
    orig = ptrace(PTRACE_PEEKTEXT, pid, (void *)(uintptr_t)addr, NULL);
    if (errno) {
        fprintf(stderr, "step_icount: cannot read %s at %llx\n", argv[2], (unsigned long long)addr);
        return 1;
    }
    for (;;) {
        int sig = 0;
        ptrace(PTRACE_POKETEXT, pid, (void *)(uintptr_t)addr,
               (void *)((orig & ~0xffL) | 0xccL)); /* int3 at the entry */
        if (ptrace(PTRACE_CONT, pid, NULL, NULL) < 0)
            return 1;
        for (;;) {
            if (waitpid(pid, &st, 0) < 0)
                return 1;
            if (WIFEXITED(st) || WIFSIGNALED(st))
                goto done;
            if (WSTOPSIG(st) == SIGTRAP) {
                struct user_regs_struct r;
                ptrace(PTRACE_GETREGS, pid, NULL, &r);
                if (r.rip == addr + 1) {
                    r.rip = addr;
                    ptrace(PTRACE_SETREGS, pid, NULL, &r);
                    ptrace(PTRACE_POKETEXT, pid, (void *)(uintptr_t)addr, (void *)orig);
                    if (step_until_return(pid, &total) < 0) {
                        fprintf(stderr, "step_icount: stepping failed\n");
                        kill(pid, SIGKILL);
                        return 1;
                    }
                    calls++;
                    break;
                }
            }
            sig = WSTOPSIG(st) == SIGTRAP ? 0 : WSTOPSIG(st);
            if (ptrace(PTRACE_CONT, pid, NULL, (void *)(intptr_t)sig) < 0)
                return 1;
        }
    }
done:
    printf("calls %lu instructions %llu\n", calls, (unsigned long long)total);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 && calls > 0 ? 0 : 1;
}
