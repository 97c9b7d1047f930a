/* The commands' shared option parser (tm_cli_parse), through the tinym2net
 * program: the cli sources are linked into it alone, not into a library the
 * tests link. Every case fails in parsing, or right after it on a missing
 * file, so no case trains anything. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tm_test_util.h"
#include "tm_version.h"

#define TM_TEST_VERSION TM_VERSION_STRING

static char exe[4096];

static int setup(void)
{
    return tm_test_build_exe(exe, sizeof exe, "tinym2net");
}

/* tinym2net ARGS with its standard output (redir "2>/dev/null"), its
 * standard error ("2>&1 >/dev/null") or both ("2>&1") in out. */
static int run(const char *args, const char *redir, char *out, size_t n)
{
    char cmd[1 << 15];
    snprintf(cmd, sizeof cmd, "'%s' %s %s", exe, args, redir);
    return tm_test_run_cmd(cmd, out, n);
}

static const char *const commands[] = {"train", "eval", "quantize", "search", "export"};

START_TEST(help_on_stdout_usage_on_stderr)
{
    if (!setup())
        return;
    static char out[1 << 16];
    char args[256], want[64];
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
        snprintf(want, sizeof want, "usage: tinym2net %s", commands[i]);
        const char *helps[] = {"--help", "-h", "--help --bogus"};
        /* --help wins wherever it stands, but an error before it comes first */
        for (int h = 0; h < 3; h++) {
            snprintf(args, sizeof args, "%s %s", commands[i], helps[h]);
            ck_assert_int_eq(run(args, "2>/dev/null", out, sizeof out), 0);
            ck_assert_msg(strstr(out, want), "%s: %s", args, out);
        }
        snprintf(args, sizeof args, "%s --bogus --help", commands[i]);
        ck_assert_int_eq(run(args, "2>/dev/null", out, sizeof out), 2);
        ck_assert_str_eq(out, "");
        /* no positional argument: the help on stderr, exit 2 */
        ck_assert_int_eq(run(commands[i], "2>/dev/null", out, sizeof out), 2);
        ck_assert_str_eq(out, "");
        ck_assert_int_eq(run(commands[i], "2>&1 >/dev/null", out, sizeof out), 2);
        ck_assert_msg(strstr(out, want), "%s: %s", commands[i], out);
    }
}
END_TEST

START_TEST(errors_name_command_option_and_reason)
{
    if (!setup())
        return;
    static const struct {
        const char *args, *want;
    } bad[] = {
        {"train x.cfg --out", "tinym2net train: --out needs a value\n"},
        {"train x.cfg -o", "tinym2net train: -o needs a value\n"},
        {"train x.cfg --stop-after 3x", "tinym2net train: --stop-after needs a whole number, "
                                        "not '3x'\n"},
        {"train x.cfg --stop-after ''", "--stop-after needs a whole number, not ''\n"},
        {"train x.cfg --stop-after 0", "tinym2net train: --stop-after must be between 1 and "
                                       "1000000, not '0'\n"},
        {"train x.cfg --bogus", "tinym2net train: unknown option '--bogus' (see --help)\n"},
        {"train x.cfg -", "tinym2net train: unknown option '-' (see --help)\n"},
        {"train a.cfg b.cfg", "tinym2net train: unexpected argument 'b.cfg'\n"},
        {"train x.cfg --threads 123456789012345678901234567890123456789012345678901234567890",
         "tinym2net train: --threads '123456789012345678901234567890123456789012345678901234567890'"
         " is too long\n"},
        {"eval r --split dev", "tinym2net eval: --split must be test, val or train, not 'dev'\n"},
        {"eval r --set", "tinym2net eval: --set needs a value\n"},
        {"eval r --set a.b=1 s", "tinym2net eval: unexpected argument 's'\n"},
        {"quantize r --out q --preset int2",
         "tinym2net quantize: --preset must be paper, all8 or all4, not 'int2'\n"},
        {"quantize r --out q --qat-epochs -1",
         "tinym2net quantize: --qat-epochs must be between 0 and 100000, not '-1'\n"},
        {"quantize r --out q --calib-batches 1e3",
         "tinym2net quantize: --calib-batches needs a whole number, not '1e3'\n"},
        {"quantize r", "tinym2net quantize: --out QDIR is required\n"},
        {"search r --out s --budget-bytes 12k",
         "tinym2net search: --budget-bytes needs a whole number, not '12k'\n"},
        {"search r --out s --budget-bytes 0",
         "tinym2net search: --budget-bytes must be between 1 and 1099511627776, not '0'\n"},
        /* beyond long: out of range, not silently clamped */
        {"search r --out s --budget-bytes 99999999999999999999999",
         "--budget-bytes must be between 1 and 1099511627776, not '99999999999999999999999'\n"},
        {"search r --out s --budget-bytes 9 --pareto-points 65",
         "tinym2net search: --pareto-points must be between 2 and 64, not '65'\n"},
        {"search r --budget-bytes 9", "tinym2net search: --out SDIR is required\n"},
        {"search r --out s", "tinym2net search: --budget-bytes N is required\n"},
        {"export q", "tinym2net export: -o MODEL is required\n"},
        {"export q -o m --inputs pcm",
         "tinym2net export: --inputs must be raw or features, not 'pcm'\n"},
        {"export q -o m --symbol", "tinym2net export: --symbol needs a value\n"},
    };
    static char out[1 << 16];
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc = run(bad[i].args, "2>&1", out, sizeof out);
        ck_assert_msg(rc == 2 && strstr(out, bad[i].want), "%s: exit %d:\n%s", bad[i].args, rc,
                      out);
        ck_assert_msg(!strchr(out, '\n') || strchr(out, '\n')[1] == '\0', "%s: one line: %s",
                      bad[i].args, out);
    }
}
END_TEST

