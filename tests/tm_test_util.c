#include "tm_test_util.h"

#include <stdio.h>
#include <string.h>

const char *tm_test_data_dir(void)
{
    const char *d = getenv("TINYM2NET_DATA");
    return d && *d ? d : NULL;
}

const char *tm_test_source_dir(void)
{
    const char *d = getenv("TM_SOURCE_DIR");
    return d && *d ? d : ".";
}

char *tm_test_tmpdir(const char *tag)
{
    const char *base = getenv("TMPDIR");
    char buf[4096];
    snprintf(buf, sizeof buf, "%s/tm-%s-XXXXXX", base && *base ? base : "/tmp", tag);
    char *d = mkdtemp(buf);
    return d ? strdup(d) : NULL;
}

tm_tensor *tm_test_tensor(tm_rng *r, int ndim, const int *shape, float lo, float hi,
                          int requires_grad)
{
    tm_tensor *t = NULL;
    if (tm_tensor_new(&t, ndim, shape, requires_grad) != TM_OK)
        return NULL;
    for (size_t i = 0; i < t->size; i++)
        t->data[i] = lo + (hi - lo) * tm_rng_uniform(r);
    return t;
}

int tm_test_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
