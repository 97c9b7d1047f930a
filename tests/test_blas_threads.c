/* OpenBLAS must run on one thread under every command: the project's own
 * pool threads over the batch, and a command that forgot to pin it (quantize
 * did) ran 3.7x slower. ctest starts this program with OPENBLAS_NUM_THREADS=4
 * so the library's own default is not 1 whatever the machine's cores. */
#include <check.h>
#include <stdlib.h>

#include "tm_blas.h"

START_TEST(first_sgemm_pins_openblas_to_one_thread)
{
    if (tm_blas_threads() < 0)
        return; /* this OpenBLAS cannot report its threads */
    const char *env = getenv("OPENBLAS_NUM_THREADS");
    if (env && atoi(env) > 1)
        ck_assert_int_gt(tm_blas_threads(), 1); /* the default before any call */
    float a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8}, c[4] = {0};
    tm_sgemm(0, 0, 2, 2, 2, 1.0f, a, 2, b, 2, 0.0f, c, 2);
    ck_assert_float_eq(c[0], 19.0f);
    ck_assert_float_eq(c[3], 50.0f);
    ck_assert_int_eq(tm_blas_threads(), 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("blas_threads");
    TCase *tc = tcase_create("pin");
    tcase_add_test(tc, first_sgemm_pins_openblas_to_one_thread);
    suite_add_tcase(s, tc);
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
