/* Runtime self-test, C99, runtime + libc only: builds the example models
 * with the builder, runs them, prints their logits; then runs the
 * dispatched integer kernels against the plain C references on random
 * shapes. stdout is the same on every target (cross.sh diffs x86-64 and
 * aarch64); the SIMD path in use goes to stderr. Exit status 1 on a kernel
 * mismatch or any runtime error.
 *
 *   rt_selftest                      the self-test
 *   rt_selftest --write-models DIR   writes the example model files (the
 *                                    fuzzing seed corpus) and exits */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tm_rt_example_model.h"
#include "tm_rt_kernels.h"
#include "tm_rt_model.h"

static tm_rt_builder builder;
static uint32_t file_buf[TM_RT_EXAMPLE_MAX_BYTES / 4];
static uint8_t mem_buf[1 << 16];

static uint32_t fnv(uint32_t h, const void *p, size_t n)
{
    const uint8_t *b = (const uint8_t *)p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 16777619u;
    return h;
}

static tm_rt_status build(int which, uint32_t seed, size_t *size)
{
    return which == 0 ? tm_rt_example_two_branch(&builder, file_buf, sizeof file_buf, seed, size)
                      : tm_rt_example_chain(&builder, file_buf, sizeof file_buf, seed, size);
}

/* The same with every conv / depthwise / pool chain streamed (forced: in
 * these small examples it saves no memory), so each target runs its
 * kernels on row windows too. */
static tm_rt_status build_streamed(int which, uint32_t seed, size_t *size)
{
    static uint32_t plain[TM_RT_EXAMPLE_MAX_BYTES / 4];
    tm_rt_model m;
    tm_rt_status s = build(which, seed, size);
    if (s == TM_RT_OK) {
        memcpy(plain, file_buf, *size);
        s = tm_rt_model_open(&m, plain, *size);
    }
    if (s != TM_RT_OK)
        return s;
    tm_rt_builder_from_model(&builder, &m, file_buf, sizeof file_buf);
    builder.flags = TM_RT_FLAG_STREAM | TM_RT_BUILDER_FORCE_STREAM;
    return tm_rt_builder_finish(&builder, size);
}

