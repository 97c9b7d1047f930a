/* The memory a model needs is this build's: 15 + align16(arena_bytes) +
 * align16(the largest kernel scratch THIS build's kernels ask for) +
 * workspace_bytes, whatever larger scratch_bytes the file carries (the
 * bound over builds, e.g. a SIMD host's). Runtime + Check only, so the same
 * source also builds as test_rt_scratch_ref with the runtime's SIMD kernels
 * compiled out (tests/CMakeLists.txt), the reference kernels of a Cortex-M4
 * build: there the need is 0. */
#include <check.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tm_rt_isa.h"
#include "tm_rt_kernels.h"
#include "tm_rt_model.h"
#include "tm_rt_stream.h"
#include "tm_rt_test_example.h"
#include "tools/tm_rt_example_model.h"

/* The same test as runtime/tm_rt_isa.h: which kernels this build has. */
#if defined(__SSE2__) || defined(__ARM_NEON)
#define SIMD_KERNELS 1
#else
#define SIMD_KERNELS 0
#endif
#if defined(TM_TEST_REFERENCE_KERNELS) && SIMD_KERNELS
#error "test_rt_scratch_ref must be compiled without SSE2 and NEON macros"
#endif


/* malloc'd, exactly *size bytes. */
static uint8_t *build_example(int which, uint32_t seed, size_t *size)
{
    static tm_rt_builder b;
    return tm_rt_test_example(&b, which, seed, 0, size);
}

static size_t align16(size_t v)
{
    return (v + 15u) & ~(size_t)15u;
}

/* Largest per-op kernel scratch (tm_rt_model_op_scratch_bytes, checked
 * against the tensor shapes in test_model_format.c). */
static size_t kernels_need(const tm_rt_model *m)
{
    size_t need = 0;
    for (uint32_t k = 0; k < m->n_ops; k++) {
        size_t s = tm_rt_model_op_scratch_bytes(&m->ops[k], m->tensors);
        if (!SIMD_KERNELS) /* the reference kernels use no scratch for any kind */
            ck_assert_uint_eq(s, 0);
        need = s > need ? s : need;
    }
    return need;
}

static tm_rt_status set_input(const tm_rt_model *m, void *mem, int i, const float *x)
{
    switch (m->inputs[i].kind) {
    case TM_RT_INPUT_AUDIO: return tm_rt_model_set_audio(m, mem, i, x);
    case TM_RT_INPUT_IMAGE: return tm_rt_model_set_image(m, mem, i, x);
    default: return tm_rt_model_set_features(m, mem, i, x);
    }
}

/* Larger than the extra bound check_larger_bound adds, so a layout that
 * still placed anything after the file's scratch_bytes writes into it. */
#define GUARD 32768

/* Sets the seed's inputs and invokes in a block of exactly
 * tm_rt_model_memory_bytes, followed by guard bytes that must stay
 * untouched; the logits go to out. */
static void run_exact(const tm_rt_model *m, uint32_t seed, int8_t *out)
{
    size_t mb = tm_rt_model_memory_bytes(m);
    /* +15 so the block can start 16-aligned: then no byte of the 15 spare
     * ones is used and a write past the layout lands in the guard. */
    uint8_t *raw = malloc(mb + 15 + GUARD);
    ck_assert_ptr_nonnull(raw);
    uint8_t *mem = (uint8_t *)(((uintptr_t)raw + 15u) & ~(uintptr_t)15u);
    memset(raw, 0x5A, mb + 15 + GUARD);
    float xs[4096];
    size_t offs[TM_RT_MAX_MODEL_INPUTS];
    tm_rt_example_inputs(m, seed, xs, sizeof xs / sizeof xs[0], offs);
    for (uint32_t i = 0; i < m->n_inputs; i++)
        ck_assert_int_eq(set_input(m, mem, (int)i, xs + offs[i]), TM_RT_OK);
    ck_assert_int_eq(tm_rt_model_invoke(m, mem), TM_RT_OK);
    memcpy(out, tm_rt_model_logits(m, mem), m->n_classes);
    /* The aligned block uses mb - 15 bytes: everything from there is spare. */
    for (size_t j = mb - 15; j < mb + GUARD; j++)
        ck_assert_msg(mem[j] == 0x5A, "byte %zu past the %zu-byte layout was written", j,
                      mb - 15);
    free(raw);
}

/* a and b give the same logits on three inputs, each run in exactly its memory. */
static void expect_same_logits(const tm_rt_model *a, const tm_rt_model *b)
{
    for (uint32_t seed = 1; seed <= 3; seed++) {
        int8_t l1[TM_RT_MAX_CLASSES], l2[TM_RT_MAX_CLASSES];
        run_exact(a, seed, l1);
        run_exact(b, seed, l2);
        ck_assert_int_eq(memcmp(l1, l2, a->n_classes), 0);
    }
}

