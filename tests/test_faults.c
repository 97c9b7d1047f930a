/* Faults while `tinym2net quantize` writes its folder: a failed rename at
 * each step (TM_FAULT_RENAME=N) and SIGKILL at many moments must leave the
 * folder wholly old or wholly new, with the user's files kept; temporaries
 * of dead processes are recovered and removed by the next write. Needs no
 * data: the run comes from the synthetic quickstart set. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tm_checkpoint.h"
#include "tm_test_util.h"

static const char *const OUTPUTS[] = {"model.tm2n", "qmodel.h5", "metrics.json"};
enum { N_OUT = 3 };

static char bd[4096], dir[4096];

static int setup(void)
{
    const char *b = getenv("TM_BUILD_DIR");
    if (!b) {
        printf("skip: TM_BUILD_DIR not set (run through ctest)\n");
        return 0;
    }
    snprintf(bd, sizeof bd, "%s", b);
    char *d = tm_test_tmpdir("faults");
    ck_assert_ptr_nonnull(d);
    snprintf(dir, sizeof dir, "%s", d);
    free(d);
    static char cmd[65536], out[1 << 14];
    /* old = paper preset, new = all8: every output differs between them */
    snprintf(cmd, sizeof cmd,
             "'%s/tinym2net' train '%s/experiments/quickstart.cfg' --set data.train_samples=300 "
             "--set data.val_samples=32 --set data.test_samples=64 --set train.epochs=1 --set "
             "experiment.threads=1 --out '%s/run' --quiet 2>&1 && "
             "'%s/tinym2net' quantize '%s/run' --out '%s/old' --preset paper --qat-epochs 0 "
             "--calib-batches 4 --quiet >/dev/null 2>&1 && "
             "'%s/tinym2net' quantize '%s/run' --out '%s/new' --preset all8 --qat-epochs 0 "
             "--calib-batches 4 --quiet >/dev/null 2>&1",
             bd, tm_test_source_dir(), dir, bd, dir, dir, bd, dir, dir);
    ck_assert_msg(tm_test_run_cmd(cmd, out, sizeof out) == 0, "%s", out);
    return 1;
}

static void cleanup(void)
{
    char cmd[4200], out[64];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(tm_test_run_cmd(cmd, out, sizeof out), 0);
}

