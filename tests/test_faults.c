/* Faults while train, quantize, search and export write their outputs: a
 * failed rename (TM_FAULT_RENAME=N) or SIGKILL (TM_FAULT_KILL=N, and kills at
 * many moments) at every rename must leave the outputs wholly old or wholly
 * new, with the user's files kept; temporaries of dead processes are
 * recovered and removed by the next write. A full disk gives one clear line.
 * Needs no data: the runs come from the synthetic quickstart set. */
#define _GNU_SOURCE /* memmem */
#include <math.h>
#include <signal.h>
#include <stdint.h>
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

/* The build folder, or NULL after saying the test is skipped. */
static const char *build_dir(void)
{
    const char *b = getenv("TM_BUILD_DIR");
    if (!b)
        printf("skip: TM_BUILD_DIR not set (run through ctest)\n");
    return b;
}

/* A fresh folder with a tmpfs of size on it, or NULL after saying why the
 * test is skipped (mounting needs root). */
static char *small_disk(const char *size)
{
    char *d = tm_test_tmpdir("fullfs");
    ck_assert_ptr_nonnull(d);
    char cmd[4400], out[4096];
    snprintf(cmd, sizeof cmd, "mount -t tmpfs -o size=%s tmpfs '%s' 2>&1", size, d);
    if (tm_test_run_cmd(cmd, out, sizeof out) == 0)
        return d;
    printf("skip: cannot mount a small tmpfs: %s\n", out);
    rmdir(d);
    free(d);
    return NULL;
}

static int setup(void)
{
    const char *b = build_dir();
    if (!b)
        return 0;
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
             "--calib-batches 4 --force --quiet >/dev/null 2>&1",
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
                  "0", "--calib-batches", "4", "--force", "--quiet", (char *)NULL);
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
    const char *b = build_dir();
    char *d = b ? small_disk("200k") : NULL;
    if (!d)
        return;
    char cmd[16384], out[1 << 14], p[4400];
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

/* ---- every rename of every writer ---------------------------------------- */

/* A writer's outputs, told old from new: .h5 files by the seed in their
 * experiment text, other files by their bytes against reference copies
 * (lines with "seconds" or "_per_s" left out: timings differ between runs). */
typedef struct {
    const char *name;
    const char *outputs[12];
    const char *old_seed, *new_seed; /* "seed = N" in .h5 experiment text */
    char target[4200], ref_old[4200], ref_new[4200];
    int (*run)(const char *target, const char *env); /* the new write */
    void (*fresh)(const char *target);                /* back to the old outputs */
    void (*recover)(const char *target);              /* the next reader, or NULL */
} writer;

static char *read_text(const char *p)
{
    FILE *f = fopen(p, "rb");
    if (!f)
        return NULL;
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *t = malloc(n + 1), *o = t;
    ck_assert_ptr_nonnull(t);
    for (char *line = buf; *line;) {
        char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line + 1) : strlen(line);
        if (!memmem(line, len, "seconds", 7) && !memmem(line, len, "_per_s", 6)) {
            memcpy(o, line, len);
            o += len;
        }
        line += len;
    }
    *o = '\0';
    return t;
}

static int has_seed(const char *p, const char *seed)
{
    tm_ckpt_reader *r = NULL;
    if (tm_ckpt_open(&r, p) != TM_OK)
        return 0;
    char *v = NULL;
    int yes = tm_ckpt_get_attr_string(r, "experiment", &v) == TM_OK && strstr(v, seed);
    free(v);
    tm_ckpt_close(r);
    return yes;
}

static int same_text(const char *a, const char *b)
{
    char *x = read_text(a), *y = read_text(b);
    int same = x && y && !strcmp(x, y);
    free(x);
    free(y);
    return same;
}

/* 0 when w's target holds the old outputs, 1 when the new; fails on a mix. */
static int state_of(const writer *w)
{
    int n = 0, is_old = 0, is_new = 0;
    for (; w->outputs[n]; n++) {
        const char *o = w->outputs[n];
        char p[8400], po[8400], pn[8400];
        snprintf(p, sizeof p, "%s/%s", w->target, o);
        snprintf(po, sizeof po, "%s/%s", w->ref_old, o);
        snprintf(pn, sizeof pn, "%s/%s", w->ref_new, o);
        int h5 = strlen(o) > 3 && !strcmp(o + strlen(o) - 3, ".h5");
        int a = h5 ? has_seed(p, w->old_seed) : same_text(p, po);
        int b = h5 ? has_seed(p, w->new_seed) : same_text(p, pn);
        if (!a && !b)
            printf("%s %s: neither old nor new\n", w->name, p);
        is_old += a;
        is_new += b;
    }
    ck_assert_msg(is_old == n || is_new == n, "%s: %s is a mix: %d outputs old, %d new of %d",
                  w->name, w->target, is_old, is_new, n);
    return is_new == n && is_old < n;
}

