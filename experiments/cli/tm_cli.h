#ifndef TM_CLI_H
#define TM_CLI_H

#include <stdio.h>

#include "tm_version.h"

typedef struct tm_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} tm_command;

int tm_cmd_train(int argc, char **argv);
int tm_cmd_eval(int argc, char **argv);
int tm_cmd_quantize(int argc, char **argv);
int tm_cmd_search(int argc, char **argv);
int tm_cmd_export(int argc, char **argv);
int tm_cmd_import_coswara(int argc, char **argv);
int tm_cmd_reproduce(int argc, char **argv);

/* Prints "tinym2net CMD: error: <the last tm_error message>"; returns 1. */
int tm_cli_fail(const char *cmd);
/* The rule of every command that writes a folder, checked before any work:
 * a folder already holding the command's output (dir/marker) is replaced
 * only with --force. 0 to go on, else 1 after saying why. */
int tm_cli_check_out(const char *cmd, const char *dir, const char *marker, const char *what,
                     int force);

/* ---- the option-table parser -------------------------------------------- */

typedef enum {
    TM_CLI_K_FLAG,   /* no value: *to.i = 1 */
    TM_CLI_K_STRING, /* *to.s = the value */
    TM_CLI_K_INT,    /* *to.i = a whole number in [min, max] */
    TM_CLI_K_LONG,   /* *to.l = a whole number in [min, max] */
    TM_CLI_K_CHOICE, /* *to.s = the one of choices (NULL-terminated) the value equals */
    TM_CLI_K_LIST    /* repeatable: the value (or prefix + value in buf) is appended to *to.list */
} tm_cli_kind;

typedef struct {
    const char **items; /* caller's array of cap entries */
    int n, cap;
} tm_cli_list;

typedef struct {
    const char *name, *alias; /* "--out", "-o" (alias may be NULL) */
    tm_cli_kind kind;
    union {
        int *i;
        long *l;
        const char **s;
        tm_cli_list *list;
    } to;
    long min, max;
    const char *const *choices;
    const char *prefix; /* LIST: "experiment.threads=" makes --threads N a --set */
    char *buf;
    size_t size;
} tm_cli_option;

/* Table rows (the union member checks the destination's type); a table ends
 * with {0}. */
#define TM_CLI_FLAG(nm, al, p) {.name = nm, .alias = al, .kind = TM_CLI_K_FLAG, .to.i = (p)}
#define TM_CLI_STRING(nm, al, p) {.name = nm, .alias = al, .kind = TM_CLI_K_STRING, .to.s = (p)}
#define TM_CLI_INT(nm, p, lo, hi)                                                          \
    {.name = nm, .kind = TM_CLI_K_INT, .to.i = (p), .min = (lo), .max = (hi)}
#define TM_CLI_LONG(nm, p, lo, hi)                                                         \
    {.name = nm, .kind = TM_CLI_K_LONG, .to.l = (p), .min = (lo), .max = (hi)}
#define TM_CLI_CHOICE(nm, p, ch) {.name = nm, .kind = TM_CLI_K_CHOICE, .to.s = (p), .choices = (ch)}
#define TM_CLI_LIST(nm, l) {.name = nm, .kind = TM_CLI_K_LIST, .to.list = (l)}
#define TM_CLI_LIST_PREFIX(nm, l, pre, b)                                                   \
    {.name = nm, .kind = TM_CLI_K_LIST, .to.list = (l), .prefix = (pre), .buf = (b),        \
     .size = sizeof(b)}

#define TM_CLI_HELP (-1)

/* Parses argv[1..argc-1] of command cmd against opts, and exactly
 * n_positional arguments into positional[]. Returns 0; TM_CLI_HELP after
 * printing help(stdout) for --help or -h; or 2 after printing help(stderr)
 * when positional arguments are missing, or a message naming the command,
 * the option and the reason (missing value, not a number, out of range, not
 * a choice, too many, unknown option, unexpected argument). */
int tm_cli_parse(const char *cmd, void (*help)(FILE *f), const tm_cli_option *opts, int argc,
                 char **argv, const char **positional, int n_positional);

#endif