static int same_file(const char *a, const char *b)
{
    size_t na = 0, nb = 0;
    char *x = tm_test_slurp(a, &na), *y = tm_test_slurp(b, &nb);
    int same = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

/* HDF5 stamps object times, so qmodel.h5 is told by its preset attribute. */
static int same_qmodel(const char *a, const char *preset)
{
    tm_ckpt_reader *r = NULL;
    if (tm_ckpt_open(&r, a) != TM_OK)
        return 0;
    char *v = NULL;
    int same = tm_ckpt_get_attr_string(r, "quant_preset", &v) == TM_OK && !strcmp(v, preset);
    free(v);
    tm_ckpt_close(r);
    return same;
}

/* 0 when q holds old's outputs, 1 when new's; fails on a mix. */
static int which(const char *q)
{
    int is_old = 0, is_new = 0;
    for (int i = 0; i < N_OUT; i++) {
        char p[8300], po[8300], pn[8300];
        snprintf(p, sizeof p, "%s/%s", q, OUTPUTS[i]);
        snprintf(po, sizeof po, "%s/old/%s", dir, OUTPUTS[i]);
        snprintf(pn, sizeof pn, "%s/new/%s", dir, OUTPUTS[i]);
        int o = i == 1 ? same_qmodel(p, "paper") : same_file(p, po);
        int n = i == 1 ? same_qmodel(p, "all8") : same_file(p, pn);
        if (!o && !n)
            printf("%s: neither old nor new\n", p);
        is_old += o;
        is_new += n;
    }
    ck_assert_msg(is_old == N_OUT || is_new == N_OUT,
                  "%s is a mix: %d outputs old, %d new of %d", q, is_old, is_new, N_OUT);
    return is_new == N_OUT;
}

static void fresh_q(const char *q)
{
    static char cmd[65536], out[256];
    snprintf(cmd, sizeof cmd,
             "rm -rf '%s' '%s'.tmp-* && cp -r '%s/old' '%s' && echo notes > '%s/notes.txt' && "
             "mkdir '%s/sub' && echo kept > '%s/sub/x'",
             q, q, dir, q, q, q, q);
    ck_assert_int_eq(tm_test_run_cmd(cmd, out, sizeof out), 0);
}

static void user_files_kept(const char *q)
{
    char p[8300];
    size_t n = 0;
    snprintf(p, sizeof p, "%s/notes.txt", q);
    char *t = tm_test_slurp(p, &n);
    ck_assert_msg(t && !strcmp(t, "notes\n"), "%s lost", p);
    free(t);
    snprintf(p, sizeof p, "%s/sub/x", q);
    t = tm_test_slurp(p, &n);
    ck_assert_msg(t && !strcmp(t, "kept\n"), "%s lost", p);
    free(t);
}

static int leftovers(const char *q)
{
    char cmd[8400], out[4096];
    snprintf(cmd, sizeof cmd, "ls -d '%s'.tmp-* 2>/dev/null | wc -l", q);
    tm_test_run_cmd(cmd, out, sizeof out);
    return atoi(out);
}

static int quantize(const char *q, const char *fault)
{
    char cmd[16384], out[4096];
    snprintf(cmd, sizeof cmd,
             "%s '%s/tinym2net' quantize '%s/run' --out '%s' --preset all8 --qat-epochs 0 "
             "--calib-batches 4 --quiet >/dev/null 2>&1",
             fault, bd, dir, q);
    return tm_test_run_cmd(cmd, out, sizeof out);
}

START_TEST(rename_fault_each_step)
{
    if (!setup())
        return;
    char q[4200];
    snprintf(q, sizeof q, "%s/q", dir);
    /* renames in order: model.tm2n, qmodel.h5, metrics.json, the folder swap */
    for (int n = 1; n <= 4; n++) {
        fresh_q(q);
        char fault[64];
        snprintf(fault, sizeof fault, "TM_FAULT_RENAME=%d", n);
        ck_assert_msg(quantize(q, fault) != 0, "rename %d was not failed", n);
        ck_assert_msg(which(q) == 0, "rename %d failed but the folder changed", n);
        user_files_kept(q);
        ck_assert_int_eq(leftovers(q), 0);
    }
    /* past the last rename nothing is injected: the folder is wholly new */
    fresh_q(q);
    ck_assert_int_eq(quantize(q, "TM_FAULT_RENAME=5"), 0);
    ck_assert_int_eq(which(q), 1);
    user_files_kept(q);
    ck_assert_int_eq(leftovers(q), 0);
    cleanup();
}
END_TEST

START_TEST(sigkill_during_quantize)
{
    if (!setup())
        return;
    char q[4200], exe[4200], run[4200];
    snprintf(q, sizeof q, "%s/q", dir);
    snprintf(exe, sizeof exe, "%s/tinym2net", bd);
    snprintf(run, sizeof run, "%s/run", dir);
    int seen[2] = {0, 0};
    for (int t = 0; t < 40; t++) {
        fresh_q(q);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr))
                _exit(99);
            execl(exe, exe, "quantize", run, "--out", q, "--preset", "all8", "--qat-epochs",
                  "0", "--calib-batches", "4", "--quiet", (char *)NULL);
            _exit(98);
        }
        /* 0 to 117 ms: the whole run is about 100 ms here */
        struct timespec ts = {0, (long)t * 3000000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int st = 0;
        ck_assert_int_eq(waitpid(pid, &st, 0), pid);
        int w = which(q);
        seen[w]++;
        user_files_kept(q);
        /* the next write recovers the dead run's folder and finishes new */
        ck_assert_int_eq(quantize(q, ""), 0);
        ck_assert_int_eq(which(q), 1);
        user_files_kept(q);
        ck_assert_msg(leftovers(q) == 0, "a dead run's temporary folder is left");
    }
    printf("after SIGKILL: %d wholly old, %d wholly new\n", seen[0], seen[1]);
    ck_assert_int_gt(seen[0], 0);
    cleanup();
}
END_TEST

/* A stage of a dead PID is removed; an old folder swapped out just before a
 * kill gives back the user's files the new folder lacks; a live PID's
 * folder is left alone. */
START_TEST(stale_temporaries)
{
    if (!setup())
        return;
    char q[4200], p[8400], out[256];
    static char cmd[65536];
    snprintf(q, sizeof q, "%s/q", dir);
    fresh_q(q);
    pid_t dead[2];
    for (int i = 0; i < 2; i++) {
        dead[i] = fork();
        if (dead[i] == 0)
            _exit(0);
        ck_assert_int_eq(waitpid(dead[i], NULL, 0), dead[i]);
    }
    snprintf(cmd, sizeof cmd,
             "mkdir '%s.tmp-%d' && touch '%s.tmp-%d/.tm-stage' '%s.tmp-%d/model.tm2n' && "
             "mkdir '%s.tmp-%d' && echo mine > '%s.tmp-%d/lost.txt' && "
             "mkdir '%s.tmp-%d' && touch '%s.tmp-%d/.tm-stage'",
             q, (int)dead[0], q, (int)dead[0], q, (int)dead[0], q, (int)dead[1], q,
             (int)dead[1], q, (int)getpid(), q, (int)getpid());
    ck_assert_int_eq(tm_test_run_cmd(cmd, out, sizeof out), 0);
    ck_assert_int_eq(quantize(q, ""), 0);
    ck_assert_int_eq(which(q), 1);
    struct stat st;
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s.tmp-%d", q, (int)dead[i]);
        ck_assert_msg(stat(p, &st) != 0, "%s was not removed", p);
    }
    snprintf(p, sizeof p, "%s/lost.txt", q);
    ck_assert_msg(stat(p, &st) == 0, "%s was not recovered", p);
    snprintf(p, sizeof p, "%s.tmp-%d", q, (int)getpid());
    ck_assert_msg(stat(p, &st) == 0, "a live process's folder %s was removed", p);
    user_files_kept(q);
    cleanup();
}
END_TEST