static int leftover_temps(const char *target)
{
    char cmd[8600], out[4096];
    snprintf(cmd, sizeof cmd, "ls -a '%s' '%s/..' | grep -c -e '\\.tmp' -e '\\.prev-' -e "
                              "'\\.commit'",
             target, target);
    tm_test_run_cmd(cmd, out, sizeof out);
    return atoi(out);
}

/* Fails, then kills, the writer at its 1st, 2nd, ... rename until a run gets
 * past the last one. */
static void every_rename(writer *w, int min_renames)
{
    for (int mode = 0; mode < 2; mode++) {
        int n = 1;
        for (;; n++) {
            ck_assert_msg(n < 200, "%s: no end to the renames", w->name);
            w->fresh(w->target);
            char env[64];
            snprintf(env, sizeof env, "%s=%d", mode ? "TM_FAULT_KILL" : "TM_FAULT_RENAME", n);
            int rc = w->run(w->target, env);
            if (rc == 0) {
                ck_assert_msg(state_of(w) == 1, "%s: finished but not wholly new", w->name);
                break;
            }
            if (mode == 0) {
                ck_assert_msg(rc != 137, "%s: died on an injected rename failure", w->name);
                ck_assert_msg(state_of(w) == 0, "%s: rename %d failed but the outputs changed",
                              w->name, n);
            } else {
                ck_assert_msg(rc == 137, "%s: %s did not kill it (exit %d)", w->name, env, rc);
                if (w->recover)
                    w->recover(w->target);
                (void)state_of(w); /* wholly old or wholly new */
                /* the next write recovers and finishes new */
                ck_assert_int_eq(w->run(w->target, ""), 0);
                ck_assert_int_eq(state_of(w), 1);
            }
            user_files_kept(w->target);
            ck_assert_msg(leftover_temps(w->target) == 0, "%s: temporaries left after %s",
                          w->name, env);
        }
        printf("%s: %s at each of %d renames\n", w->name, mode ? "killed" : "failed", n - 1);
        ck_assert_msg(n - 1 >= min_renames, "%s: only %d renames", w->name, n - 1);
    }
}

static char run_err[1 << 14]; /* the last writer run's stderr */

static void add_user_files(const char *t)
{
    static char cmd[16384], out[256];
    snprintf(cmd, sizeof cmd,
             "echo notes > '%s/notes.txt' && mkdir -p '%s/sub' && echo kept > '%s/sub/x'", t, t,
             t);
    ck_assert_int_eq(tm_test_run_cmd(cmd, out, sizeof out), 0);
}

