#include "tm_fault.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int tm_fault_rename(void)
{
    static int count;
    count++;
    const char *k = getenv("TM_FAULT_KILL");
    if (k && atoi(k) == count) {
        fflush(NULL); /* the test reads what was printed up to the kill */
        kill(getpid(), SIGKILL);
    }
    const char *e = getenv("TM_FAULT_RENAME");
    if (e && atoi(e) == count) {
        errno = EIO;
        return 1;
    }
    return 0;
}

int tm_rename(const char *from, const char *to)
{
    return tm_fault_rename() ? -1 : rename(from, to);
}
