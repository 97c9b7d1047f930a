#include <stdio.h>

#include "tm_cli.h"
#include "tm_status.h"

const char *tm_cli_value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        fprintf(stderr, "tinym2net: %s needs a value\n", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

int tm_cli_fail(const char *cmd)
{
    fprintf(stderr, "tinym2net %s: error: %s\n", cmd, tm_last_error());
    return 1;
}