static void copy_fresh(const char *from, const char *t)
{
    static char cmd[16384], out[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'.tmp-* && cp -r '%s' '%s'", t, t, from, t);
    ck_assert_int_eq(tm_test_run_cmd(cmd, out, sizeof out), 0);
    add_user_files(t);
}

static int train_into(const char *t, const char *env, const char *seed)
{
    static char cmd[32768];
    snprintf(cmd, sizeof cmd,
             "%s '%s/tinym2net' train '%s/experiments/quickstart.cfg' --set data.train_samples=200 "
             "--set data.val_samples=32 --set data.test_samples=32 --set train.epochs=2 --set "
             "experiment.threads=1 --set experiment.seed=%s --ablations --force --out '%s' "
             "--quiet 2>&1 >/dev/null",
             env, bd, tm_test_source_dir(), seed, t);
    return tm_test_run_cmd(cmd, run_err, sizeof run_err);
}

static char train_old[4200];
static int train_new(const char *t, const char *env) { return train_into(t, env, "8"); }
static void train_fresh(const char *t) { copy_fresh(train_old, t); }

START_TEST(every_rename_of_train)
{
    if (!setup())
        return;
    writer w = {"train",
                {"model.h5", "metrics.json", "ablation-audio/model.h5",
                 "ablation-audio/metrics.json", "ablation-image/model.h5",
                 "ablation-image/metrics.json", NULL},
                "seed = 7", "seed = 8", "", "", "", train_new, train_fresh, NULL};
    snprintf(train_old, sizeof train_old, "%s/train-old", dir);
    snprintf(w.ref_old, sizeof w.ref_old, "%s", train_old);
    snprintf(w.ref_new, sizeof w.ref_new, "%s/train-new", dir);
    snprintf(w.target, sizeof w.target, "%s/train-t", dir);
    ck_assert_int_eq(train_into(w.ref_old, "", "7"), 0);
    ck_assert_int_eq(train_into(w.ref_new, "", "8"), 0);
    add_user_files(train_old);
    /* per training: 2 checkpoints, best.h5, model.h5; 3 trainings, 3
     * metrics.json and the folder swap */
    every_rename(&w, 10);
    cleanup();
}
END_TEST

static char search_old[4200];
static int search_into(const char *t, const char *env, const char *seed)
{
    static char cmd[32768];
    snprintf(cmd, sizeof cmd,
             "%s '%s/tinym2net' search '%s/run' --out '%s' --budget-bytes 8000 --qat-epochs 0 "
             "--calib-batches 4 --pareto-points 2 --set experiment.seed=%s --force --quiet "
             "2>&1 >/dev/null",
             env, bd, dir, t, seed);
    return tm_test_run_cmd(cmd, run_err, sizeof run_err);
}
static int search_new(const char *t, const char *env) { return search_into(t, env, "12"); }
static void search_fresh(const char *t) { copy_fresh(search_old, t); }

START_TEST(every_rename_of_search)
{
    if (!setup())
        return;
    writer w = {"search",
                {"model.tm2n", "qmodel.h5", "metrics.json", "pareto.csv", "pareto.gp", NULL},
                "seed = 11", "seed = 12", "", "", "", search_new, search_fresh, NULL};
    snprintf(search_old, sizeof search_old, "%s/search-old", dir);
    snprintf(w.ref_old, sizeof w.ref_old, "%s", search_old);
    snprintf(w.ref_new, sizeof w.ref_new, "%s/search-new", dir);
    snprintf(w.target, sizeof w.target, "%s/search-t", dir);
    ck_assert_int_eq(search_into(w.ref_old, "", "11"), 0);
    ck_assert_int_eq(search_into(w.ref_new, "", "12"), 0);
    add_user_files(search_old);
    /* model.tm2n, qmodel.h5, pareto.csv, pareto.gp, metrics.json, the swap */
    every_rename(&w, 6);
    cleanup();
}
END_TEST

/* export: the model in the target folder, its C array in a subfolder. */
static int export_into(const char *t, const char *env, const char *qdir)
{
    static char cmd[32768];
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s/h' && %s '%s/tinym2net' export '%s/%s' -o '%s/m.tm2n' --c-array "
             "'%s/h/m.h' --symbol m --quiet 2>&1 >/dev/null",
             t, env, bd, dir, qdir, t, t);
    return tm_test_run_cmd(cmd, run_err, sizeof run_err);
}
static int export_new(const char *t, const char *env) { return export_into(t, env, "new"); }
static void export_fresh(const char *t)
{
    static char cmd[16384], out[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", t, t);
    ck_assert_int_eq(tm_test_run_cmd(cmd, out, sizeof out), 0);
    ck_assert_int_eq(export_into(t, "", "old"), 0);
    add_user_files(t);
}
/* The next reader: tinym2net-run finishes an interrupted export (its own
 * run fails here, as the call gives it no inputs). */
static void export_recover(const char *t)
{
    static char cmd[16384], out[4096];
    snprintf(cmd, sizeof cmd, "'%s/tinym2net-run' '%s/m.tm2n' --manifest '%s/none.csv' 2>&1", bd, t, t);
    tm_test_run_cmd(cmd, out, sizeof out);
}

START_TEST(every_rename_of_export)
{
    if (!setup())
        return;
    writer w = {"export", {"m.tm2n", "h/m.h", NULL}, "", "", "", "", "",
                export_new, export_fresh, export_recover};
    snprintf(w.ref_old, sizeof w.ref_old, "%s/export-old", dir);
    snprintf(w.ref_new, sizeof w.ref_new, "%s/export-new", dir);
    snprintf(w.target, sizeof w.target, "%s/export-t", dir);
    export_fresh(w.ref_old);
    export_fresh(w.ref_new);
    ck_assert_int_eq(export_into(w.ref_new, "", "new"), 0);
    /* the journal, the model, the C array */
    every_rename(&w, 3);
    cleanup();
}
END_TEST

/* A kill between the two renames: the next tinym2net-run finishes the
 * export (wholly new) and says so. */
START_TEST(export_killed_between_renames)
{
    if (!setup())
        return;
    char t[4200];
    snprintf(t, sizeof t, "%s/ek", dir);
    export_fresh(t);
    /* relative paths, and the reader in another folder than the writer */
    char p[4300], cmd[16384], out[4096];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && TM_FAULT_KILL=3 '%s/tinym2net' export '%s/new' -o m.tm2n --c-array "
             "h/m.h --symbol m --quiet >/dev/null 2>&1",
             t, bd, dir);
    ck_assert_int_eq(tm_test_run_cmd(cmd, out, sizeof out), 137);
    snprintf(p, sizeof p, "%s/m.tm2n.commit", t);
    struct stat st;
    ck_assert_msg(stat(p, &st) == 0, "no journal after a kill between the renames");
    snprintf(cmd, sizeof cmd,
             "cd '%s' && '%s/tinym2net-run' ek/m.tm2n --manifest ek/none.csv 2>&1", dir, bd);
    tm_test_run_cmd(cmd, out, sizeof out);
    ck_assert_msg(strstr(out, "finished an interrupted export"), "%s", out);
    ck_assert_msg(stat(p, &st) != 0, "the journal is left");
    char a[4300], b[4300];
    snprintf(a, sizeof a, "%s/m.tm2n", t);
    snprintf(b, sizeof b, "%s/new/model.tm2n", dir);
    (void)b;
    snprintf(b, sizeof b, "%s/h/m.h", t);
    /* new model and new C array: the array's CRC names the model's bytes */
    size_t nm = 0, nh = 0;
    char *m = tm_test_slurp(a, &nm), *h = tm_test_slurp(b, &nh);
    char want[64];
    snprintf(want, sizeof want, "#define M_LEN %zuu", nm);
    ck_assert_msg(strstr(h, want), "the C array is not of the model file");
    free(m);
    free(h);
    ck_assert_int_eq(leftover_temps(t), 0);
    cleanup();
}
END_TEST