static void check_own_need(int which)
{
    size_t size = 0;
    uint8_t *bytes = build_example(which, 3, &size);
    tm_rt_file_header h;
    memcpy(&h, bytes, sizeof h);
    tm_rt_model m;
    ck_assert_int_eq(tm_rt_model_open(&m, bytes, size), TM_RT_OK);
    size_t need = kernels_need(&m);
    ck_assert_uint_eq(m.scratch_need, need);
    ck_assert_uint_eq(m.scratch_bytes, h.scratch_bytes);
    ck_assert_uint_le(m.scratch_need, m.scratch_bytes);
    ck_assert_uint_eq(tm_rt_model_memory_bytes(&m),
                      15u + align16(h.arena_bytes) + align16(need) + h.workspace_bytes);
    if (SIMD_KERNELS) {
        ck_assert_uint_gt(need, 0);
    } else {
        ck_assert_uint_eq(need, 0);
        ck_assert_uint_eq(tm_rt_model_memory_bytes(&m),
                          15u + align16(h.arena_bytes) + h.workspace_bytes);
    }
    printf("%s kernels, model %d: scratch_bytes %u, need %u, memory %zu\n",
           SIMD_KERNELS ? "SIMD" : "reference", which, m.scratch_bytes, m.scratch_need,
           tm_rt_model_memory_bytes(&m));
    free(bytes);
}

START_TEST(memory_is_arena_own_scratch_and_workspace)
{
    check_own_need(EX_TWO_BRANCH);
    check_own_need(EX_CHAIN);
}
END_TEST

/* A file whose scratch_bytes is larger than this build needs (written by a
 * build with bigger SIMD plans) reserves only this build's need, and runs in
 * that memory with the same logits. */
static void check_larger_bound(int which)
{
    size_t size = 0;
    uint8_t *bytes = build_example(which, 5, &size);
    uint8_t *big = malloc(size);
    ck_assert_ptr_nonnull(big);
    memcpy(big, bytes, size);
    tm_rt_file_header h;
    memcpy(&h, big, sizeof h);
    uint32_t bound = h.scratch_bytes + 26944u;
    memcpy(big + offsetof(tm_rt_file_header, scratch_bytes), &bound, 4);
    uint32_t crc = tm_rt_model_file_crc(big, size);
    memcpy(big + offsetof(tm_rt_file_header, crc32), &crc, 4);

    tm_rt_model m, mb;
    ck_assert_int_eq(tm_rt_model_open(&m, bytes, size), TM_RT_OK);
    ck_assert_int_eq(tm_rt_model_open(&mb, big, size), TM_RT_OK);
    ck_assert_uint_eq(mb.scratch_bytes, bound);
    ck_assert_uint_eq(mb.scratch_need, m.scratch_need);
    ck_assert_uint_eq(tm_rt_model_memory_bytes(&mb), tm_rt_model_memory_bytes(&m));
    expect_same_logits(&m, &mb);
    free(big);
    free(bytes);
}

/* Open keeps the first chains' invoke shapes: planned in one pass in its
 * kept shape, a chain gets the segment the search within invoke_room gives
 * (the order, op and count checked too; builds that widen only). */
static void expect_kept_plans(const tm_rt_model *m)
{
    uint32_t chains = 0;
    for (uint32_t k = 0; k < m->n_ops; k++) {
        tm_rt_segment searched, kept;
        if (m->tensors[m->ops[k].output].arena_offset != TM_RT_STREAMED)
            continue;
        ck_assert_ptr_null(tm_rt_stream_plan(-1, m->ops, m->n_ops, k, m->tensors, m->invoke_room, &searched));
#if defined(TM_RT_STREAM_WIDEN)
        if (chains < TM_RT_KEPT_CHAINS) {
            ck_assert_uint_lt(chains, m->n_kept);
            ck_assert_uint_eq(m->kept[chains].op, k);
            ck_assert_ptr_null(tm_rt_stream_plan_kept(m->ops, m->n_ops, m->tensors, &m->kept[chains], &kept));
            ck_assert(memcmp(&kept, &searched, sizeof kept) == 0);
        }
#else
        (void)kept;
#endif
        chains++;
        k += searched.count - 1;
    }
    ck_assert_uint_gt(chains, 0);
#if defined(TM_RT_STREAM_WIDEN)
    ck_assert_uint_eq(m->n_kept, chains < TM_RT_KEPT_CHAINS ? chains : TM_RT_KEPT_CHAINS);
#else
    ck_assert_uint_eq(m->n_kept, 0);
#endif
}

