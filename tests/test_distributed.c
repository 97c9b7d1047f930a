/* Data-parallel training (train --distributed): 1, 2 and 3 ranks of mpirun
 * give the weights of one process running the same shards in turn, bit for
 * bit, and a run with a rank killed resumes to the same weights. Exits 77
 * (skip) without MPI in the build, without mpirun, or outside ctest. */
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tm_checkpoint.h"
#include "tm_ops.h"
#include "tm_ranks.h"
#include "tm_test_util.h"
#include "tm_run_folder.h"
#include "tm_train.h"

#define MPIRUN_ARGS "mpirun --oversubscribe --bind-to none "
#define MPIRUN "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 " MPIRUN_ARGS

static char exe[4096];

/* quickstart.cfg, small: 581 samples make a last batch of 5 (2 shards), and
 * balanced class weights and dropout are on; one thread, as results depend on
 * the thread count. */
static void train_args(char *buf, size_t n, const char *out, int epochs, const char *extra)
{
    snprintf(buf, n,
             "'%s' train '%s/experiments/quickstart.cfg' --out '%s' --threads 1 --quiet "
             "--distributed --set data.train_samples=581 --set data.val_samples=64 "
             "--set data.test_samples=64 --set train.epochs=%d "
             "--set train.class_weights=balanced %s 2>&1",
             exe, tm_test_source_dir(), out, epochs, extra);
}

static void run_ok(const char *launcher, const char *args)
{
    char cmd[32768], log[1 << 14];
    snprintf(cmd, sizeof cmd, "%s%s", launcher, args);
    int rc = tm_test_run_cmd(cmd, log, sizeof log);
    ck_assert_msg(rc == 0, "%s failed (%d):\n%s", cmd, rc, log);
}

static tm_model *load_run(const char *dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/model.h5", dir);
    char *text = NULL;
    TM_CK(tm_read_experiment_text(path, &text));
    tm_experiment e;
    TM_CK(tm_experiment_parse(&e, text, path, NULL, 0));
    free(text);
    tm_experiment_set_classes(&e, 8);
    tm_rng r;
    tm_rng_seed(&r, 99);
    tm_model *m = NULL;
    TM_CK(tm_model_build(&m, &e.model, &r));
    TM_CK(tm_model_load_weights(m, path));
    tm_experiment_free(&e);
    return m;
}

/* The index of the first parameter or buffer that differs, or -1. */
static int first_difference(const tm_model *a, const tm_model *b)
{
    ck_assert_int_eq(a->n_params, b->n_params);
    ck_assert_int_eq(a->n_buffers, b->n_buffers);
    for (int i = 0; i < a->n_params; i++)
        if (memcmp(a->params[i].t->data, b->params[i].t->data,
                   a->params[i].t->size * sizeof(float)))
            return i;
    for (int i = 0; i < a->n_buffers; i++)
        if (memcmp(a->buffers[i].t->data, b->buffers[i].t->data,
                   a->buffers[i].t->size * sizeof(float)))
            return a->n_params + i;
    return -1;
}

static void expect_same(const char *ref_dir, const char *dir)
{
    tm_model *a = load_run(ref_dir), *b = load_run(dir);
    int d = first_difference(a, b);
    ck_assert_msg(d < 0, "%s and %s differ first in %s", ref_dir, dir,
                  d < a->n_params ? a->params[d].name : a->buffers[d - a->n_params].name);
    tm_model_free(a);
    tm_model_free(b);
}

static long long checkpoint_epoch(const char *dir)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/checkpoint.h5", dir);
    tm_ckpt_reader *r = NULL;
    long long epoch = -1;
    TM_CK(tm_ckpt_open(&r, path));
    TM_CK(tm_ckpt_get_attr_int(r, "epoch", &epoch));
    tm_ckpt_close(r);
    return epoch;
}

static int log_rows(const char *dir)
{
    char path[4300];
    size_t len;
    snprintf(path, sizeof path, "%s/log.csv", dir);
    char *log = tm_test_slurp(path, &len);
    int rows = 0;
    for (size_t i = 0; i < len; i++)
        rows += log[i] == '\n';
    free(log);
    return rows - 1;
}