static int run_models(void)
{
    static const char *names[4] = {"two_branch", "chain", "two_branch_streamed",
                                   "chain_streamed"};
    for (int which = 0; which < 4; which++) {
        size_t size = 0;
        tm_rt_status s = which < 2 ? build(which, 11, &size) : build_streamed(which - 2, 11, &size);
        tm_rt_model m;
        if (s == TM_RT_OK)
            s = tm_rt_model_open(&m, file_buf, size);
        if (s != TM_RT_OK) {
            printf("model %s: %s: %s\n", names[which], tm_rt_status_name(s),
                   builder.status != TM_RT_OK ? tm_rt_builder_error(&builder)
                                              : tm_rt_model_error(&m));
            return 1;
        }
        if (tm_rt_model_memory_bytes(&m) > sizeof mem_buf) {
            printf("model %s: needs %lu bytes of memory\n", names[which],
                   (unsigned long)tm_rt_model_memory_bytes(&m));
            return 1;
        }
        printf("model %s: file %lu bytes, crc32 %08lx, arena %lu, scratch %lu, workspace %lu\n",
               names[which], (unsigned long)size,
               (unsigned long)tm_rt_crc32(file_buf, size), (unsigned long)m.arena_bytes,
               (unsigned long)m.scratch_bytes, (unsigned long)m.workspace_bytes);
        for (uint32_t seed = 1; seed <= 6; seed++) {
            float xs[1024];
            size_t offs[TM_RT_MAX_MODEL_INPUTS];
            uint32_t in_hash = 2166136261u, feat_hash = 2166136261u;
            tm_rt_example_inputs(&m, seed, xs, sizeof xs / sizeof xs[0], offs);
            for (uint32_t i = 0; i < m.n_inputs; i++) {
                const float *x = xs + offs[i];
                int kind = m.inputs[i].kind;
                s = kind == TM_RT_INPUT_AUDIO   ? tm_rt_model_set_audio(&m, mem_buf, (int)i, x)
                    : kind == TM_RT_INPUT_IMAGE ? tm_rt_model_set_image(&m, mem_buf, (int)i, x)
                                                : tm_rt_model_set_features(&m, mem_buf, (int)i, x);
                if (s != TM_RT_OK) {
                    printf("model %s input %u: %s\n", names[which], i, tm_rt_status_name(s));
                    return 1;
                }
                if (kind == TM_RT_INPUT_AUDIO) {
                    /* The float features themselves, bit for bit: the
                     * front end must agree across targets before any
                     * quantisation hides a difference. */
                    const tm_rt_input_desc *d = &m.inputs[i];
                    tm_rt_frontend_config c = d->fe;
                    static uint8_t ws[1 << 15];
                    static float feat[4096];
                    tm_rt_frontend fe;
                    if (tm_rt_frontend_workspace_bytes(&c) > sizeof ws ||
                        tm_rt_frontend_output_size(&c) > 4096 ||
                        tm_rt_frontend_init(&fe, &c, ws, sizeof ws) != TM_RT_OK ||
                        tm_rt_frontend_run(&fe, x, feat) != TM_RT_OK) {
                        printf("model %s input %u: front end failed\n", names[which], i);
                        return 1;
                    }
                    feat_hash = fnv(feat_hash, feat, tm_rt_frontend_output_size(&c) * sizeof(float));
                }
                const tm_rt_tensor_desc *t = &m.tensors[m.inputs[i].tensor];
                in_hash = fnv(in_hash, tm_rt_model_tensor(&m, mem_buf, m.inputs[i].tensor),
                              (size_t)t->c * t->h * t->w);
            }
            s = tm_rt_model_invoke(&m, mem_buf);
            if (s != TM_RT_OK) {
                printf("model %s invoke: %s\n", names[which], tm_rt_status_name(s));
                return 1;
            }
            const int8_t *l = tm_rt_model_logits(&m, mem_buf);
            /* the streamed plan computes the flat plan's logits */
            static int8_t flat[2][7][TM_RT_MAX_CLASSES];
            if (which < 2) {
                memcpy(flat[which][seed], l, m.n_classes);
            } else if (memcmp(flat[which - 2][seed], l, m.n_classes) != 0) {
                printf("model %s seed %lu: logits differ from the flat plan's\n", names[which],
                       (unsigned long)seed);
                return 1;
            }
            printf("%s seed %lu: float features %08lx, int8 inputs %08lx, logits", names[which],
                   (unsigned long)seed, (unsigned long)feat_hash, (unsigned long)in_hash);
            for (uint32_t c = 0; c < m.n_classes; c++)
                printf(" %d", l[c]);
            printf("\n");
        }
    }
    return 0;
}

/* ---- kernels: dispatched against reference ------------------------------------ */

static int8_t k_in[16384], k_out_ref[16384], k_out_simd[16384];
static uint8_t k_w[32768];
static int32_t k_bias[64], k_mult[64], k_shift[64];
static int8_t k_scratch[1 << 20];

static int32_t rnd_int(uint32_t *s, int32_t lo, int32_t hi)
{
    return tm_rt_ex_int(s, lo, hi);
}

/* 1: the extreme cases (4-bit weights at -8 / 7, inputs and zero points
 * at -128 / 127 most of the time; a third of the convs pointwise, half of
 * those with 8-bit weights, half with a multiple of 8 input channels; in
 * half the cases one input value, the other end as zero point and one
 * weight per row): the largest sums the int16 lanes of the 4-bit kernels
 * meet. */
static int k_extreme;

static int32_t rnd_edge(uint32_t *s, int32_t lo, int32_t hi)
{
    int32_t r = rnd_int(s, 0, 3);
    return r == 0 ? lo : r == 1 ? hi : rnd_int(s, lo, hi);
}

/* One random case of kind 0 conv, 1 depthwise, 2 dense; 0 when the random
 * shape does not fit the buffers (skipped), 1 when equal, -1 on mismatch. */