/* Every option each command takes gets through the parser: the command then
 * fails on the missing run (exit 1), not on its options (exit 2). */
START_TEST(every_option_is_accepted)
{
    if (!setup())
        return;
    static const struct {
        const char *args, *want;
    } ok[] = {
        {"train /nonexistent.cfg --out d -o d --set a.b=1 --threads 2 --stop-after 3 "
         "--ablations --resume --force --quiet -q",
         "/nonexistent.cfg"},
        {"eval --split val --set a.b=1 /nothing --split train", "/nothing/model.h5"},
        {"quantize /nothing --out q -o q --preset all4 --qat-epochs 0 --calib-batches 100000 "
         "--set a.b=1 --threads 1 --quiet -q",
         "/nothing/model.h5"},
        {"search /nothing --out s -o s --budget-bytes 1099511627776 --qat-epochs 0 "
         "--calib-batches 0 --pareto-points 2 --pareto-points 64 --pareto-qat --set a.b=1 "
         "--threads 1 --quiet -q",
         "/nothing/model.h5"},
        {"export /nothing --out m -o m --c-array m.h --symbol s --inputs features --quiet -q",
         "/nothing/model.tm2n"},
    };
    static char out[1 << 16];
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        int rc = run(ok[i].args, "2>&1", out, sizeof out);
        ck_assert_msg(rc == 1 && strstr(out, ": error: ") && strstr(out, ok[i].want),
                      "%s: exit %d:\n%s", ok[i].args, rc, out);
    }
}
END_TEST

/* --set is repeatable up to its array, and --threads N is one more --set,
 * in command-line order (the last one for a key wins). */
/* help CMD, --version everywhere, and "did you mean" for mistyped commands,
 * options and experiment keys; no suggestion for a word far from all. */
