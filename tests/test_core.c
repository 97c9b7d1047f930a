#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tm_arena.h"
#include "tm_fs.h"
#include "tm_rng.h"
#include "tm_suggest.h"
#include "tm_tape.h"
#include "tm_test_util.h"
#include "tm_threads.h"

START_TEST(rng_is_deterministic_and_restorable)
{
    tm_rng a, b;
    tm_rng_seed(&a, 7);
    tm_rng_seed(&b, 7);
    for (int i = 0; i < 100; i++)
        ck_assert_uint_eq(tm_rng_u32(&a), tm_rng_u32(&b));
    tm_rng saved = a;
    uint32_t next = tm_rng_u32(&a);
    ck_assert_uint_eq(tm_rng_u32(&saved), next);
    tm_rng_seed(&b, 8);
    ck_assert_uint_ne(tm_rng_u32(&a), tm_rng_u32(&b));
}
END_TEST

START_TEST(rng_normal_has_unit_moments)
{
    tm_rng r;
    tm_rng_seed(&r, 1);
    double s = 0, s2 = 0;
    int n = 200000;
    for (int i = 0; i < n; i++) {
        double v = tm_rng_normal(&r);
        s += v;
        s2 += v * v;
    }
    ck_assert_double_lt(fabs(s / n), 0.01);
    ck_assert_double_lt(fabs(s2 / n - 1.0), 0.02);
}
END_TEST

START_TEST(shuffle_is_a_permutation)
{
    tm_rng r;
    tm_rng_seed(&r, 3);
    int idx[50], seen[50] = {0};
    for (int i = 0; i < 50; i++)
        idx[i] = i;
    tm_rng_shuffle(&r, idx, 50);
    int moved = 0;
    for (int i = 0; i < 50; i++) {
        seen[idx[i]]++;
        moved += idx[i] != i;
    }
    for (int i = 0; i < 50; i++)
        ck_assert_int_eq(seen[i], 1);
    ck_assert_int_gt(moved, 10);
}
END_TEST

START_TEST(tensor_rejects_bad_shapes)
{
    tm_tensor *t = NULL;
    int bad[2] = {3, 0};
    ck_assert_int_eq(tm_tensor_new(&t, 2, bad, 0), TM_ERR_SHAPE);
    ck_assert_ptr_null(t);
    ck_assert_ptr_nonnull(strstr(tm_last_error(), "dimension 1"));
    int ok[3] = {2, 3, 4};
    TM_CK(tm_tensor_new(&t, 3, ok, 1));
    ck_assert_uint_eq(t->size, 24);
    ck_assert_uint_eq(tm_tensor_stride(t, 0), 12);
    ck_assert_uint_eq(tm_tensor_stride(t, 2), 1);
    char buf[32];
    ck_assert_str_eq(tm_shape_str(3, ok, buf, sizeof buf), "2x3x4");
    tm_tensor_free(t);
}
END_TEST

START_TEST(check_finite_names_the_element)
{
    float x[4] = {1, 2, NAN, 4};
    ck_assert_int_eq(tm_check_finite(x, 4, "loss"), TM_ERR_NUMERIC);
    ck_assert_ptr_nonnull(strstr(tm_last_error(), "loss: NaN at element 2"));
}
END_TEST

START_TEST(arena_reuses_memory_after_reset)
{
    tm_arena a;
    tm_arena_init(&a, 1024);
    for (int i = 0; i < 10; i++)
        ck_assert_ptr_nonnull(tm_arena_alloc(&a, 1000));
    size_t hw = a.high_water;
    tm_arena_reset(&a);
    void *p = tm_arena_alloc(&a, 1000);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq((uintptr_t)p % 64, 0);
    for (int i = 0; i < 9; i++)
        tm_arena_alloc(&a, 1000);
    void *first = a.blocks;
    tm_arena_reset(&a);
    /* after growing to one block, a reset keeps that same block */
    ck_assert_ptr_eq(a.blocks, first);
    ck_assert_uint_ge(a.block_size, hw);
    tm_arena_free(&a);
}
END_TEST

