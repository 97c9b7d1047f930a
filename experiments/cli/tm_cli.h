#ifndef TM_CLI_H
#define TM_CLI_H

#define TM_VERSION_STRING "0.1.0"

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

/* Shared option helpers: returns the value after argv[*i], advancing *i, or
 * NULL (with a message) when it is missing. */
const char *tm_cli_value(int argc, char **argv, int *i);
int tm_cli_fail(const char *cmd);

#endif
