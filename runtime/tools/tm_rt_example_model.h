/* Small example models built with the runtime's builder, shared by
 * tests/test_model_format.c, runtime/tools/rt_selftest.c and the fuzzing
 * seed corpus. Header-only (static functions), C99, no allocation.
 *
 * two_branch: image 1x8x8 -> conv 3x3 (8-bit) -> depthwise 3x3 stride 2
 *   (4-bit) -> pointwise (8-bit) -> maxpool 2 -> dense 24->8 (4-bit);
 *   audio 256 samples -> MFCC 4x7 -> conv 3x3 (8-bit) -> avgpool 2 ->
 *   dense 18->5 (no bias); concat 8+5 -> dense 13->5 = logits.
 * chain: features 2x6x6 -> conv 3x3 (4-bit) -> conv 3x3 (8-bit) ->
 *   depthwise 3x3 (8-bit, no pad) -> requantize -> global avgpool ->
 *   dense 4->3 = logits.
 * chain_spec: one streamed chain of a shape from tm_rt_ex_chain_specs
 *   (tests/test_rt_scratch.c, runtime/tools/cortexm/chains_main.c). */
#ifndef TM_RT_EXAMPLE_MODEL_H
#define TM_RT_EXAMPLE_MODEL_H

#include <math.h>
#include <string.h>

#include "tm_rt_kernels.h"
#include "tm_rt_model.h"

/* Largest file either example produces (checked by the builder anyway). */
#define TM_RT_EXAMPLE_MAX_BYTES 16384

static uint32_t tm_rt_ex_next(uint32_t *s)
{
    uint32_t x = *s ? *s : 0x9E3779B9u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *s = x;
    return x;
}

/* Uniform integer in [lo, hi]. */
static int32_t tm_rt_ex_int(uint32_t *s, int32_t lo, int32_t hi)
{
    return lo + (int32_t)(tm_rt_ex_next(s) % (uint32_t)(hi - lo + 1));
}

/* Uniform float in [lo, hi). */
static float tm_rt_ex_float(uint32_t *s, float lo, float hi)
{
    return lo + (hi - lo) * (float)(tm_rt_ex_next(s) >> 8) / 16777216.0f;
}

/* Random weights for rows x n values at bits (4-bit rows byte-aligned, low
 * nibble first), appended to the blob; also the bias (unless no_bias) and
 * the per-row mult/shift for a real gain of about gain / sqrt(n) / w_rms. */
static void tm_rt_ex_weights(tm_rt_builder *b, uint32_t *s, tm_rt_op_desc *op, int rows, int n,
                             int bits, int no_bias, double gain)
{
    uint8_t w[2048];
    int32_t bias[64], mult[64], shift[64];
    int wmax = bits == 8 ? 127 : 7;
    size_t rb = bits == 8 ? (size_t)n : (size_t)(n + 1) / 2;
    double w_rms = wmax / sqrt(3.0);
    if (rows > 64 || rb * (size_t)rows > sizeof w) {
        if (b->status == TM_RT_OK)
            b->status = tm_rt_error_set(&b->error, TM_RT_ERR_ARG, "example weights", rows,
                                        "more than this helper's 64 rows or 2048 bytes");
        return;
    }
    memset(w, 0, sizeof w);
    for (int r = 0; r < rows; r++)
        for (int i = 0; i < n; i++) {
            int32_t v = tm_rt_ex_int(s, -wmax, wmax);
            if (bits == 8) {
                w[(size_t)r * rb + (size_t)i] = (uint8_t)(int8_t)v;
            } else {
                uint8_t nib = (uint8_t)(v & 15);
                w[(size_t)r * rb + (size_t)i / 2] |= (uint8_t)(i & 1 ? nib << 4 : nib);
            }
        }
    for (int r = 0; r < rows; r++) {
        double m = gain / (sqrt((double)n) * w_rms) * tm_rt_ex_float(s, 0.7f, 1.3f);
        tm_rt_quantize_multiplier(m, &mult[r], &shift[r]);
        bias[r] = tm_rt_ex_int(s, -(int32_t)(sqrt((double)n) * w_rms * 20.0),
                               (int32_t)(sqrt((double)n) * w_rms * 20.0));
    }
    op->bits = bits;
    op->weights_bytes = (uint32_t)(rb * (size_t)rows);
    op->weights = tm_rt_builder_blob(b, w, rb * (size_t)rows);
    op->bias = no_bias ? TM_RT_NONE : tm_rt_builder_blob(b, bias, sizeof(int32_t) * (size_t)rows);
    op->mult = tm_rt_builder_blob(b, mult, sizeof(int32_t) * (size_t)rows);
    op->shift = tm_rt_builder_blob(b, shift, sizeof(int32_t) * (size_t)rows);
}