static char quant_old[4200];
static int quantize_into(const char *t, const char *env, const char *seed)
{
    static char cmd[32768];
    snprintf(cmd, sizeof cmd,
             "%s '%s/tinym2net' quantize '%s/run' --out '%s' --preset all8 --qat-epochs 0 "
             "--calib-batches 4 --set experiment.seed=%s --force --quiet 2>&1 >/dev/null",
             env, bd, dir, t, seed);
    return tm_test_run_cmd(cmd, run_err, sizeof run_err);
}
static int quantize_new(const char *t, const char *env) { return quantize_into(t, env, "32"); }
static void quantize_fresh(const char *t) { copy_fresh(quant_old, t); }

START_TEST(every_rename_of_quantize)
{
    if (!setup())
        return;
    writer w = {"quantize", {"model.tm2n", "qmodel.h5", "metrics.json", NULL}, "seed = 31",
                "seed = 32", "", "", "", quantize_new, quantize_fresh, NULL};
    snprintf(quant_old, sizeof quant_old, "%s/quant-old", dir);
    snprintf(w.ref_old, sizeof w.ref_old, "%s", quant_old);
    snprintf(w.ref_new, sizeof w.ref_new, "%s/quant-new", dir);
    snprintf(w.target, sizeof w.target, "%s/quant-t", dir);
    ck_assert_int_eq(quantize_into(w.ref_old, "", "31"), 0);
    ck_assert_int_eq(quantize_into(w.ref_new, "", "32"), 0);
    add_user_files(quant_old);
    /* model.tm2n, qmodel.h5, metrics.json, the swap */
    every_rename(&w, 4);
    cleanup();
}
END_TEST

/* Each writer onto a small tmpfs that holds its old outputs with 8 KiB to
 * spare: an error exit naming the reason, the old outputs intact. */
