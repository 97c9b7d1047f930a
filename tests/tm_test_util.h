/* Shared helpers for the Check test programs. */
#ifndef TM_TEST_UTIL_H
#define TM_TEST_UTIL_H

#include <check.h>
#include <stdlib.h>

#include "tm_rng.h"
#include "tm_status.h"
#include "tm_tensor.h"

/* TINYM2NET_DATA (the shared data folder), or NULL when unset. */
const char *tm_test_data_dir(void);
/* Root of the source tree (TM_SOURCE_DIR, set by ctest), or "." */
const char *tm_test_source_dir(void);
/* Fresh empty directory under $TMPDIR; the caller frees the string. */
char *tm_test_tmpdir(const char *tag);
/* Heap tensor filled with uniform values in [lo, hi). */
tm_tensor *tm_test_tensor(tm_rng *r, int ndim, const int *shape, float lo, float hi,
                          int requires_grad);
/* Runs the suite with Check's default runner; exit status for main(). */
int tm_test_run(Suite *s);

/* Fails the test with the library's message when a call is not TM_OK. */
#define TM_CK(expr)                                                                     \
    do {                                                                                \
        tm_status ck_s_ = (expr);                                                       \
        ck_assert_msg(ck_s_ == TM_OK, "%s -> %s: %s", #expr, tm_status_name(ck_s_),     \
                      tm_last_error());                                                 \
    } while (0)

#endif