static tm_rt_op_desc tm_rt_ex_op(uint32_t type, int32_t in, int32_t out)
{
    tm_rt_op_desc op;
    memset(&op, 0, sizeof op);
    op.type = type;
    op.version = 1;
    op.n_inputs = 1;
    op.inputs[0] = in;
    op.inputs[1] = op.inputs[2] = op.inputs[3] = -1;
    op.output = out;
    op.act_min = -128;
    op.act_max = 127;
    op.weights = op.bias = op.mult = op.shift = TM_RT_NONE;
    return op;
}

static tm_rt_op_desc tm_rt_ex_window(uint32_t type, int32_t in, int32_t out, int k, int stride,
                                     int pad)
{
    tm_rt_op_desc op = tm_rt_ex_op(type, in, out);
    op.kh = op.kw = k;
    op.stride = stride;
    op.pad_top = op.pad_left = pad;
    return op;
}

/* Requantisation (mult, shift) of each input scale to out_scale, appended. */
static void tm_rt_ex_rescale(tm_rt_builder *b, tm_rt_op_desc *op, const float *in_scales, int n,
                             float out_scale)
{
    int32_t mult[TM_RT_MAX_OP_INPUTS], shift[TM_RT_MAX_OP_INPUTS];
    for (int j = 0; j < n; j++)
        tm_rt_quantize_multiplier((double)in_scales[j] / out_scale, &mult[j], &shift[j]);
    op->mult = tm_rt_builder_blob(b, mult, sizeof(int32_t) * (size_t)n);
    op->shift = tm_rt_builder_blob(b, shift, sizeof(int32_t) * (size_t)n);
}

static tm_rt_input_desc tm_rt_ex_input(const char *name, int kind, int32_t tensor, float mean,
                                       float std)
{
    tm_rt_input_desc in;
    memset(&in, 0, sizeof in);
    strncpy(in.name, name, TM_RT_NAME_LEN - 1);
    in.kind = kind;
    in.tensor = tensor;
    in.mean = mean;
    in.std = std;
    return in;
}

/* The audio front end of two_branch: 256 samples at 8 kHz, 4 MFCC x 7 frames. */
static void tm_rt_ex_audio_config(tm_rt_input_desc *in)
{
    in->fe.sample_rate = 8000;
    in->fe.window_length = 64;
    in->fe.hop_length = 32;
    in->fe.n_fft = 64;
    in->fe.n_mels = 8;
    in->fe.n_mfcc = 4;
    in->fe.window = TM_RT_WINDOW_HANN;
    in->fe.num_samples = 256;
    in->fe.fmin = 20.0f;
    in->fe.fmax = 4000.0f;
    in->fe.log_floor = 1e-6f;
}

