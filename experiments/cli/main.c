/* tinym2net: the command-line program, git-style subcommands. */
#include <stdio.h>
#include <string.h>

#include "tm_cli.h"
#include "tm_suggest.h"

static const tm_command commands[] = {
    {"train", "train an experiment (and its single-branch ablations)", tm_cmd_train},
    {"eval", "evaluate a trained run on a data split", tm_cmd_eval},
    {"quantize", "quantise a trained run (calibration, QAT) and test it on the integer runtime",
     tm_cmd_quantize},
    {"search", "choose 8/4-bit precision per layer under a weight-byte budget", tm_cmd_search},
    {"export", "write the device model file (and C array) of a quantised run", tm_cmd_export},
    {"import-coswara", "turn the Coswara COVID-19 data into a manifest", tm_cmd_import_coswara},
    {"reproduce", "reproduce the paper's tables on our data (docs/results.md)", tm_cmd_reproduce},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: tinym2net <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(f, "  %-16s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'tinym2net help <command>' (or <command> --help) describes a command's "
               "options; --version prints the version.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        (!strcmp(argv[1], "help") && argc < 3)) {
        usage(stdout);
        return 0;
    }
    /* tinym2net help CMD is CMD --help */
    char help_flag[] = "--help";
    char *help_argv[3] = {argv[argc > 2 ? 2 : 1], help_flag, NULL};
    if (!strcmp(argv[1], "help")) {
        argv = help_argv;
        argc = 2;
        for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
            if (!strcmp(argv[0], commands[i].name))
                return commands[i].run(argc, argv);
        argv[1] = argv[0];
    }
    if (!strcmp(argv[1], "--version")) {
        printf("tinym2net %s\n", TM_VERSION_STRING);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    const char *names[sizeof commands / sizeof *commands];
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        names[i] = commands[i].name;
    const char *near = tm_suggest(argv[1], names, (int)(sizeof names / sizeof *names));
    if (near)
        fprintf(stderr, "tinym2net: unknown command '%s'; did you mean '%s'?\n\n", argv[1],
                near);
    else
        fprintf(stderr, "tinym2net: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