START_TEST(help_version_and_suggestions)
{
    if (!setup())
        return;
    static char out[1 << 16], want[1 << 16];
    char args[512];
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
        snprintf(args, sizeof args, "%s --help", commands[i]);
        ck_assert_int_eq(run(args, "2>/dev/null", want, sizeof want), 0);
        snprintf(args, sizeof args, "help %s", commands[i]);
        ck_assert_int_eq(run(args, "2>/dev/null", out, sizeof out), 0);
        ck_assert_msg(!strcmp(out, want), "help %s differs from %s --help", commands[i],
                      commands[i]);
        snprintf(args, sizeof args, "%s --version", commands[i]);
        ck_assert_int_eq(run(args, "2>/dev/null", out, sizeof out), 0);
        ck_assert_str_eq(out, "tinym2net " TM_TEST_VERSION "\n");
    }
    ck_assert_int_eq(run("--version", "2>/dev/null", out, sizeof out), 0);
    ck_assert_str_eq(out, "tinym2net " TM_TEST_VERSION "\n");
    ck_assert_int_eq(run("quantise x", "2>&1 >/dev/null", out, sizeof out), 2);
    ck_assert_msg(strstr(out, "did you mean 'quantize'?"), "%s", out);
    ck_assert_int_eq(run("help quantise", "2>&1 >/dev/null", out, sizeof out), 2);
    ck_assert_msg(strstr(out, "did you mean 'quantize'?"), "%s", out);
    ck_assert_int_eq(run("frobnicate", "2>&1 >/dev/null", out, sizeof out), 2);
    ck_assert_msg(!strstr(out, "did you mean"), "%s", out);
    ck_assert_int_eq(run("quantize x --ouput y", "2>&1 >/dev/null", out, sizeof out), 2);
    ck_assert_msg(strstr(out, "did you mean '--out'?"), "%s", out);
    ck_assert_int_eq(run("quantize x --calib-batch 3", "2>&1 >/dev/null", out, sizeof out), 2);
    ck_assert_msg(strstr(out, "did you mean '--calib-batches'?"), "%s", out);
    ck_assert_int_eq(run("quantize x --zzzzzz", "2>&1 >/dev/null", out, sizeof out), 2);
    ck_assert_msg(!strstr(out, "did you mean"), "%s", out);
    snprintf(args, sizeof args, "train '%s/experiments/quickstart.cfg' --set train.epoch=3",
             tm_test_source_dir());
    ck_assert_int_eq(run(args, "2>&1 >/dev/null", out, sizeof out), 1);
    ck_assert_msg(strstr(out, "unknown key 'epoch'; did you mean 'epochs'?"), "%s", out);
    snprintf(args, sizeof args, "train '%s/experiments/quickstart.cfg' --set train.learning_rate=3",
             tm_test_source_dir());
    ck_assert_int_eq(run(args, "2>&1 >/dev/null", out, sizeof out), 1);
    ck_assert_msg(strstr(out, "unknown key 'learning_rate' (valid keys"), "%s", out);
    /* tinym2net-run too */
    char runexe[4096];
    ck_assert(tm_test_build_exe(runexe, sizeof runexe, "tinym2net-run"));
    ck_assert_int_eq(tm_test_run_exe(runexe, out, sizeof out, "--version"), 0);
    ck_assert_str_eq(out, "tinym2net-run " TM_TEST_VERSION "\n");
    ck_assert_int_eq(tm_test_run_exe(runexe, out, sizeof out, "m --manifst x"), 2);
    ck_assert_msg(strstr(out, "did you mean '--manifest'?"), "%s", out);
}
END_TEST

/* Every command that writes a folder refuses one holding its outputs without
 * --force, before any work (here: before even opening the missing run). */