static inline tm_rt_status tm_rt_example_two_branch(tm_rt_builder *b, void *buf, size_t cap,
                                                    uint32_t seed, size_t *size)
{
    uint32_t s = seed;
    tm_rt_builder_init(b, buf, cap);
    int32_t img = tm_rt_builder_tensor(b, 1, 8, 8, 1.0f / 255.0f, -128);
    int32_t aud = tm_rt_builder_tensor(b, 1, 4, 7, 0.03f, 0);
    int32_t c1 = tm_rt_builder_tensor(b, 4, 8, 8, 0.02f, -128);
    int32_t d1 = tm_rt_builder_tensor(b, 4, 4, 4, 0.025f, -128);
    int32_t p1 = tm_rt_builder_tensor(b, 6, 4, 4, 0.03f, -128);
    int32_t m1 = tm_rt_builder_tensor(b, 6, 2, 2, 0.03f, -128);
    int32_t v1 = tm_rt_builder_tensor(b, 8, 1, 1, 0.05f, -128);
    int32_t c2 = tm_rt_builder_tensor(b, 3, 4, 7, 0.04f, -128);
    int32_t a2 = tm_rt_builder_tensor(b, 3, 2, 3, 0.04f, -128);
    int32_t v2 = tm_rt_builder_tensor(b, 5, 1, 1, 0.07f, -128);
    int32_t cat = tm_rt_builder_tensor(b, 13, 1, 1, 0.07f, -128);
    int32_t out = tm_rt_builder_tensor(b, 5, 1, 1, 0.1f, 3);

    tm_rt_input_desc in = tm_rt_ex_input("image", TM_RT_INPUT_IMAGE, img, 0.0f, 0.0f);
    tm_rt_builder_input(b, &in);
    in = tm_rt_ex_input("audio", TM_RT_INPUT_AUDIO, aud, -4.0f, 3.0f);
    tm_rt_ex_audio_config(&in);
    tm_rt_builder_input(b, &in);

    tm_rt_op_desc op = tm_rt_ex_window(TM_RT_OP_CONV, img, c1, 3, 1, 1);
    op.act_min = -128; /* ReLU: the zero point */
    tm_rt_ex_weights(b, &s, &op, 4, 1 * 9, 8, 0, 0.6);
    tm_rt_builder_op(b, &op);
    op = tm_rt_ex_window(TM_RT_OP_DEPTHWISE, c1, d1, 3, 2, 1);
    tm_rt_ex_weights(b, &s, &op, 4, 9, 4, 0, 0.8);
    tm_rt_builder_op(b, &op);
    op = tm_rt_ex_window(TM_RT_OP_CONV, d1, p1, 1, 1, 0);
    tm_rt_ex_weights(b, &s, &op, 6, 4, 8, 0, 1.0);
    tm_rt_builder_op(b, &op);
    op = tm_rt_ex_window(TM_RT_OP_MAXPOOL, p1, m1, 2, 2, 0);
    tm_rt_builder_op(b, &op);
    op = tm_rt_ex_op(TM_RT_OP_DENSE, m1, v1);
    op.kh = op.kw = op.stride = 1;
    tm_rt_ex_weights(b, &s, &op, 8, 24, 4, 0, 1.0);
    tm_rt_builder_op(b, &op);

    op = tm_rt_ex_window(TM_RT_OP_CONV, aud, c2, 3, 1, 1);
    op.act_max = 100; /* a clipped ReLU */
    tm_rt_ex_weights(b, &s, &op, 3, 9, 8, 0, 2.0);
    tm_rt_builder_op(b, &op);
    op = tm_rt_ex_window(TM_RT_OP_AVGPOOL, c2, a2, 2, 2, 0);
    tm_rt_builder_op(b, &op);
    op = tm_rt_ex_op(TM_RT_OP_DENSE, a2, v2);
    tm_rt_ex_weights(b, &s, &op, 5, 18, 8, 1, 1.0);
    tm_rt_builder_op(b, &op);

    op = tm_rt_ex_op(TM_RT_OP_CONCAT, v1, cat);
    op.n_inputs = 2;
    op.inputs[1] = v2;
    {
        const float scales[2] = {0.05f, 0.07f};
        tm_rt_ex_rescale(b, &op, scales, 2, 0.07f);
    }
    tm_rt_builder_op(b, &op);
    op = tm_rt_ex_op(TM_RT_OP_DENSE, cat, out);
    tm_rt_ex_weights(b, &s, &op, 5, 13, 8, 0, 1.5);
    tm_rt_builder_op(b, &op);

    static const char *names[5] = {"zero", "one", "two", "three", "four"};
    for (int k = 0; k < 5; k++)
        tm_rt_builder_class(b, names[k]);
    tm_rt_builder_output(b, out);
    return tm_rt_builder_finish(b, size);
}