/* Shard losses divided by the whole batch's weight sum add up to the
 * batch's loss, and their gradients to its gradient. */
START_TEST(shard_losses_add_up_to_the_batch)
{
    tm_pool *pool = NULL;
    TM_CK(tm_pool_new(&pool, 1));
    tm_rng r;
    tm_rng_seed(&r, 3);
    const int n = 7, k = 4;
    tm_tensor *z = tm_test_tensor(&r, 2, (int[]){n, k}, -2.0f, 2.0f, 1);
    int labels[7] = {0, 3, 1, 1, 2, 0, 3};
    float cw[4] = {0.5f, 2.0f, 1.0f, 1.5f};
    tm_tape t;
    tm_tape_init(&t, pool, 0);
    tm_tensor *loss = NULL;
    TM_CK(tm_softmax_cross_entropy(&t, z, labels, cw, NULL, &loss));
    float whole = loss->data[0];
    TM_CK(tm_tape_backward(&t, loss));
    float gw[28];
    memcpy(gw, z->grad, sizeof gw);
    memset(z->grad, 0, sizeof gw);
    double norm = 0.0;
    for (int i = 0; i < n; i++)
        norm += cw[labels[i]];
    float parts = 0.0f;
    for (int a = 0; a < n; a += 4) {
        int m = n - a < 4 ? n - a : 4;
        tm_tensor *zs = tm_test_tensor(&r, 2, (int[]){m, k}, 0.0f, 1.0f, 1);
        memcpy(zs->data, z->data + a * k, sizeof(float) * (size_t)(m * k));
        tm_tape_reset(&t);
        TM_CK(tm_softmax_cross_entropy_shard(&t, zs, labels + a, cw, norm, NULL, &loss));
        parts += loss->data[0];
        TM_CK(tm_tape_backward(&t, loss));
        for (int i = 0; i < m * k; i++)
            ck_assert_float_eq_tol(zs->grad[i], gw[a * k + i], 1e-6f);
        tm_tensor_free(zs);
    }
    ck_assert_float_eq_tol(parts, whole, 1e-6f);
    tm_tape_reset(&t);
    ck_assert_int_eq(tm_softmax_cross_entropy_shard(&t, z, labels, cw, 0.0, NULL, &loss),
                     TM_ERR_ARG);
    tm_tape_free(&t);
    tm_tensor_free(z);
    tm_pool_free(pool);
}
END_TEST

START_TEST(one_two_three_ranks_give_the_same_weights)
{
    char *dir = tm_test_tmpdir("dist");
    char ref[4200], out[4200], args[16384];
    snprintf(ref, sizeof ref, "%s/alone", dir);
    train_args(args, sizeof args, ref, 3, "");
    run_ok("", args);
    for (int n = 1; n <= 3; n++) {
        char launcher[512];
        snprintf(launcher, sizeof launcher, MPIRUN "-n %d ", n);
        snprintf(out, sizeof out, "%s/ranks%d", dir, n);
        train_args(args, sizeof args, out, 3, "");
        run_ok(launcher, args);
        expect_same(ref, out);
        /* rank 0 alone wrote the log: one row per epoch */
        ck_assert_int_eq(log_rows(out), 3);
    }
    /* 5 shards over 2 ranks: 3 and 2 */
    snprintf(ref, sizeof ref, "%s/alone5", dir);
    train_args(args, sizeof args, ref, 2, "--set train.shards=5");
    run_ok("", args);
    snprintf(out, sizeof out, "%s/ranks2-5", dir);
    train_args(args, sizeof args, out, 2, "--set train.shards=5");
    run_ok(MPIRUN "-n 2 ", args);
    expect_same(ref, out);
    /* and the shard count is part of the result: 6 shards differ from 5 */
    snprintf(out, sizeof out, "%s/alone6", dir);
    train_args(args, sizeof args, out, 2, "");
    run_ok("", args);
    tm_model *a = load_run(ref), *b = load_run(out);
    ck_assert_int_ge(first_difference(a, b), 0);
    tm_model_free(a);
    tm_model_free(b);
    snprintf(args, sizeof args, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(args), 0);
    free(dir);
}
END_TEST

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The process whose environment holds both tag and OMPI_COMM_WORLD_RANK=rank. */
static pid_t find_rank(const char *tag, int rank)
{
    char want[64];
    snprintf(want, sizeof want, "OMPI_COMM_WORLD_RANK=%d", rank);
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    pid_t found = 0;
    struct dirent *de;
    while (!found && (de = readdir(d))) {
        char path[300], env[1 << 16];
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/environ", de->d_name);
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        size_t n = fread(env, 1, sizeof env - 1, f);
        fclose(f);
        int has_tag = 0, has_rank = 0;
        env[n] = '\0';
        for (size_t i = 0; i < n; i += strlen(env + i) + 1) {
            has_tag |= !strcmp(env + i, tag);
            has_rank |= !strcmp(env + i, want);
        }
        if (has_tag && has_rank)
            found = (pid_t)atoi(de->d_name);
    }
    closedir(d);
    return found;
}

