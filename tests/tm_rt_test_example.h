/* The runtime's example models (runtime/tools/tm_rt_example_model.h) built
 * into a malloc'd copy for the runtime tests. Header-only: the tests that
 * compile the runtime a second time with other flags include it too. */
#ifndef TM_RT_TEST_EXAMPLE_H
#define TM_RT_TEST_EXAMPLE_H

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tm_rt_model.h"
#include "tools/tm_rt_example_model.h"

enum { EX_TWO_BRANCH = 0, EX_CHAIN = 1 };

/* Builds example `which` (weights from seed) with b, which keeps the plan,
 * planned again with flags: TM_RT_FLAG_STREAM streams every conv /
 * depthwise / pool chain (even where that takes more memory, as in these
 * small examples); 0 puts every tensor in the arena. Returns a copy of its *size bytes with pad spare bytes after
 * them. */
static inline uint8_t *tm_rt_test_example_plan(tm_rt_builder *b, int which, uint32_t seed,
                                               size_t pad, uint32_t flags, size_t *size)
{
    static uint32_t buf[TM_RT_EXAMPLE_MAX_BYTES / 4], flat[TM_RT_EXAMPLE_MAX_BYTES / 4];
    *size = 0;
    tm_rt_status s = which == EX_TWO_BRANCH
                         ? tm_rt_example_two_branch(b, buf, sizeof buf, seed, size)
                         : tm_rt_example_chain(b, buf, sizeof buf, seed, size);
    ck_assert_msg(s == TM_RT_OK, "build: %s: %s", tm_rt_status_name(s), tm_rt_builder_error(b));
    ck_assert_msg(b->flags == TM_RT_FLAG_STREAM, "the builder streams by default");
    {
        tm_rt_model m;
        ck_assert_int_eq(tm_rt_model_open(&m, buf, *size), TM_RT_OK);
        tm_rt_builder_from_model(b, &m, flat, sizeof flat);
        b->flags = flags ? flags | TM_RT_BUILDER_FORCE_STREAM : 0;
        s = tm_rt_builder_finish(b, size);
        ck_assert_msg(s == TM_RT_OK, "flat plan: %s: %s", tm_rt_status_name(s),
                      tm_rt_builder_error(b));
        memcpy(buf, flat, *size);
    }
    uint8_t *r = calloc(1, *size + pad);
    ck_assert_ptr_nonnull(r);
    memcpy(r, buf, *size);
    return r;
}

/* The same planned with every tensor in the arena (flags 0), as the tests
 * of the arena plan, scratch and validation of such files expect. */
static inline uint8_t *tm_rt_test_example(tm_rt_builder *b, int which, uint32_t seed, size_t pad,
                                          size_t *size)
{
    return tm_rt_test_example_plan(b, which, seed, pad, 0, size);
}

#endif