START_TEST(force_rule_before_any_work)
{
    if (!setup())
        return;
    static char out[1 << 16];
    char *d = tm_test_tmpdir("force");
    ck_assert_ptr_nonnull(d);
    char args[8192];
    snprintf(args, sizeof args, "touch '%s/model.tm2n' '%s/pareto.csv' '%s/checkpoint.h5'", d, d,
             d);
    ck_assert_int_eq(tm_test_run_cmd(args, out, sizeof out), 0);
    const char *cmds[3][2] = {{"quantize", "model.tm2n"},
                              {"search", "pareto.csv"},
                              {"train", "checkpoint.h5"}};
    for (int i = 0; i < 3; i++) {
        if (i == 2)
            snprintf(args, sizeof args, "train '%s/experiments/quickstart.cfg' --out '%s'",
                     tm_test_source_dir(), d);
        else
            snprintf(args, sizeof args, "%s '%s/no-run' --out '%s' --budget-bytes 1", cmds[i][0],
                     d, d);
        if (i == 0) /* quantize has no --budget-bytes */
            snprintf(args, sizeof args, "quantize '%s/no-run' --out '%s'", d, d);
        ck_assert_int_eq(run(args, "2>&1 >/dev/null", out, sizeof out), 1);
        ck_assert_msg(strstr(out, "already holds") && strstr(out, cmds[i][1]) &&
                          strstr(out, "--force") && !strstr(out, "no-run"),
                      "%s: %s", cmds[i][0], out);
        /* with --force the command goes on: to the missing run's error */
        if (i < 2) {
            strncat(args, " --force", sizeof args - strlen(args) - 1);
            ck_assert_int_eq(run(args, "2>&1 >/dev/null", out, sizeof out), 1);
            ck_assert_msg(strstr(out, "no-run"), "%s --force: %s", cmds[i][0], out);
        }
    }
    /* export of a training run says what to do first */
    snprintf(args, sizeof args, "mkdir '%s/tr' && touch '%s/tr/model.h5'", d, d);
    ck_assert_int_eq(tm_test_run_cmd(args, out, sizeof out), 0);
    snprintf(args, sizeof args, "export '%s/tr' -o '%s/m.tm2n'", d, d);
    ck_assert_int_eq(run(args, "2>&1 >/dev/null", out, sizeof out), 1);
    ck_assert_msg(strstr(out, "is a training run") && strstr(out, "tinym2net quantize"), "%s",
                  out);
    snprintf(args, sizeof args, "rm -rf '%s'", d);
    ck_assert_int_eq(tm_test_run_cmd(args, out, sizeof out), 0);
    free(d);
}
END_TEST

START_TEST(repeatable_set_and_threads)
{
    if (!setup())
        return;
    static char args[1 << 14], out[1 << 16];
    size_t k = (size_t)snprintf(args, sizeof args, "eval /nothing");
    for (int i = 0; i < 64; i++)
        k += (size_t)snprintf(args + k, sizeof args - k, " --set s.k%d=%d", i, i);
    ck_assert_int_eq(run(args, "2>&1", out, sizeof out), 1);
    ck_assert_ptr_nonnull(strstr(out, "/nothing/model.h5"));
    snprintf(args + k, sizeof args - k, " --set one.more=1");
    ck_assert_int_eq(run(args, "2>&1", out, sizeof out), 2);
    ck_assert_ptr_nonnull(strstr(out, "tinym2net eval: too many --set options (at most 64)\n"));

    /* quantize: --threads shares the 64 entries with --set */
    k = (size_t)snprintf(args, sizeof args, "quantize /nothing --out q");
    for (int i = 0; i < 63; i++)
        k += (size_t)snprintf(args + k, sizeof args - k, " --set s.k%d=%d", i, i);
    snprintf(args + k, sizeof args - k, " --threads 1");
    ck_assert_int_eq(run(args, "2>&1", out, sizeof out), 1);
    snprintf(args + k, sizeof args - k, " --threads 1 --threads 2");
    ck_assert_int_eq(run(args, "2>&1", out, sizeof out), 2);
    ck_assert_ptr_nonnull(strstr(out, "too many --threads options (at most 64)"));

    /* the experiment sees the overrides in order: the last value is checked */
    char cfg[4200];
    snprintf(cfg, sizeof cfg, "%s/experiments/quickstart.cfg", tm_test_source_dir());
    snprintf(args, sizeof args, "train '%s' --out /nonexistent/r --threads 2 --set "
             "experiment.threads=998", cfg);
    ck_assert_int_eq(run(args, "2>&1", out, sizeof out), 1);
    ck_assert_msg(strstr(out, "threads = 998: out of range"), "%s", out);
    snprintf(args, sizeof args, "train '%s' --out /nonexistent/r --set experiment.threads=2 "
             "--threads 997 --threads 996", cfg);
    ck_assert_int_eq(run(args, "2>&1", out, sizeof out), 1);
    ck_assert_msg(strstr(out, "threads = 996: out of range"), "%s", out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cli_options");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, help_on_stdout_usage_on_stderr);
    tcase_add_test(tc, errors_name_command_option_and_reason);
    tcase_add_test(tc, every_option_is_accepted);
    tcase_add_test(tc, repeatable_set_and_threads);
    tcase_add_test(tc, help_version_and_suggestions);
    tcase_add_test(tc, force_rule_before_any_work);
    suite_add_tcase(s, tc);
    return tm_test_run(s);
}