/* A checkpoint write removes PATH.tmp.PID of dead processes, not of live ones. */
START_TEST(stale_checkpoint_tmps)
{
    char *d = tm_test_tmpdir("ckpttmp");
    ck_assert_ptr_nonnull(d);
    pid_t dead = fork();
    if (dead == 0)
        _exit(0);
    ck_assert_int_eq(waitpid(dead, NULL, 0), dead);
    char path[4200], pd[4300], pl[4300], po[4300];
    snprintf(path, sizeof path, "%s/c.h5", d);
    snprintf(pd, sizeof pd, "%s.tmp.%d", path, (int)dead);
    snprintf(pl, sizeof pl, "%s.tmp.%d", path, (int)getppid());
    snprintf(po, sizeof po, "%s/other.h5.tmp.%d", d, (int)dead);
    const char *all[] = {pd, pl, po};
    for (int i = 0; i < 3; i++) {
        FILE *f = fopen(all[i], "w");
        ck_assert_ptr_nonnull(f);
        fclose(f);
    }
    tm_ckpt_writer *w = NULL;
    TM_CK(tm_ckpt_create(&w, path));
    TM_CK(tm_ckpt_put_attr_int(w, "x", 1));
    TM_CK(tm_ckpt_commit(w));
    struct stat st;
    ck_assert_msg(stat(pd, &st) != 0, "%s (dead writer) was not removed", pd);
    ck_assert_msg(stat(pl, &st) == 0, "%s (live writer) was removed", pl);
    ck_assert_msg(stat(po, &st) == 0, "%s (another file's) was removed", po);
    char cmd[4300], out[64];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    ck_assert_int_eq(tm_test_run_cmd(cmd, out, sizeof out), 0);
    free(d);
}
END_TEST

/* train onto a full disk: an error exit (not a signal), one line naming the
 * file and the reason, and the files written before it intact. */
START_TEST(train_disk_full)
{
    const char *b = getenv("TM_BUILD_DIR");
    if (!b) {
        printf("skip: TM_BUILD_DIR not set (run through ctest)\n");
        return;
    }
    char *d = tm_test_tmpdir("fullfs");
    ck_assert_ptr_nonnull(d);
    char cmd[16384], out[1 << 14], p[4400];
    snprintf(cmd, sizeof cmd, "mount -t tmpfs -o size=200k tmpfs '%s' 2>&1", d);
    if (tm_test_run_cmd(cmd, out, sizeof out) != 0) {
        printf("skip: cannot mount a small tmpfs: %s\n", out);
        rmdir(d);
        free(d);
        return;
    }
    snprintf(cmd, sizeof cmd,
             "'%s/tinym2net' train '%s/experiments/quickstart.cfg' --set data.train_samples=300 "
             "--set data.val_samples=32 --set data.test_samples=64 --set train.epochs=3 --set "
             "experiment.threads=1 --out '%s/run' --quiet 2>&1 >/dev/null; echo \"rc=$?\"",
             b, tm_test_source_dir(), d);
    tm_test_run_cmd(cmd, out, sizeof out);
    int lines = 0;
    for (const char *c = out; *c; c++)
        lines += *c == '\n';
    snprintf(p, sizeof p, "%s/run/checkpoint.h5", d);
    tm_ckpt_reader *r = NULL;
    tm_status opened = tm_ckpt_open(&r, p);
    if (r)
        tm_ckpt_close(r);
    snprintf(cmd, sizeof cmd, "ls -a '%s/run' | grep -c tmp", d);
    char tmps[64];
    tm_test_run_cmd(cmd, tmps, sizeof tmps);
    snprintf(cmd, sizeof cmd, "umount '%s' && rmdir '%s'", d, d);
    ck_assert_int_eq(tm_test_run_cmd(cmd, tmps + 32, 32), 0);
    free(d);
    ck_assert_msg(strstr(out, "rc=1\n"), "not the error exit code:\n%s", out);
    ck_assert_msg(lines == 2, "not one error line:\n%s", out);
    ck_assert_msg(strstr(out, "No space left on device") && strstr(out, "checkpoint.h5"),
                  "the line does not name the file and the reason:\n%s", out);
    ck_assert_msg(opened == TM_OK, "the earlier checkpoint is not intact");
    ck_assert_msg(atoi(tmps) == 0, "temporary files left");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("faults");
    TCase *tc = tcase_create("quantize_folder");
    tcase_add_test(tc, rename_fault_each_step);
    tcase_add_test(tc, sigkill_during_quantize);
    tcase_add_test(tc, stale_temporaries);
    tcase_add_test(tc, train_disk_full);
    tcase_add_test(tc, stale_checkpoint_tmps);
    suite_add_tcase(s, tc);
    return tm_test_run(s);
}
