#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tm_cli.h"
#include "tm_suggest.h"
#include "tm_status.h"

int tm_cli_fail(const char *cmd)
{
    fprintf(stderr, "tinym2net %s: error: %s\n", cmd, tm_last_error());
    return 1;
}

int tm_cli_check_out(const char *cmd, const char *dir, const char *marker, const char *what,
                     int force)
{
    char p[8192];
    snprintf(p, sizeof p, "%s/%s", dir, marker);
    struct stat st;
    if (force || stat(p, &st) != 0)
        return 0;
    fprintf(stderr, "tinym2net %s: error: %s already holds %s (%s): use --force to replace it\n",
            cmd, dir, what, marker);
    return 1;
}

__attribute__((format(printf, 2, 3))) static int usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "tinym2net %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 2;
}

/* Option o, typed as a, with its value v (NULL for a flag). */
static int set_value(const char *cmd, const tm_cli_option *o, const char *a, const char *v)
{
    char *end = NULL, list[256] = "";
    long n;
    switch (o->kind) {
    case TM_CLI_K_FLAG:
        *o->to.i = 1;
        break;
    case TM_CLI_K_STRING:
        *o->to.s = v;
        break;
    case TM_CLI_K_INT:
    case TM_CLI_K_LONG:
        errno = 0;
        n = strtol(v, &end, 10);
        if (!v[0] || *end)
            return usage(cmd, "%s needs a whole number, not '%s'", a, v);
        if (errno || n < o->min || n > o->max)
            return usage(cmd, "%s must be between %ld and %ld, not '%s'", a, o->min, o->max, v);
        if (o->kind == TM_CLI_K_INT)
            *o->to.i = (int)n;
        else
            *o->to.l = n;
        break;
    case TM_CLI_K_CHOICE:
        for (int k = 0; o->choices[k]; k++)
            if (!strcmp(v, o->choices[k])) {
                *o->to.s = o->choices[k];
                return 0;
            }
        for (size_t k = 0, L = 0; o->choices[k] && L < sizeof list; k++)
            L += (size_t)snprintf(list + L, sizeof list - L, "%s%s",
                                  !k ? "" : o->choices[k + 1] ? ", " : " or ", o->choices[k]);
        return usage(cmd, "%s must be %s, not '%s'", a, list, v);
    case TM_CLI_K_LIST:
        if (o->to.list->n == o->to.list->cap)
            return usage(cmd, "too many %s options (at most %d)", a, o->to.list->cap);
        if (o->prefix) {
            if (snprintf(o->buf, o->size, "%s%s", o->prefix, v) >= (int)o->size)
                return usage(cmd, "%s '%s' is too long", a, v);
            v = o->buf;
        }
        o->to.list->items[o->to.list->n++] = v;
        break;
    }
    return 0;
}

int tm_cli_parse(const char *cmd, void (*help)(FILE *f), const tm_cli_option *opts, int argc,
                 char **argv, const char **positional, int n_positional)
{
    int got = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            help(stdout);
            return TM_CLI_HELP;
        }
        if (!strcmp(a, "--version")) {
            printf("tinym2net %s\n", TM_VERSION_STRING);
            return TM_CLI_HELP;
        }
        if (a[0] != '-') {
            if (got == n_positional)
                return usage(cmd, "unexpected argument '%s'", a);
            positional[got++] = a;
            continue;
        }
        const tm_cli_option *o = opts;
        while (o->name && strcmp(a, o->name) && !(o->alias && !strcmp(a, o->alias)))
            o++;
        if (!o->name) {
            const char *names[128];
            int n = 0;
            for (const tm_cli_option *q = opts; q->name && n < 126; q++) {
                names[n++] = q->name;
            }
            names[n++] = "--help";
            const char *near = tm_suggest(a, names, n);
            if (near)
                return usage(cmd, "unknown option '%s'; did you mean '%s'? (see --help)", a,
                             near);
            return usage(cmd, "unknown option '%s' (see --help)", a);
        }
        if (o->kind != TM_CLI_K_FLAG && i + 1 >= argc)
            return usage(cmd, "%s needs a value", a);
        if (set_value(cmd, o, a, o->kind == TM_CLI_K_FLAG ? NULL : argv[++i]))
            return 2;
    }
    if (got < n_positional) {
        help(stderr);
        return 2;
    }
    return 0;
}
