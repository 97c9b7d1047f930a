/* search --distributed: the sensitivity measurements and the calibrated
 * sweep points dealt out over 2 and 3 ranks of mpirun give one process's
 * files byte for byte (model.tm2n, pareto.csv, metrics.json apart from its
 * time), and the ranks did share the work. Exits 77 (skip) without MPI in
 * the build or without mpirun. */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tm_ranks.h"
#include "tm_test_util.h"

#define MPIRUN                                                                           \
    "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun --oversubscribe " \
    "--bind-to none "

static char exe[4096];

static char *run_ok(const char *cmd)
{
    static char log[1 << 16];
    int rc = tm_test_run_cmd(cmd, log, sizeof log);
    size_t len = strlen(log);
    ck_assert_msg(rc == 0, "%.300s failed (%d):\n%s", cmd, rc, len > 2000 ? log + len - 2000 : log);
    return log;
}

static char *slurp_file(const char *dir, const char *name, size_t *len)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *s = tm_test_slurp(path, len);
    ck_assert_msg(s != NULL, "%s was not written", path);
    return s;
}

/* metrics.json without its wall-clock lines ("search_seconds" and the like). */
static char *metrics_without_time(const char *dir)
{
    size_t len;
    char *s = slurp_file(dir, "metrics.json", &len), *o = s;
    for (char *p = s; *p;) {
        char *e = strchr(p, '\n');
        size_t n = e ? (size_t)(e - p + 1) : strlen(p);
        if (!memmem(p, n, "seconds\":", 9)) {
            memmove(o, p, n);
            o += n;
        }
        p += n;
    }
    *o = '\0';
    return s;
}

static void expect_same_file(const char *a, const char *b, const char *name)
{
    size_t na, nb;
    char *x = slurp_file(a, name, &na), *y = slurp_file(b, name, &nb);
    ck_assert_msg(na == nb && memcmp(x, y, na) == 0, "%s differs between %s and %s", name, a, b);
    free(x);
    free(y);
}

START_TEST(two_and_three_ranks_write_one_process_files)
{
    char *dir = tm_test_tmpdir("search-ranks");
    char run[4200], cmd[32768];
    snprintf(run, sizeof run, "%s/run", dir);
    snprintf(cmd, sizeof cmd,
             "'%s' train '%s/experiments/quickstart.cfg' --out '%s' --threads 1 --quiet "
             "--set train.epochs=2 2>&1",
             exe, tm_test_source_dir(), run);
    run_ok(cmd);
    /* one thread everywhere: QAT's sums depend on the thread count */
    const char *search = "search '%s' --budget-bytes 100000 --qat-epochs 1 --threads 1 "
                         "--out '%s' %s 2>&1";
    char one[4200];
    snprintf(one, sizeof one, "%s/one", dir);
    char tail[16384];
    snprintf(tail, sizeof tail, search, run, one, "--quiet");
    snprintf(cmd, sizeof cmd, "'%s' %s", exe, tail);
    run_ok(cmd);
    char *m1 = metrics_without_time(one);
    ck_assert_ptr_nonnull(strstr(m1, "\"sensitivity\""));
    for (int n = 2; n <= 3; n++) {
        char out[4200];
        snprintf(out, sizeof out, "%s/ranks%d", dir, n);
        snprintf(tail, sizeof tail, search, run, out, "--distributed");
        snprintf(cmd, sizeof cmd, MPIRUN "-n %d '%s' %s", n, exe, tail);
        char *log = run_ok(cmd);
        /* the sweep's points came from every rank */
        char want[64];
        snprintf(want, sizeof want, "(calibrated, rank %d)", n - 1);
        size_t len = strlen(log);
        ck_assert_msg(strstr(log, want) != NULL, "no point measured on rank %d:\n%s", n - 1,
                      len > 2000 ? log + len - 2000 : log);
        expect_same_file(one, out, "model.tm2n");
        expect_same_file(one, out, "pareto.csv");
        char *mn = metrics_without_time(out);
        size_t at = 0;
        while (m1[at] && m1[at] == mn[at])
            at++;
        ck_assert_msg(!strcmp(m1, mn), "metrics.json differs on %d ranks at byte %zu: %.80s | %.80s",
                      n, at, m1 + (at > 40 ? at - 40 : 0), mn + (at > 40 ? at - 40 : 0));
        free(mn);
    }
    free(m1);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    free(dir);
}
END_TEST

/* Without a launcher, --distributed is one process: the same files again. */
START_TEST(distributed_alone_is_one_process)
{
    char *dir = tm_test_tmpdir("search-alone");
    char run[4200], a[4200], b[4200], cmd[16384];
    snprintf(run, sizeof run, "%s/run", dir);
    snprintf(a, sizeof a, "%s/a", dir);
    snprintf(b, sizeof b, "%s/b", dir);
    snprintf(cmd, sizeof cmd,
             "'%s' train '%s/experiments/quickstart.cfg' --out '%s' --threads 1 --quiet "
             "--set train.epochs=1 2>&1",
             exe, tm_test_source_dir(), run);
    run_ok(cmd);
    for (int k = 0; k < 2; k++) {
        snprintf(cmd, sizeof cmd,
                 "'%s' search '%s' --budget-bytes 100000 --qat-epochs 0 --threads 1 --quiet "
                 "--out '%s' %s 2>&1",
                 exe, run, k ? b : a, k ? "--distributed" : "");
        run_ok(cmd);
    }
    expect_same_file(a, b, "model.tm2n");
    expect_same_file(a, b, "pareto.csv");
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    free(dir);
}
END_TEST

int main(void)
{
    if (!tm_test_mpi_exe(exe, sizeof exe, "tinym2net"))
        return 77;
    Suite *s = suite_create("search_ranks");
    TCase *tc = tcase_create("search_ranks");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, two_and_three_ranks_write_one_process_files);
    tcase_add_test(tc, distributed_alone_is_one_process);
    suite_add_tcase(s, tc);
    return tm_test_run(s);
}