START_TEST(disk_full_every_writer)
{
    if (!setup())
        return;
    char *d = small_disk("4m");
    if (!d) {
        cleanup();
        return;
    }
    static char cmd[32768], out[1 << 14];
    writer ws[4] = {
        {"quantize", {"model.tm2n", "qmodel.h5", "metrics.json", NULL}, "seed = 31",
         "seed = 32", "", "", "", quantize_new, quantize_fresh, NULL},
        {"search", {"model.tm2n", "qmodel.h5", "metrics.json", "pareto.csv", "pareto.gp", NULL},
         "seed = 11", "seed = 12", "", "", "", search_new, search_fresh, NULL},
        {"train", {"model.h5", "metrics.json", "ablation-audio/metrics.json", NULL}, "seed = 7",
         "seed = 8", "", "", "", train_new, train_fresh, NULL},
        {"export", {"m.tm2n", "h/m.h", NULL}, "", "", "", "", "", export_new, export_fresh,
         export_recover},
    };
    snprintf(quant_old, sizeof quant_old, "%s/quant-old", dir);
    snprintf(search_old, sizeof search_old, "%s/search-old", dir);
    snprintf(train_old, sizeof train_old, "%s/train-old", dir);
    ck_assert_int_eq(quantize_into(quant_old, "", "31"), 0);
    ck_assert_int_eq(search_into(search_old, "", "11"), 0);
    ck_assert_int_eq(train_into(train_old, "", "7"), 0);
    const char *olds[4] = {quant_old, search_old, train_old, NULL};
    for (int i = 0; i < 4; i++) {
        writer *w = &ws[i];
        snprintf(w->target, sizeof w->target, "%s/t", d);
        if (olds[i])
            snprintf(w->ref_old, sizeof w->ref_old, "%s", olds[i]);
        else
            snprintf(w->ref_old, sizeof w->ref_old, "%s/export-old", dir);
        if (!olds[i])
            export_fresh(w->ref_old);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'/* '%s'/.[!.]*", d, d);
        tm_test_run_cmd(cmd, out, sizeof out);
        w->fresh(w->target);
        ck_assert_int_eq(state_of(w), 0);
        /* fill the disk, then give back 8 KiB */
        snprintf(cmd, sizeof cmd,
                 "dd if=/dev/zero of='%s/fill' bs=4k 2>/dev/null; truncate -s -8k '%s/fill'", d,
                 d);
        tm_test_run_cmd(cmd, out, sizeof out);
        int rc = w->run(w->target, "");
        ck_assert_msg(rc == 1, "%s onto a full disk: exit %d, not the error exit", w->name, rc);
        ck_assert_msg(strstr(run_err, "No space left on device") &&
                          strchr(run_err, '\n') == run_err + strlen(run_err) - 1,
                      "%s onto a full disk: not one line with the reason:\n%s", w->name, run_err);
        ck_assert_msg(state_of(w) == 0, "%s onto a full disk changed the outputs", w->name);
        user_files_kept(w->target);
        snprintf(cmd, sizeof cmd, "rm -f '%s/fill'", d);
        tm_test_run_cmd(cmd, out, sizeof out);
        ck_assert_msg(leftover_temps(w->target) == 0, "%s: temporaries left on a full disk",
                      w->name);
        /* with room again the same write succeeds */
        snprintf(w->ref_new, sizeof w->ref_new, "%s", w->target);
        ck_assert_int_eq(w->run(w->target, ""), 0);
        printf("%s onto a full disk: error exit, old outputs intact\n", w->name);
    }
    snprintf(cmd, sizeof cmd, "umount '%s' && rmdir '%s'", d, d);
    ck_assert_int_eq(tm_test_run_cmd(cmd, out, sizeof out), 0);
    free(d);
    cleanup();
}
END_TEST

/* ---- trainings sharing one feature cache --------------------------------- */

/* Three trainings start at once on one empty cache, then a fourth: all give
 * the same results, the cache is one complete file the fourth trusts (not
 * rewritten), and no temporary is left. */