/* Streamed chains keep their row windows after the kernels' scratch, inside
 * the memory tm_rt_model_memory_bytes asks for: nothing past it is written
 * and the logits are the flat plan's. */
static void check_streamed_fits(int which)
{
    static tm_rt_builder b;
    size_t nf = 0, ns = 0;
    uint8_t *flat = tm_rt_test_example_plan(&b, which, 6, 0, 0, &nf);
    uint8_t *str = tm_rt_test_example_plan(&b, which, 6, 0, TM_RT_FLAG_STREAM, &ns);
    tm_rt_model mf, ms;
    ck_assert_int_eq(tm_rt_model_open(&mf, flat, nf), TM_RT_OK);
    ck_assert_int_eq(tm_rt_model_open(&ms, str, ns), TM_RT_OK);
    ck_assert_uint_eq(ms.flags, TM_RT_FLAG_STREAM);
    ck_assert_uint_gt(ms.scratch_need, 0); /* the windows, on every build */
    ck_assert_uint_le(ms.scratch_need, ms.scratch_bytes);
    expect_kept_plans(&ms);
    expect_same_logits(&mf, &ms);
    free(flat);
    free(str);
}

/* The test models' builder: flags TM_RT_FLAG_STREAM (forced) or 0. */
static uint32_t chain_buf[TM_RT_EXAMPLE_MAX_BYTES / 4];
static tm_rt_builder chain_b;

static tm_rt_builder *chain_start(uint32_t flags)
{
    tm_rt_builder_init(&chain_b, chain_buf, sizeof chain_buf);
    chain_b.flags = flags ? flags | TM_RT_BUILDER_FORCE_STREAM : 0;
    return &chain_b;
}

/* The finished file, malloc'd, *size bytes. */
static uint8_t *chain_finish(size_t *size)
{
    tm_rt_status st = tm_rt_builder_finish(&chain_b, size);
    ck_assert_msg(st == TM_RT_OK, "build: %s: %s", tm_rt_status_name(st),
                  tm_rt_builder_error(&chain_b));
    uint8_t *r = malloc(*size);
    ck_assert_ptr_nonnull(r);
    memcpy(r, chain_buf, *size);
    return r;
}

/* audio 43 MFCC x 15 frames -> conv 3x3 1 -> 8 (8-bit) -> depthwise 3x3 ->
 * pointwise 8 -> 16 (4-bit) -> maxpool 2 -> dense 1 (so the pooled map stays
 * stored to the end, to compare): the streamed chain sets the scratch, so
 * only the workspace's features (2,592 bytes) let an invoke widen it; 43
 * rows, 21 pooled: the last calls of a wide shape are partial. Streamed or
 * flat (flags 0); malloc'd, *size bytes. */
static uint8_t *build_audio_chain(uint32_t flags, size_t *size)
{
    tm_rt_builder *bp = chain_start(flags);
    uint32_t s = 5;
    int32_t x = tm_rt_builder_tensor(bp, 1, 43, 15, 0.03f, 0);
    int32_t c1 = tm_rt_builder_tensor(bp, 8, 43, 15, 0.03f, -128);
    int32_t d1 = tm_rt_builder_tensor(bp, 8, 43, 15, 0.035f, -128);
    int32_t c2 = tm_rt_builder_tensor(bp, 16, 43, 15, 0.04f, -128);
    int32_t p = tm_rt_builder_tensor(bp, 16, 21, 7, 0.04f, -128);
    int32_t out = tm_rt_builder_tensor(bp, 1, 1, 1, 0.1f, 0);
    tm_rt_input_desc in = tm_rt_ex_input("audio", TM_RT_INPUT_AUDIO, x, -4.0f, 3.0f);
    tm_rt_ex_audio_config(&in);
    in.fe.window_length = in.fe.n_fft = 256;
    in.fe.hop_length = 128;
    in.fe.n_mels = 64;
    in.fe.n_mfcc = 43;
    in.fe.num_samples = 2048; /* 1 + (2048 - 256) / 128 = 15 frames */
    tm_rt_builder_input(bp, &in);
    tm_rt_op_desc op = tm_rt_ex_window(TM_RT_OP_CONV, x, c1, 3, 1, 1);
    tm_rt_ex_weights(bp, &s, &op, 8, 9, 8, 0, 0.8);
    tm_rt_builder_op(bp, &op);
    op = tm_rt_ex_window(TM_RT_OP_DEPTHWISE, c1, d1, 3, 1, 1);
    tm_rt_ex_weights(bp, &s, &op, 8, 9, 4, 0, 0.8);
    tm_rt_builder_op(bp, &op);
    op = tm_rt_ex_window(TM_RT_OP_CONV, d1, c2, 1, 1, 0);
    tm_rt_ex_weights(bp, &s, &op, 16, 8, 4, 0, 0.8);
    tm_rt_builder_op(bp, &op);
    op = tm_rt_ex_window(TM_RT_OP_MAXPOOL, c2, p, 2, 2, 0);
    tm_rt_builder_op(bp, &op);
    op = tm_rt_ex_op(TM_RT_OP_DENSE, p, out);
    tm_rt_ex_weights(bp, &s, &op, 1, 16 * 21 * 7, 4, 0, 1.5);
    tm_rt_builder_op(bp, &op);
    tm_rt_builder_class(bp, "a");
    tm_rt_builder_output(bp, out);
    return chain_finish(size);
}