static inline tm_rt_status tm_rt_example_chain(tm_rt_builder *b, void *buf, size_t cap,
                                               uint32_t seed, size_t *size)
{
    uint32_t s = seed;
    tm_rt_builder_init(b, buf, cap);
    int32_t x = tm_rt_builder_tensor(b, 2, 6, 6, 0.02f, 0);
    int32_t c1 = tm_rt_builder_tensor(b, 4, 6, 6, 0.03f, -128);
    int32_t c2 = tm_rt_builder_tensor(b, 8, 6, 6, 0.04f, -128);
    int32_t e = tm_rt_builder_tensor(b, 8, 6, 6, 0.045f, -128);
    int32_t f = tm_rt_builder_tensor(b, 4, 6, 6, 0.05f, -128);
    int32_t a = tm_rt_builder_tensor(b, 4, 6, 6, 0.06f, -110);
    int32_t d = tm_rt_builder_tensor(b, 4, 4, 4, 0.05f, -20);
    int32_t r = tm_rt_builder_tensor(b, 4, 4, 4, 0.08f, 5);
    int32_t g = tm_rt_builder_tensor(b, 4, 1, 1, 0.08f, 5);
    int32_t out = tm_rt_builder_tensor(b, 3, 1, 1, 0.1f, 0);

    tm_rt_input_desc in = tm_rt_ex_input("features", TM_RT_INPUT_FEATURES, x, 0.1f, 2.0f);
    tm_rt_builder_input(b, &in);
    tm_rt_op_desc op = tm_rt_ex_window(TM_RT_OP_CONV, x, c1, 3, 1, 1);
    tm_rt_ex_weights(b, &s, &op, 4, 2 * 9, 4, 0, 0.8);
    tm_rt_builder_op(b, &op);
    op = tm_rt_ex_window(TM_RT_OP_CONV, c1, c2, 3, 1, 1);
    tm_rt_ex_weights(b, &s, &op, 8, 4 * 9, 8, 0, 0.8);
    tm_rt_builder_op(b, &op);
    /* conv to 8 channels -> 4-bit depthwise -> 4-bit pointwise back to 4: a
     * chain a streamed plan runs row by row (c2 and e, the flat plan's
     * peak, are never stored whole). */
    op = tm_rt_ex_window(TM_RT_OP_DEPTHWISE, c2, e, 3, 1, 1);
    tm_rt_ex_weights(b, &s, &op, 8, 9, 4, 1, 1.0);
    tm_rt_builder_op(b, &op);
    op = tm_rt_ex_window(TM_RT_OP_CONV, e, f, 1, 1, 0);
    tm_rt_ex_weights(b, &s, &op, 4, 8, 4, 0, 0.8);
    tm_rt_builder_op(b, &op);
    /* A residual add: c1 stays live across the chain. */
    op = tm_rt_ex_op(TM_RT_OP_ADD, f, a);
    op.n_inputs = 2;
    op.inputs[1] = c1;
    op.act_max = 120;
    {
        int32_t mult[3], shift[3];
        tm_rt_add_multipliers(0.05, 0.03, 0.06, mult, shift);
        op.mult = tm_rt_builder_blob(b, mult, sizeof mult);
        op.shift = tm_rt_builder_blob(b, shift, sizeof shift);
    }
    tm_rt_builder_op(b, &op);
    op = tm_rt_ex_window(TM_RT_OP_DEPTHWISE, a, d, 3, 1, 0);
    tm_rt_ex_weights(b, &s, &op, 4, 9, 8, 1, 1.0);
    tm_rt_builder_op(b, &op);
    op = tm_rt_ex_op(TM_RT_OP_REQUANTIZE, d, r);
    {
        const float scales[1] = {0.05f};
        tm_rt_ex_rescale(b, &op, scales, 1, 0.08f);
    }
    tm_rt_builder_op(b, &op);
    op = tm_rt_ex_op(TM_RT_OP_GLOBALAVGPOOL, r, g);
    tm_rt_builder_op(b, &op);
    op = tm_rt_ex_op(TM_RT_OP_DENSE, g, out);
    tm_rt_ex_weights(b, &s, &op, 3, 4, 8, 0, 1.5);
    tm_rt_builder_op(b, &op);
    tm_rt_builder_class(b, "cat");
    tm_rt_builder_class(b, "dog");
    tm_rt_builder_class(b, "bird");
    tm_rt_builder_output(b, out);
    return tm_rt_builder_finish(b, size);
}