static int kernel_case(uint32_t *s, int kind, uint32_t *hash)
{
    tm_rt_conv_args a;
    memset(&a, 0, sizeof a);
    a.bits = k_extreme ? 4 : (rnd_int(s, 0, 1) ? 8 : 4);
    if (k_extreme && kind == 0 && rnd_int(s, 0, 2) == 0) {
        a.bits = rnd_int(s, 0, 1) ? 8 : 4; /* the pointwise packing of 8-bit rows too */
        a.in_c = rnd_int(s, 0, 1) ? 8 * rnd_int(s, 1, 6) : rnd_int(s, 1, 48);
        a.in_h = rnd_int(s, 1, 12);
        a.in_w = rnd_int(s, 1, 40);
        a.kh = a.kw = a.stride = 1;
        a.out_c = rnd_int(s, 1, 40);
        a.out_h = a.in_h;
        a.out_w = a.in_w;
    } else if (kind == 2) {
        a.in_c = rnd_int(s, 1, 300);
        a.in_h = a.in_w = 1;
        a.out_c = rnd_int(s, 1, 40);
        a.kh = a.kw = a.stride = 1;
        a.out_h = a.out_w = 1;
    } else {
        a.in_c = rnd_int(s, 1, k_extreme ? 40 : 24);
        a.in_h = rnd_int(s, 1, 20);
        a.in_w = rnd_int(s, 1, 20);
        a.kh = rnd_int(s, 1, 5);
        a.kw = rnd_int(s, 1, 5);
        a.stride = rnd_int(s, 1, 3);
        a.pad_top = rnd_int(s, 0, a.kh - 1);
        a.pad_left = rnd_int(s, 0, a.kw - 1);
        a.out_c = kind == 1 ? a.in_c : rnd_int(s, 1, 24);
        int span_h = a.in_h + 2 * a.pad_top - a.kh, span_w = a.in_w + 2 * a.pad_left - a.kw;
        if (span_h < 0 || span_w < 0)
            return 0;
        a.out_h = span_h / a.stride + 1;
        a.out_w = span_w / a.stride + 1;
        /* Every window must overlap the input. */
        if ((a.out_h - 1) * a.stride - a.pad_top > a.in_h - 1 ||
            (a.out_w - 1) * a.stride - a.pad_left > a.in_w - 1)
            return 0;
    }
    size_t n_in = (size_t)a.in_c * a.in_h * a.in_w, n_out = (size_t)a.out_c * a.out_h * a.out_w;
    size_t row = (size_t)a.kh * a.kw * (kind == 1 ? 1 : (size_t)a.in_c);
    size_t rb = a.bits == 8 ? row : (row + 1) / 2;
    if (n_in > sizeof k_in || n_out > sizeof k_out_ref || rb * (size_t)a.out_c > sizeof k_w ||
        a.out_c > 64)
        return 0;
    size_t scratch = tm_rt_conv_scratch_bytes(&a);
    if (scratch > sizeof k_scratch)
        return 0;
    int uni = k_extreme && rnd_int(s, 0, 1); /* one input value, one weight per row */
    int8_t uin = (int8_t)(uni && rnd_int(s, 0, 1) ? 127 : -128);
    for (size_t i = 0; i < n_in; i++)
        k_in[i] = uni ? uin : (int8_t)(k_extreme ? rnd_edge(s, -128, 127) : rnd_int(s, -128, 127));
    memset(k_w, 0, rb * (size_t)a.out_c);
    for (int r = 0; r < a.out_c; r++) {
        int32_t urow = uni && rnd_int(s, 0, 1) ? 7 : -8;
        for (size_t i = 0; i < row; i++) {
            int32_t v = a.bits == 8 ? rnd_int(s, -127, 127)
                        : uni ? urow : k_extreme ? rnd_edge(s, -8, 7) : rnd_int(s, -7, 7);
            if (a.bits == 8)
                k_w[(size_t)r * rb + i] = (uint8_t)(int8_t)v;
            else
                k_w[(size_t)r * rb + i / 2] |= (uint8_t)((uint32_t)(v & 15) << (4 * (i & 1)));
        }
    }
    for (int c = 0; c < a.out_c; c++) {
        k_bias[c] = rnd_int(s, -50000, 50000);
        k_mult[c] = rnd_int(s, 1 << 30, 0x7FFFFFFF);
        k_shift[c] = rnd_int(s, -14, 1);
    }
    a.input = k_in;
    a.weights = k_w;
    a.bias = rnd_int(s, 0, 3) ? k_bias : NULL;
    a.mult = k_mult;
    a.shift = k_shift;
    a.in_zp = uni         ? (uin == 127 ? -128 : 127)
              : k_extreme ? rnd_edge(s, -128, 127)
                          : rnd_int(s, -128, 127);
    a.out_zp = rnd_int(s, -128, 127);
    a.act_min = rnd_int(s, -128, 0);
    a.act_max = rnd_int(s, a.act_min, 127);
    a.scratch = scratch ? k_scratch : NULL;
    tm_rt_status s1, s2;
    a.output = k_out_ref;
    s1 = kind == 0 ? tm_rt_conv_ref(&a) : kind == 1 ? tm_rt_depthwise_ref(&a) : tm_rt_dense_ref(&a);
    a.output = k_out_simd;
    s2 = kind == 0 ? tm_rt_conv(&a) : kind == 1 ? tm_rt_depthwise(&a) : tm_rt_dense(&a);
    if (s1 != TM_RT_OK || s2 != TM_RT_OK || memcmp(k_out_ref, k_out_simd, n_out) != 0) {
        printf("kernel mismatch: kind %d bits %d in %dx%dx%d out %dx%dx%d k %dx%d stride %d "
               "pad %d,%d (status %d/%d)\n",
               kind, a.bits, a.in_c, a.in_h, a.in_w, a.out_c, a.out_h, a.out_w, a.kh, a.kw,
               a.stride, a.pad_top, a.pad_left, (int)s1, (int)s2);
        return -1;
    }
    *hash = fnv(*hash, k_out_ref, n_out);
    return 1;
}