START_TEST(trainings_share_one_cache)
{
    const char *b = build_dir();
    if (!b)
        return;
    char *d = tm_test_tmpdir("sharedcache");
    ck_assert_ptr_nonnull(d);
    char p[4400];
    snprintf(p, sizeof p, "%s/train.csv", d);
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "image,audio,label\n");
    enum { ROWS = 240, SAMPLES = 4000 };
    static short pcm[SAMPLES];
    for (int i = 0; i < ROWS; i++) {
        int cls = i % 3;
        uint8_t px[144];
        for (int k = 0; k < 144; k++)
            px[k] = (uint8_t)((k % 12 < 4 * (cls + 1) ? 180 : 30) + (k * 13 + i * 7) % 40);
        for (int k = 0; k < SAMPLES; k++)
            pcm[k] = (short)(8000.0 * sin(0.05 * (cls + 1) * k + i) + (k * 31 + i) % 500);
        char img[4500], wav[4500];
        snprintf(img, sizeof img, "%s/i%d.png", d, i);
        snprintf(wav, sizeof wav, "%s/a%d.wav", d, i);
        tm_test_write_png(img, px, 12, 12);
        tm_test_write_wav(wav, pcm, SAMPLES, 8000);
        fprintf(f, "i%d.png,a%d.wav,c%d\n", i, i, cls);
    }
    ck_assert_int_eq(fclose(f), 0);
    char cfg[4400];
    snprintf(cfg, sizeof cfg, "%s/exp.cfg", d);
    f = fopen(cfg, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "[experiment]\nname = shared\nseed = 3\nthreads = 1\n\n"
            "[data]\nsource = manifest\nroot = %s\ntrain = train.csv\nval_fraction = 0.2\n"
            "test_fraction = 0.2\nlabel_column = label\ncache = %s/cache\n\n"
            "[train]\nepochs = 2\nbatch_size = 16\noptimizer = adam\nlr = 0.01\n\n"
            "[image]\ninput = 1x12x12\nfeature = image\ncolumn = image\n\n"
            "[image.c1]\ntype = conv\nfilters = 4\nsize = 3\npadding = same\n"
            "activation = relu\n\n[image.flat]\ntype = flatten\n\n"
            "[audio]\ninput = 1x13x30\nfeature = mfcc\ncolumn = audio\nsample_rate = 8000\n"
            "duration = 0.5\nwindow = 256\nhop = 128\nmels = 20\ncoefficients = 13\n"
            "standardize = 1\n\n"
            "[audio.c1]\ntype = conv\nfilters = 4\nsize = 3\npadding = same\n"
            "activation = relu\n\n[audio.flat]\ntype = flatten\n\n"
            "[fusion]\ntype = concat\n\n[head.out]\ntype = dense\nunits = classes\n",
            d, d);
    ck_assert_int_eq(fclose(f), 0);

    char exe[4400];
    snprintf(exe, sizeof exe, "%s/tinym2net", b);
    pid_t pid[3];
    for (int i = 0; i < 3; i++) {
        char out[4400];
        snprintf(out, sizeof out, "%s/r%d", d, i);
        pid[i] = fork();
        ck_assert_int_ge(pid[i], 0);
        if (pid[i] == 0) {
            if (!freopen("/dev/null", "w", stdout))
                _exit(99);
            execl(exe, exe, "train", cfg, "--out", out, "--quiet", (char *)NULL);
            _exit(98);
        }
    }
    for (int i = 0; i < 3; i++) {
        int st = 0;
        ck_assert_int_eq(waitpid(pid[i], &st, 0), pid[i]);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "training %d failed (%d)", i, st);
    }
    char cmd[9000], out[4096];
    snprintf(cmd, sizeof cmd, "ls -a '%s/cache' | grep -v '^\\.\\.\\?$'", d);
    tm_test_run_cmd(cmd, out, sizeof out);
    ck_assert_msg(strchr(out, '\n') == out + strlen(out) - 1 && strstr(out, ".h5\n"),
                  "the cache is not one file:\n%s", out);
    out[strlen(out) - 1] = '\0';
    char cache[8500];
    snprintf(cache, sizeof cache, "%s/cache/%s", d, out);
    struct stat before, after;
    ck_assert_int_eq(stat(cache, &before), 0);
    snprintf(cmd, sizeof cmd, "'%s' train '%s' --out '%s/r3' --quiet >/dev/null 2>&1", exe, cfg,
             d);
    ck_assert_int_eq(tm_test_run_cmd(cmd, out, sizeof out), 0);
    ck_assert_int_eq(stat(cache, &after), 0);
    ck_assert_msg(before.st_ino == after.st_ino && before.st_mtime == after.st_mtime,
                  "the fourth training rebuilt the cache instead of trusting it");
    char a[4500], r[4500];
    snprintf(a, sizeof a, "%s/r3/metrics.json", d);
    for (int i = 0; i < 3; i++) {
        snprintf(r, sizeof r, "%s/r%d/metrics.json", d, i);
        ck_assert_msg(same_text(a, r), "training %d's results differ from the fourth's", i);
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    ck_assert_int_eq(tm_test_run_cmd(cmd, out, sizeof out), 0);
    free(d);
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
    TCase *tw = tcase_create("every_rename");
    tcase_set_timeout(tw, 600);
    tcase_add_test(tw, every_rename_of_train);
    tcase_add_test(tw, every_rename_of_search);
    tcase_add_test(tw, every_rename_of_export);
    tcase_add_test(tw, every_rename_of_quantize);
    tcase_add_test(tw, export_killed_between_renames);
    tcase_add_test(tw, disk_full_every_writer);
    tcase_add_test(tw, trainings_share_one_cache);
    suite_add_tcase(s, tw);
    return tm_test_run(s);
}