/* A streamed chain of one shape, for partial calls: features cin x h x w ->
 * conv k0 (stride s0, pad p0, c0 channels, bits0) -> [conv or depthwise
 * (t1) k1 (s1, p1, c1)] -> max pool pk / ps, or a stored 1x1 conv when pk
 * is 0 -> dense 1. The dense layer's 4-bit scratch lets the chain widen. */
typedef struct tm_rt_ex_chain_spec {
    int cin, h, w, k0, s0, p0, c0, bits0, k1, s1, p1, c1, t1, pk, ps;
    int head; /* > 0: the features first through a stored 4-bit conv 3x3 to head
               * channels and a requantize (which no chain takes in), the chain's
               * input then; that conv's scratch (a whole tile of positions) lets
               * the DSP build's chain widen too */
} tm_rt_ex_chain_spec;

/* Heights that no rows per call divide, so the last calls are partial:
 * pools whose window is not their stride, a 1x1 conv first (whose SIMD plan
 * runs a window as one flat row), 1x1 chains, strided convs, depthwise. */
#define TM_RT_EX_CHAIN_SPECS 9
static const tm_rt_ex_chain_spec tm_rt_ex_chain_specs[TM_RT_EX_CHAIN_SPECS] = {
    {1, 11, 12, 3, 1, 1, 8, 8, 0, 0, 0, 0, 0, 3, 2, 0},
    {1, 43, 10, 3, 1, 1, 8, 8, 0, 0, 0, 0, 0, 3, 2, 0},
    {1, 13, 10, 3, 1, 1, 8, 4, 0, 0, 0, 0, 0, 2, 1, 0},
    {1, 19, 9, 3, 1, 1, 8, 8, 0, 0, 0, 0, 0, 3, 1, 0},
    {16, 47, 6, 1, 1, 0, 16, 4, 1, 1, 0, 16, TM_RT_OP_CONV, 2, 2, 0},
    {16, 47, 6, 1, 1, 0, 16, 8, 1, 1, 0, 16, TM_RT_OP_CONV, 0, 0, 0},
    {1, 43, 11, 3, 1, 1, 8, 8, 3, 1, 1, 0, TM_RT_OP_DEPTHWISE, 2, 2, 0},
    {2, 29, 13, 3, 2, 1, 8, 4, 3, 1, 1, 12, TM_RT_OP_CONV, 2, 2, 0},
    {1, 37, 8, 5, 1, 2, 4, 8, 3, 1, 1, 0, TM_RT_OP_DEPTHWISE, 3, 2, 0},
};

/* Chain sp with b into buf: flags TM_RT_FLAG_STREAM (forced) or 0 (every
 * tensor in the arena); *kept is the tensor the dense reads (the chain's
 * last output, or the stored 1x1 conv's). */