#define AUDIO_POOLED (16 * 21 * 7) /* the chain's stored output, tensor 4 */

/* Sets the audio of seed into mem (memory_bytes of m, 16-aligned) and
 * invokes; the logits go to out, the pooled map to pooled (NULL: not). */
static void run_audio(const tm_rt_model *m, uint8_t *mem, uint32_t seed, int8_t *out,
                      int8_t *pooled)
{
    static float pcm[2048];
    uint32_t r = seed * 2654435761u + 1u;
    for (int i = 0; i < 2048; i++) {
        r = r * 1664525u + 1013904223u;
        pcm[i] = (float)((int32_t)(r >> 8) - (1 << 23)) / (float)(1 << 24);
    }
    ck_assert_int_eq(tm_rt_model_set_audio(m, mem, 0, pcm), TM_RT_OK);
    ck_assert_int_eq(tm_rt_model_invoke(m, mem), TM_RT_OK);
    memcpy(out, tm_rt_model_logits(m, mem), m->n_classes);
    if (pooled) {
        const tm_rt_tensor_desc *t = &m->tensors[4];
        ck_assert_int_eq(t->c * t->h * t->w, AUDIO_POOLED);
        memcpy(pooled, tm_rt_model_tensor(m, mem, 4), AUDIO_POOLED);
    }
}

/* Invoke may widen a chain into the workspace's leading bytes (the audio
 * features, which only set_audio uses) but never past them: the front end's
 * tables and state, after invoke_room, keep every byte; the widened chain
 * gives the flat plan's logits, and a second set_audio after an invoke the
 * first one's. */
START_TEST(invoke_widens_into_the_features_only)
{
    size_t ns = 0, nf = 0;
    uint8_t *str = build_audio_chain(TM_RT_FLAG_STREAM, &ns), *flat = build_audio_chain(0, &nf);
    tm_rt_model m, mf;
    ck_assert_int_eq(tm_rt_model_open(&m, str, ns), TM_RT_OK);
    ck_assert_int_eq(tm_rt_model_open(&mf, flat, nf), TM_RT_OK);
    ck_assert_uint_eq(m.flags, TM_RT_FLAG_STREAM);
    ck_assert_uint_eq(m.invoke_room, align16(m.scratch_need) + align16(4 * 43 * 15));
    tm_rt_segment narrow, wide;
    ck_assert_ptr_null(tm_rt_stream_plan(-1, m.ops, m.n_ops, 0, m.tensors, m.scratch_need, &narrow));
    ck_assert_ptr_null(tm_rt_stream_plan(-1, m.ops, m.n_ops, 0, m.tensors, m.invoke_room, &wide));
    size_t wneed = tm_rt_stream_need(-1, m.ops, m.tensors, &wide);
    ck_assert_uint_le(wneed, m.invoke_room);
    if (SIMD_KERNELS) /* plain C shapes never widen */
        ck_assert_uint_gt(wneed, m.scratch_need);

    size_t mb = tm_rt_model_memory_bytes(&m);
    uint8_t *raw = malloc(mb), *copy = malloc(mb);
    ck_assert_ptr_nonnull(raw);
    ck_assert_ptr_nonnull(copy);
    uint8_t *mem = (uint8_t *)(((uintptr_t)raw + 15u) & ~(uintptr_t)15u);
    memset(raw, 0x5A, mb);
    int8_t l1[TM_RT_MAX_CLASSES], l2[TM_RT_MAX_CLASSES], lf[TM_RT_MAX_CLASSES];
    static int8_t p1[AUDIO_POOLED], pf[AUDIO_POOLED];
    run_audio(&m, mem, 1, l1, p1);
    /* again, now with the tables in place: only the features' bytes and
     * those before them may change in the invoke */
    static float pcm[2048];
    for (int i = 0; i < 2048; i++)
        pcm[i] = (float)sin(0.05 * i) * 0.4f;
    ck_assert_int_eq(tm_rt_model_set_audio(&m, mem, 0, pcm), TM_RT_OK);
    size_t keep = align16(m.arena_bytes) + m.invoke_room, end = mb - 15;
    ck_assert_uint_lt(keep, end);
    memcpy(copy, mem, end);
    ck_assert_int_eq(tm_rt_model_invoke(&m, mem), TM_RT_OK);
    ck_assert_int_eq(memcmp(copy + keep, mem + keep, end - keep), 0);
    if (SIMD_KERNELS) {
        size_t lent = align16(m.arena_bytes) + align16(m.scratch_need);
        ck_assert_int_ne(memcmp(copy + lent, mem + lent, keep - lent), 0);
    }
    run_audio(&m, mem, 1, l2, NULL);
    ck_assert_int_eq(memcmp(l1, l2, m.n_classes), 0);
    free(raw);

    raw = malloc(tm_rt_model_memory_bytes(&mf));
    ck_assert_ptr_nonnull(raw);
    run_audio(&mf, (uint8_t *)(((uintptr_t)raw + 15u) & ~(uintptr_t)15u), 1, lf, pf);
    ck_assert_int_eq(memcmp(l1, lf, m.n_classes), 0);
    ck_assert_int_eq(memcmp(p1, pf, AUDIO_POOLED), 0); /* every bit the chain makes */
    free(raw);
    free(copy);
    free(str);
    free(flat);
}
END_TEST