typedef struct {
    int counts[1000];
    int workers[1000];
} pool_arg;

static void mark(void *v, int b, int e, int w)
{
    pool_arg *a = v;
    for (int i = b; i < e; i++) {
        a->counts[i]++;
        a->workers[i] = w;
    }
}

START_TEST(pool_covers_every_task_once_with_static_split)
{
    tm_pool *p = NULL;
    TM_CK(tm_pool_new(&p, 3));
    ck_assert_int_eq(tm_pool_size(p), 3);
    for (int rep = 0; rep < 50; rep++) {
        pool_arg a;
        memset(&a, 0, sizeof a);
        tm_pool_run(p, 1000, mark, &a);
        for (int i = 0; i < 1000; i++) {
            ck_assert_int_eq(a.counts[i], 1);
            ck_assert_int_eq(a.workers[i], i < 334 ? 0 : (i < 667 ? 1 : 2));
        }
    }
    tm_pool_free(p);
}
END_TEST

typedef struct {
    int rep;
    int seen[64];
} stamp_arg;

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static void stamp(void *v, int b, int e, int w)
{
    (void)w;
    stamp_arg *a = v;
    for (int i = b; i < e; i++)
        a->seen[i] = a->rep;
}

/* Back-to-back calls meet spinning workers; calls after a pause longer than
 * the pool's spin meet sleeping ones. Each call must return only once every
 * task of that call ran, and a lost wake-up would hang the test. */
START_TEST(pool_hands_off_to_spinning_and_sleeping_workers)
{
    for (int threads = 2; threads <= 3; threads++) {
        tm_pool *p = NULL;
        TM_CK(tm_pool_new(&p, threads));
        stamp_arg a;
        memset(&a, 0, sizeof a);
        for (a.rep = 1; a.rep <= 4000; a.rep++) {
            if (a.rep % 200 == 0)
                sleep_us(300); /* past the spin: workers block on the condvar */
            tm_pool_run(p, 64, stamp, &a);
            for (int i = 0; i < 64; i++)
                ck_assert_int_eq(a.seen[i], a.rep);
        }
        tm_pool_free(p); /* right after a call: workers are still spinning */
        TM_CK(tm_pool_new(&p, threads));
        sleep_us(2000); /* workers asleep before the first call and before free */
        a.rep = 1;
        tm_pool_run(p, 64, stamp, &a);
        for (int i = 0; i < 64; i++)
            ck_assert_int_eq(a.seen[i], 1);
        sleep_us(2000);
        tm_pool_free(p);
    }
}
END_TEST

START_TEST(edit_distance_and_suggestions)
{
    ck_assert_int_eq(tm_edit_distance("kitten", "sitting"), 3);
    ck_assert_int_eq(tm_edit_distance("epochs", "epcohs"), 1); /* a swap */
    ck_assert_int_eq(tm_edit_distance("LR", "lr"), 0);
    ck_assert_int_eq(tm_edit_distance("", "abc"), 3);
    const char *c[] = {"--out", "--preset", "--qat-epochs", "--calib-batches"};
    ck_assert_str_eq(tm_suggest("--ot", c, 4), "--out");
    ck_assert_str_eq(tm_suggest("--calib", c, 4), "--calib-batches"); /* a prefix */
    ck_assert_ptr_null(tm_suggest("--out", c, 4));                    /* not a typo */
    ck_assert_ptr_null(tm_suggest("--zzzzzz", c, 4));
    char buf[32];
    ck_assert_str_eq(tm_suggest_in_list("epoch", "epochs, batch_size, lr", buf, sizeof buf),
                     "epochs");
    ck_assert_ptr_null(tm_suggest_in_list("learning_rate", "epochs, batch_size, lr", buf,
                                          sizeof buf));
}
END_TEST

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int exists(const char *p)
{
    struct stat st;
    return lstat(p, &st) == 0;
}