static inline tm_rt_status tm_rt_example_chain_spec(tm_rt_builder *b, void *buf, size_t cap,
                                                    const tm_rt_ex_chain_spec *sp, uint32_t flags,
                                                    size_t *size, int32_t *kept)
{
    uint32_t s = 7;
    int ch = sp->c0, hh = (sp->h + 2 * sp->p0 - sp->k0) / sp->s0 + 1;
    int ww = (sp->w + 2 * sp->p0 - sp->k0) / sp->s0 + 1;
    float sc = 0.03f; /* the last tensor's scale, which a pool keeps */
    int cin = sp->cin;
    tm_rt_op_desc op;
    tm_rt_builder_init(b, buf, cap);
    b->flags = flags ? flags | TM_RT_BUILDER_FORCE_STREAM : 0;
    int32_t x = tm_rt_builder_tensor(b, sp->cin, sp->h, sp->w, 0.03f, 0);
    tm_rt_input_desc in = tm_rt_ex_input("f", TM_RT_INPUT_FEATURES, x, 0.1f, 2.0f);
    tm_rt_builder_input(b, &in);
    if (sp->head) {
        const float hs = 0.03f;
        int32_t t = tm_rt_builder_tensor(b, sp->head, sp->h, sp->w, hs, -128);
        int32_t r = tm_rt_builder_tensor(b, sp->head, sp->h, sp->w, 0.03f, 0);
        op = tm_rt_ex_window(TM_RT_OP_CONV, x, t, 3, 1, 1);
        tm_rt_ex_weights(b, &s, &op, sp->head, sp->cin * 9, 4, 0, 0.8);
        tm_rt_builder_op(b, &op);
        op = tm_rt_ex_op(TM_RT_OP_REQUANTIZE, t, r);
        tm_rt_ex_rescale(b, &op, &hs, 1, 0.03f);
        tm_rt_builder_op(b, &op);
        x = r, cin = sp->head;
    }
    int32_t last = tm_rt_builder_tensor(b, ch, hh, ww, 0.03f, -128);
    op = tm_rt_ex_window(TM_RT_OP_CONV, x, last, sp->k0, sp->s0, sp->p0);
    tm_rt_ex_weights(b, &s, &op, ch, cin * sp->k0 * sp->k0, sp->bits0, 0, 0.8);
    tm_rt_builder_op(b, &op);
    if (sp->k1) {
        int oc = sp->t1 == TM_RT_OP_DEPTHWISE ? ch : sp->c1;
        int h2 = (hh + 2 * sp->p1 - sp->k1) / sp->s1 + 1, w2 = (ww + 2 * sp->p1 - sp->k1) / sp->s1 + 1;
        int32_t t = tm_rt_builder_tensor(b, oc, h2, w2, 0.04f, -128);
        op = tm_rt_ex_window((uint32_t)sp->t1, last, t, sp->k1, sp->s1, sp->p1);
        tm_rt_ex_weights(b, &s, &op, oc, (sp->t1 == TM_RT_OP_DEPTHWISE ? 1 : ch) * sp->k1 * sp->k1, 8, 0,
                         0.8);
        tm_rt_builder_op(b, &op);
        last = t, ch = oc, hh = h2, ww = w2, sc = 0.04f;
    }
    if (sp->pk) {
        int h3 = (hh - sp->pk) / sp->ps + 1, w3 = (ww - sp->pk) / sp->ps + 1;
        int32_t t = tm_rt_builder_tensor(b, ch, h3, w3, sc, -128);
        op = tm_rt_ex_window(TM_RT_OP_MAXPOOL, last, t, sp->pk, sp->ps, 0);
        tm_rt_builder_op(b, &op);
        last = t, hh = h3, ww = w3;
    } else {
        int32_t t = tm_rt_builder_tensor(b, 4, hh, ww, 0.05f, -128);
        op = tm_rt_ex_window(TM_RT_OP_CONV, last, t, 1, 1, 0);
        tm_rt_ex_weights(b, &s, &op, 4, ch, 8, 0, 0.8);
        tm_rt_builder_op(b, &op);
        last = t, ch = 4;
    }
    *kept = last;
    int32_t out = tm_rt_builder_tensor(b, 1, 1, 1, 0.1f, 0);
    op = tm_rt_ex_op(TM_RT_OP_DENSE, last, out);
    tm_rt_ex_weights(b, &s, &op, 1, ch * hh * ww, 4, 0, 1.5);
    tm_rt_builder_op(b, &op);
    tm_rt_builder_class(b, "a");
    tm_rt_builder_output(b, out);
    return tm_rt_builder_finish(b, size);
}

/* Deterministic inputs for an example: each input's floats from seed. */
static void tm_rt_example_inputs(const tm_rt_model *m, uint32_t seed, float *buf, size_t cap,
                                 size_t *offsets)
{
    uint32_t s = seed;
    size_t at = 0;
    for (uint32_t i = 0; i < m->n_inputs; i++) {
        size_t n = tm_rt_model_input_floats(m, (int)i);
        offsets[i] = at;
        for (size_t j = 0; j < n && at < cap; j++, at++) {
            switch (m->inputs[i].kind) {
            case TM_RT_INPUT_IMAGE: buf[at] = tm_rt_ex_float(&s, 0.0f, 1.0f); break;
            case TM_RT_INPUT_AUDIO:
                /* A sawtooth plus noise, so the MFCC vary across frames;
                 * no libm, so every target gets the same samples. */
                buf[at] = 0.5f * ((float)((j * (5u + seed % 7u)) % 64u) / 32.0f - 1.0f) +
                          tm_rt_ex_float(&s, -0.2f, 0.2f);
                break;
            default: buf[at] = tm_rt_ex_float(&s, -3.0f, 3.0f); break;
            }
        }
    }
}

#endif