/* The test models' end: a dense layer of n inputs (bits) from x to the
 * logits out, classes a, b, c; the finished file as chain_finish. */
static uint8_t *chain_dense3(tm_rt_builder *bp, uint32_t *s, int32_t x, int32_t out, int n, int bits,
                             size_t *size)
{
    tm_rt_op_desc op = tm_rt_ex_op(TM_RT_OP_DENSE, x, out);
    tm_rt_ex_weights(bp, s, &op, 3, n, bits, 0, 1.5);
    tm_rt_builder_op(bp, &op);
    tm_rt_builder_class(bp, "a");
    tm_rt_builder_class(bp, "b");
    tm_rt_builder_class(bp, "c");
    tm_rt_builder_output(bp, out);
    return chain_finish(size);
}

/* tm_rt_example_chain_spec built with chain_b: malloc'd, *size bytes. */
static uint8_t *build_chain_spec(const tm_rt_ex_chain_spec *sp, uint32_t flags, size_t *size, int32_t *kept)
{
    tm_rt_status st = tm_rt_example_chain_spec(&chain_b, chain_buf, sizeof chain_buf, sp, flags, size, kept);
    ck_assert_msg(st == TM_RT_OK, "build: %s: %s", tm_rt_status_name(st), tm_rt_builder_error(&chain_b));
    uint8_t *r = malloc(*size);
    ck_assert_ptr_nonnull(r);
    memcpy(r, chain_buf, *size);
    return r;
}

/* Runs m on seed 3's features in exactly its memory and copies tensor t
 * (n bytes at most) to out; the bytes past the layout must stay untouched. */
static size_t run_kept(const uint8_t *bytes, size_t size, int32_t t, int8_t *out, size_t n)
{
    tm_rt_model m;
    ck_assert_int_eq(tm_rt_model_open(&m, bytes, size), TM_RT_OK);
    size_t mb = tm_rt_model_memory_bytes(&m);
    uint8_t *raw = malloc(mb + 15 + GUARD);
    ck_assert_ptr_nonnull(raw);
    uint8_t *mem = (uint8_t *)(((uintptr_t)raw + 15u) & ~(uintptr_t)15u);
    memset(raw, 0x5A, mb + 15 + GUARD);
    static float xs[16384];
    size_t offs[TM_RT_MAX_MODEL_INPUTS];
    tm_rt_example_inputs(&m, 3, xs, sizeof xs / sizeof xs[0], offs);
    ck_assert_int_eq(tm_rt_model_set_features(&m, mem, 0, xs), TM_RT_OK);
    ck_assert_int_eq(tm_rt_model_invoke(&m, mem), TM_RT_OK);
    const tm_rt_tensor_desc *d = &m.tensors[t];
    size_t k = (size_t)d->c * (size_t)d->h * (size_t)d->w;
    ck_assert_uint_le(k, n);
    memcpy(out, tm_rt_model_tensor(&m, mem, t), k);
    for (size_t j = mb - 15; j < mb + GUARD; j++)
        ck_assert_msg(mem[j] == 0x5A, "byte %zu past the %zu-byte layout was written", j, mb - 15);
    free(raw);
    return k;
}