/* 8 epochs on 3 ranks, rank 1 killed after the first checkpoint; resumed on 2 ranks with
 * rank 0 killed before its second checkpoint lands; resumed on 3 ranks to the
 * end: the weights of an uninterrupted run. */
START_TEST(killed_ranks_resume_to_the_same_weights)
{
    char *dir = tm_test_tmpdir("dist-kill");
    char ref[4200], out[4200], args[16384], cmd[32768], ck[4300];
    snprintf(ref, sizeof ref, "%s/full", dir);
    train_args(args, sizeof args, ref, 8, "");
    run_ok("", args);

    snprintf(out, sizeof out, "%s/killed", dir);
    train_args(args, sizeof args, out, 8, "");
    char tag[4300];
    snprintf(tag, sizeof tag, "TM_DIST_TEST=%s", dir);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        setenv("TM_DIST_TEST", dir, 1);
        setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
        setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
        snprintf(cmd, sizeof cmd, "exec " MPIRUN_ARGS "-n 3 %s >/dev/null", args);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    snprintf(ck, sizeof ck, "%s/checkpoint.h5", out);
    struct stat st;
    int status;
    for (int i = 0; i < 6000 && stat(ck, &st) != 0; i++) {
        ck_assert_msg(waitpid(pid, &status, WNOHANG) == 0, "mpirun ended before a checkpoint");
        sleep_ms(10);
    }
    pid_t victim = find_rank(tag, 1);
    ck_assert_msg(victim > 0, "rank 1 not found");
    kill(victim, SIGKILL);
    waitpid(pid, &status, 0);
    ck_assert_msg(!WIFEXITED(status) || WEXITSTATUS(status) != 0,
                  "mpirun succeeded with a rank killed");
    snprintf(ck, sizeof ck, "%s/model.h5", out);
    ck_assert_msg(stat(ck, &st) != 0, "the run finished before rank 1 was killed");
    long long first = checkpoint_epoch(out);
    ck_assert_int_ge(first, 1);

    /* TM_FAULT_KILL counts the renames of each process (only rank 0 renames):
     * the resume's trim of log.csv, one checkpoint, then the kill */
    train_args(args, sizeof args, out, 8, "--resume");
    snprintf(cmd, sizeof cmd, "TM_FAULT_KILL=3 " MPIRUN "-n 2 %s", args);
    char log[1 << 14];
    ck_assert_int_ne(tm_test_run_cmd(cmd, log, sizeof log), 0);
    ck_assert_msg(stat(ck, &st) != 0, "the resumed run finished before rank 0 was killed");
    /* it resumed: one more epoch landed before the kill */
    ck_assert_int_eq(checkpoint_epoch(out), first + 1);

    run_ok(MPIRUN "-n 3 ", args);
    expect_same(ref, out);
    ck_assert_int_eq(log_rows(out), 8);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    free(dir);
}
END_TEST

int main(void)
{
    if (!tm_test_mpi_exe(exe, sizeof exe, "tinym2net"))
        return 77;
    Suite *s = suite_create("distributed");
    TCase *tc = tcase_create("distributed");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, shard_losses_add_up_to_the_batch);
    tcase_add_test(tc, one_two_three_ranks_give_the_same_weights);
    tcase_add_test(tc, killed_ranks_resume_to_the_same_weights);
    suite_add_tcase(s, tc);
    return tm_test_run(s);
}