/* 150 random shapes of each kernel kind from seed0 + kind; the mismatches. */
static int run_kernel_set(uint32_t seed0, const char *label)
{
    static const char *kinds[3] = {"conv", "depthwise", "dense"};
    int bad = 0;
    for (int kind = 0; kind < 3; kind++) {
        uint32_t s = seed0 + (uint32_t)kind, hash = 2166136261u;
        int done = 0, tries = 0;
        while (done < 150 && tries < 5000) {
            tries++;
            int r = kernel_case(&s, kind, &hash);
            if (r < 0)
                bad++;
            done += r != 0;
        }
        printf("kernels %s%s: %d random shapes, output hash %08lx\n", kinds[kind], label, done,
               (unsigned long)hash);
    }
    return bad;
}

static int run_kernels(void)
{
    int bad = run_kernel_set(777u, "");
    k_extreme = 1;
    bad += run_kernel_set(991u, ", extremes");
    k_extreme = 0;
    printf("kernel mismatches: %d\n", bad);
    return bad != 0;
}

static int write_models(const char *dir)
{
    static const char *names[2] = {"two_branch", "chain"};
    for (int which = 0; which < 2; which++)
        for (uint32_t seed = 1; seed <= 3; seed++) {
            size_t size = 0;
            if (build(which, seed, &size) != TM_RT_OK) {
                fprintf(stderr, "build %s: %s\n", names[which], tm_rt_builder_error(&builder));
                return 1;
            }
            char path[1024];
            snprintf(path, sizeof path, "%s/%s_%lu.tm2n", dir, names[which], (unsigned long)seed);
            FILE *f = fopen(path, "wb");
            if (!f || fwrite(file_buf, 1, size, f) != size || fclose(f) != 0) {
                fprintf(stderr, "cannot write %s\n", path);
                return 1;
            }
        }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-models") == 0)
        return write_models(argv[2]);
    if (argc != 1) {
        fprintf(stderr, "usage: rt_selftest [--write-models DIR]\n");
        return 2;
    }
    fprintf(stderr, "rt_selftest: kernels %s\n", tm_rt_kernels_isa());
    int rc = run_models();
    rc |= run_kernels();
    printf("%s\n", rc ? "FAILED" : "ok");
    return rc;
}