/* Widened chains whose last calls are partial (heights that no rows per
 * call divide) compute the flat plan's bytes in exactly their memory: pools
 * whose window is not their stride, a 1x1 conv first (whose SIMD plan runs a
 * window as one flat row), 1x1 chains, strided convs, depthwise. */
START_TEST(partial_calls_match_the_flat_plan)
{
    static int8_t a[8192], b[8192];
    for (size_t i = 0; i < 2 * TM_RT_EX_CHAIN_SPECS; i++) {
        size_t ns = 0, nf = 0;
        int32_t ks, kf;
        tm_rt_ex_chain_spec sp = tm_rt_ex_chain_specs[i % TM_RT_EX_CHAIN_SPECS];
        sp.head = i < TM_RT_EX_CHAIN_SPECS ? 0 : sp.cin; /* more room: other widths */
        uint8_t *str = build_chain_spec(&sp, TM_RT_FLAG_STREAM, &ns, &ks);
        uint8_t *flat = build_chain_spec(&sp, 0, &nf, &kf);
        size_t n1 = run_kept(str, ns, ks, a, sizeof a), n2 = run_kept(flat, nf, kf, b, sizeof b);
        ck_assert_uint_eq(n1, n2);
        ck_assert_msg(memcmp(a, b, n1) == 0, "chain %zu: streamed and flat bytes differ", i);
        free(str);
        free(flat);
    }
}
END_TEST

START_TEST(streamed_chains_fit_the_memory)
{
    check_streamed_fits(EX_TWO_BRANCH);
    check_streamed_fits(EX_CHAIN);
}
END_TEST

/* features 1x16x16 -> conv 3x3 (8-bit) -> pointwise (4-bit) -> maxpool 2, a
 * chain whose scratch is far below the flat conv 3x3 16 -> 12 after it, so
 * the chain may widen -> global avgpool -> dense 12 -> 3. Streamed (flags
 * TM_RT_FLAG_STREAM) or flat (0); malloc'd, *size bytes. */
static uint8_t *build_small_chain(uint32_t flags, size_t *size)
{
    tm_rt_builder *bp = chain_start(flags);
    uint32_t s = 11;
    int32_t x = tm_rt_builder_tensor(bp, 1, 16, 16, 0.02f, 0);
    int32_t c1 = tm_rt_builder_tensor(bp, 8, 16, 16, 0.03f, -128);
    int32_t c2 = tm_rt_builder_tensor(bp, 16, 16, 16, 0.04f, -128);
    int32_t p = tm_rt_builder_tensor(bp, 16, 8, 8, 0.04f, -128);
    int32_t c3 = tm_rt_builder_tensor(bp, 12, 8, 8, 0.05f, -128);
    int32_t g = tm_rt_builder_tensor(bp, 12, 1, 1, 0.05f, -128);
    int32_t out = tm_rt_builder_tensor(bp, 3, 1, 1, 0.1f, 0);
    tm_rt_input_desc in = tm_rt_ex_input("features", TM_RT_INPUT_FEATURES, x, 0.1f, 2.0f);
    tm_rt_builder_input(bp, &in);
    tm_rt_op_desc op = tm_rt_ex_window(TM_RT_OP_CONV, x, c1, 3, 1, 1);
    tm_rt_ex_weights(bp, &s, &op, 8, 9, 8, 0, 0.8);
    tm_rt_builder_op(bp, &op);
    op = tm_rt_ex_window(TM_RT_OP_CONV, c1, c2, 1, 1, 0);
    tm_rt_ex_weights(bp, &s, &op, 16, 8, 4, 0, 0.8);
    tm_rt_builder_op(bp, &op);
    op = tm_rt_ex_window(TM_RT_OP_MAXPOOL, c2, p, 2, 2, 0);
    tm_rt_builder_op(bp, &op);
    op = tm_rt_ex_window(TM_RT_OP_CONV, p, c3, 3, 1, 1);
    tm_rt_ex_weights(bp, &s, &op, 12, 16 * 9, 8, 0, 0.8);
    tm_rt_builder_op(bp, &op);
    op = tm_rt_ex_op(TM_RT_OP_GLOBALAVGPOOL, c3, g);
    tm_rt_builder_op(bp, &op);
    return chain_dense3(bp, &s, g, out, 12, 8, size);
}

/* The scratch of m on a build of isa with every chain in its narrowest
 * shape (tm_rt_stream_plan within 0 bytes); *wider counts the chains that
 * tm_rt_stream_plan widens within it, each checked to fit. */