START_TEST(mkdirs_and_atomic_files)
{
    char *dir = tm_test_tmpdir("fs");
    ck_assert_ptr_nonnull(dir);
    char p[4200], f[4200], tmp[4300];
    snprintf(p, sizeof p, "%s/a/b/c", dir);
    TM_CK(tm_mkdirs(p));
    ck_assert(is_dir(p));
    TM_CK(tm_mkdirs(p)); /* already there */
    snprintf(f, sizeof f, "%s/a/file", dir);
    TM_CK(tm_atomic_write(f, "old", 3));
    ck_assert_int_eq(tm_mkdirs(f), TM_ERR_IO);
    ck_assert_ptr_nonnull(strstr(tm_last_error(), "not a folder"));
    snprintf(p, sizeof p, "%s/a/file/x", dir);
    ck_assert_int_eq(tm_mkdirs(p), TM_ERR_IO);
    ck_assert_int_eq(tm_mkdirs(""), TM_ERR_ARG);

    /* a failed write leaves the old file and no temporary */
    tm_atomic_file a;
    TM_CK(tm_atomic_open(&a, f, "w"));
    snprintf(tmp, sizeof tmp, "%s", a.tmp);
    ck_assert(exists(tmp));
    fputs("new, half written", a.f);
    ck_assert_int_eq(tm_atomic_close(&a, tm_error(TM_ERR_IO, "injected")), TM_ERR_IO);
    ck_assert(!exists(tmp));
    size_t n = 0;
    char *got = tm_test_slurp(f, &n);
    ck_assert_uint_eq(n, 3);
    ck_assert_mem_eq(got, "old", 3);
    free(got);
    TM_CK(tm_atomic_open(&a, f, "w"));
    fputs("new", a.f);
    TM_CK(tm_atomic_close(&a, TM_OK));
    ck_assert(!exists(tmp));
    got = tm_test_slurp(f, &n);
    ck_assert_uint_eq(n, 3);
    ck_assert_mem_eq(got, "new", 3);
    free(got);
    snprintf(p, sizeof p, "%s/no/such/folder/x", dir);
    ck_assert_int_eq(tm_atomic_write(p, "x", 1), TM_ERR_IO);

    /* a dead writer's temporaries go, a live one's stay */
    pid_t dead = fork();
    if (dead == 0)
        _exit(0);
    waitpid(dead, NULL, 0);
    char d1[4300], d2[4300], live[4300], other[4300];
    snprintf(d1, sizeof d1, "%s.tmp-%d", f, (int)dead);
    snprintf(d2, sizeof d2, "%s.prev-%d", f, (int)dead);
    snprintf(live, sizeof live, "%s.tmp-%d", f, (int)getpid());
    snprintf(other, sizeof other, "%s/a/filex.tmp-%d", dir, (int)dead);
    const char *make[] = {d1, d2, live, other};
    for (int i = 0; i < 4; i++)
        TM_CK(tm_atomic_write(make[i], "t", 1));
    static const char *const seps[] = {".tmp-", NULL};
    tm_fs_remove_stale(f, seps);
    ck_assert(!exists(d1));
    ck_assert(exists(d2) && exists(live) && exists(other));
    free(dir);
}
END_TEST

Suite *core_suite(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, rng_is_deterministic_and_restorable);
    tcase_add_test(tc, rng_normal_has_unit_moments);
    tcase_add_test(tc, shuffle_is_a_permutation);
    tcase_add_test(tc, tensor_rejects_bad_shapes);
    tcase_add_test(tc, check_finite_names_the_element);
    tcase_add_test(tc, arena_reuses_memory_after_reset);
    tcase_add_test(tc, pool_covers_every_task_once_with_static_split);
    tcase_add_test(tc, pool_hands_off_to_spinning_and_sleeping_workers);
    tcase_add_test(tc, edit_distance_and_suggestions);
    tcase_add_test(tc, mkdirs_and_atomic_files);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return tm_test_run(core_suite()); }