static size_t narrowest_need(const tm_rt_model *m, int isa, int *wider)
{
    size_t peak = 0;
    for (int pass = 0; pass < 2; pass++)
        for (uint32_t k = 0; k < m->n_ops; k++) {
            const tm_rt_op_desc *op = &m->ops[k];
            size_t n;
            if (m->tensors[op->output].arena_offset == TM_RT_STREAMED) {
                tm_rt_segment narrow, wide;
                ck_assert_ptr_null(tm_rt_stream_plan(isa, m->ops, m->n_ops, k, m->tensors, 0, &narrow));
                n = tm_rt_stream_need(isa, m->ops, m->tensors, &narrow);
                if (pass == 1) {
                    ck_assert_ptr_null(
                        tm_rt_stream_plan(isa, m->ops, m->n_ops, k, m->tensors, peak, &wide));
                    ck_assert_uint_le(tm_rt_stream_need(isa, m->ops, m->tensors, &wide), peak);
                    *wider += memcmp(&narrow, &wide, sizeof wide) != 0;
                }
                k += narrow.count - 1;
            } else {
                n = isa < 0 ? tm_rt_model_op_scratch_bytes(op, m->tensors)
                            : tm_rt_model_op_scratch_bytes_for(isa, op, m->tensors);
            }
            peak = pass == 0 && n > peak ? n : peak;
        }
    return peak;
}

/* features 1x12x10 -> six chains (conv 3x3 -> depthwise 3x3, 4 to 9
 * channels), each ended by a requantize, which no chain takes in -> dense 3:
 * more chains than open keeps, of different shapes. Streamed (flags
 * TM_RT_FLAG_STREAM) or flat (0); malloc'd, *size bytes. */
static uint8_t *build_six_chains(uint32_t flags, size_t *size)
{
    static const int ch[6] = {4, 8, 5, 9, 6, 7};
    tm_rt_builder *bp = chain_start(flags);
    uint32_t s = 5;
    int32_t x = tm_rt_builder_tensor(bp, 1, 12, 10, 0.03f, 0);
    tm_rt_input_desc in = tm_rt_ex_input("features", TM_RT_INPUT_FEATURES, x, 0.1f, 2.0f);
    tm_rt_builder_input(bp, &in);
    int cin = 1;
    for (int i = 0; i < 6; i++) {
        const float sd = 0.04f;
        int32_t c = tm_rt_builder_tensor(bp, ch[i], 12, 10, 0.03f, -128);
        int32_t d = tm_rt_builder_tensor(bp, ch[i], 12, 10, sd, -128);
        int32_t r = tm_rt_builder_tensor(bp, ch[i], 12, 10, 0.03f, 0);
        tm_rt_op_desc op = tm_rt_ex_window(TM_RT_OP_CONV, x, c, 3, 1, 1);
        tm_rt_ex_weights(bp, &s, &op, ch[i], cin * 9, i & 1 ? 4 : 8, 0, 0.8);
        tm_rt_builder_op(bp, &op);
        op = tm_rt_ex_window(TM_RT_OP_DEPTHWISE, c, d, 3, 1, 1);
        tm_rt_ex_weights(bp, &s, &op, ch[i], 9, 4, 0, 1.0);
        tm_rt_builder_op(bp, &op);
        op = tm_rt_ex_op(TM_RT_OP_REQUANTIZE, d, r);
        tm_rt_ex_rescale(bp, &op, &sd, 1, 0.03f);
        tm_rt_builder_op(bp, &op);
        x = r, cin = ch[i];
    }
    return chain_dense3(bp, &s, x, tm_rt_builder_tensor(bp, 3, 1, 1, 0.1f, 0), cin * 12 * 10, 4, size);
}

/* Open keeps the first TM_RT_KEPT_CHAINS chains' shapes and each invoke
 * finds its chain's (the others searched again): six chains of different
 * shapes give the flat plan's logits. */
START_TEST(more_chains_than_open_keeps)
{
    size_t ns = 0, nf = 0;
    uint8_t *str = build_six_chains(TM_RT_FLAG_STREAM, &ns);
    uint8_t *flat = build_six_chains(0, &nf);
    tm_rt_model ms, mf;
    ck_assert_int_eq(tm_rt_model_open(&ms, str, ns), TM_RT_OK);
    ck_assert_int_eq(tm_rt_model_open(&mf, flat, nf), TM_RT_OK);
    ck_assert_uint_eq(ms.flags, TM_RT_FLAG_STREAM);
    uint32_t chains = 0;
    for (uint32_t k = 0; k < ms.n_ops; k++)
        chains += ms.tensors[ms.ops[k].output].arena_offset == TM_RT_STREAMED &&
                  (k == 0 || ms.tensors[ms.ops[k - 1].output].arena_offset != TM_RT_STREAMED);
    ck_assert_uint_eq(chains, 6);
    ck_assert_uint_gt(chains, TM_RT_KEPT_CHAINS); /* the point: some chains are not kept */
    expect_kept_plans(&ms);
    expect_same_logits(&mf, &ms);
    free(str);
    free(flat);
}
END_TEST

/* A chain takes a wider shape only within the scratch the narrowest shapes
 * need, so no target's RAM grows, and the widened plan computes the flat
 * plan's logits in exactly its memory (with SIMD kernels the small chain
 * widens; the examples' chains set their peaks). */
START_TEST(wider_chains_keep_every_target_ram)
{
    static tm_rt_builder b;
    int wider_here = 0;
    for (int which = 0; which < 3; which++) {
        size_t n = 0;
        uint8_t *bytes = which < 2 ? tm_rt_test_example_plan(&b, which, 6, 0, TM_RT_FLAG_STREAM, &n)
                                   : build_small_chain(TM_RT_FLAG_STREAM, &n);
        tm_rt_model m;
        ck_assert_int_eq(tm_rt_model_open(&m, bytes, n), TM_RT_OK);
        ck_assert_uint_eq(m.flags, TM_RT_FLAG_STREAM);
        for (int isa = -1; isa < TM_RT_ISA_COUNT; isa++) {
            int wider = 0;
            size_t peak = narrowest_need(&m, isa, &wider);
            ck_assert_uint_eq(tm_rt_model_scratch_need_for(isa, m.ops, m.n_ops, m.tensors), peak);
            if (isa < 0) {
                ck_assert_uint_eq(m.scratch_need, peak);
                wider_here += wider;
            }
        }
        expect_kept_plans(&m);
        if (which == 2) {
            size_t nf = 0;
            uint8_t *flat = build_small_chain(0, &nf);
            tm_rt_model mf;
            ck_assert_int_eq(tm_rt_model_open(&mf, flat, nf), TM_RT_OK);
            ck_assert_uint_eq(mf.flags, 0);
            expect_same_logits(&mf, &m);
            free(flat);
        }
        free(bytes);
    }
    if (SIMD_KERNELS)
        ck_assert_int_gt(wider_here, 0);
}
END_TEST

START_TEST(a_larger_file_bound_is_not_reserved)
{
    check_larger_bound(EX_TWO_BRANCH);
    check_larger_bound(EX_CHAIN);
}
END_TEST

/* The file's number stays the bound: a build needing more is refused. */
START_TEST(a_file_bound_below_the_need_is_refused)
{
    size_t size = 0;
    uint8_t *bytes = build_example(EX_TWO_BRANCH, 7, &size);
    tm_rt_model m;
    ck_assert_int_eq(tm_rt_model_open(&m, bytes, size), TM_RT_OK);
    uint32_t need = m.scratch_need;
    if (need > 0) {
        uint32_t less = need - 1;
        memcpy(bytes + offsetof(tm_rt_file_header, scratch_bytes), &less, 4);
        uint32_t crc = tm_rt_model_file_crc(bytes, size);
        memcpy(bytes + offsetof(tm_rt_file_header, crc32), &crc, 4);
        ck_assert_int_eq(tm_rt_model_open(&m, bytes, size), TM_RT_ERR_FORMAT);
#if !defined(TM_RT_NO_MESSAGES)
        ck_assert_msg(strstr(tm_rt_model_error(&m), "needs more kernel scratch than scratch_bytes"),
                      "%s", tm_rt_model_error(&m));
#endif
    } else {
        /* nothing to undercut: a zero bound opens */
        ck_assert_uint_eq(m.scratch_bytes, 0);
        ck_assert_uint_eq(tm_rt_model_memory_bytes(&m),
                          15u + align16(m.arena_bytes) + m.workspace_bytes);
    }
    free(bytes);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rt_scratch");
    TCase *tc = tcase_create("all");
    tcase_add_test(tc, memory_is_arena_own_scratch_and_workspace);
    tcase_add_test(tc, a_larger_file_bound_is_not_reserved);
    tcase_add_test(tc, streamed_chains_fit_the_memory);
    tcase_add_test(tc, invoke_widens_into_the_features_only);
    tcase_add_test(tc, partial_calls_match_the_flat_plan);
    tcase_add_test(tc, more_chains_than_open_keeps);
    tcase_add_test(tc, wider_chains_keep_every_target_ram);
    tcase_add_test(tc, a_file_bound_below_the_need_is_refused);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
