/* The device model file: building, arena planning, execution against an
 * int64 re-implementation, round trips, and validation of thousands of
 * truncated / corrupted files. Self-contained (runtime + Check only) so the
 * same source also builds as test_model_format_asan with the runtime
 * compiled under AddressSanitizer and UBSan. */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tm_rt_frontend.h"
#include "tm_rt_kernels.h"
#include "tm_rt_model.h"
#include "tm_rt_test_example.h"
#include "tools/tm_rt_example_model.h"

/* ---- fixtures -------------------------------------------------------------- */

typedef struct built {
    uint8_t *bytes; /* malloc'd, exactly size bytes */
    size_t size;
    uint32_t arena_bytes, scratch_bytes, workspace_bytes;
    tm_rt_tensor_desc tensors[TM_RT_MAX_TENSORS];
} built;

static built build_example_plan(int which, uint32_t seed, uint32_t flags)
{
    static tm_rt_builder b;
    size_t size = 0;
    built r;
    memset(&r, 0, sizeof r);
    r.bytes = tm_rt_test_example_plan(&b, which, seed, 0, flags, &size);
    r.size = size;
    r.arena_bytes = b.arena_bytes;
    r.scratch_bytes = b.scratch_bytes;
    r.workspace_bytes = b.workspace_bytes;
    memcpy(r.tensors, b.tensors, sizeof r.tensors);
    ck_assert_uint_eq(b.file_bytes, size);
    return r;
}

/* Every tensor in the arena (the plan the arena tests check). */
static built build_example(int which, uint32_t seed)
{
    return build_example_plan(which, seed, 0);
}

static tm_rt_file_header header_of(const uint8_t *bytes)
{
    tm_rt_file_header h;
    memcpy(&h, bytes, sizeof h);
    return h;
}

static void reseal(uint8_t *bytes, size_t size)
{
    uint32_t crc = tm_rt_model_file_crc(bytes, size);
    memcpy(bytes + offsetof(tm_rt_file_header, crc32), &crc, 4);
}

/* ---- the int64 reference ------------------------------------------------------ */

static int64_t floor_div(int64_t n, int64_t d)
{
    int64_t q = n / d;
    if ((n % d != 0) && ((n < 0) != (d < 0)))
        q--;
    return q;
}

/* gemmlowp's MultiplyByQuantizedMultiplier written out in int64: saturating
 * left shift, high multiply rounding ties up, right shift rounding half away
 * from zero. */
static int32_t ref_requant(int32_t acc, int32_t mult, int32_t shift)
{
    int ls = shift > 0 ? shift : 0, rs = shift > 0 ? 0 : -shift;
    int64_t x = (int64_t)acc * ((int64_t)1 << ls);
    if (x > INT32_MAX)
        x = INT32_MAX;
    if (x < INT32_MIN)
        x = INT32_MIN;
    int64_t hi;
    if (x == INT32_MIN && mult == INT32_MIN)
        hi = INT32_MAX;
    else
        hi = floor_div(x * (int64_t)mult + ((int64_t)1 << 30), (int64_t)1 << 31);
    if (rs == 0)
        return (int32_t)hi;
    int64_t a = hi < 0 ? -hi : hi;
    a = (a + ((int64_t)1 << (rs - 1))) >> rs;
    return (int32_t)(hi < 0 ? -a : a);
}

static int32_t ref_weight(const uint8_t *w, int bits, size_t row_bytes, size_t row, size_t i)
{
    if (bits == 8)
        return (int8_t)w[row * row_bytes + i];
    uint8_t byte = w[row * row_bytes + i / 2];
    int32_t nib = (i & 1) ? byte >> 4 : byte & 15;
    return nib >= 8 ? nib - 16 : nib;
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static int32_t blob_i32(const tm_rt_model *m, uint32_t off, int i)
{
    int32_t v;
    memcpy(&v, m->blob + off + 4u * (uint32_t)i, 4);
    return v;
}

static int8_t ref_finish(const tm_rt_model *m, const tm_rt_op_desc *op, int64_t acc, int c,
                         int32_t out_zp)
{
    ck_assert_msg(acc >= INT32_MIN && acc <= INT32_MAX, "reference accumulator overflow");
    int64_t v = (int64_t)ref_requant((int32_t)acc, blob_i32(m, op->mult, c),
                                     blob_i32(m, op->shift, c)) +
                out_zp;
    return (int8_t)clamp64(v, op->act_min, op->act_max);
}

static int64_t round_div_away(int64_t sum, int64_t n)
{
    return sum >= 0 ? (2 * sum + n) / (2 * n) : -((-2 * sum + n) / (2 * n));
}

/* Runs every op on separate per-tensor arrays (t[i] holds tensor i). */
static void ref_run(const tm_rt_model *m, int8_t **t)
{
    for (uint32_t k = 0; k < m->n_ops; k++) {
        const tm_rt_op_desc *op = &m->ops[k];
        const tm_rt_tensor_desc *I = &m->tensors[op->inputs[0]], *O = &m->tensors[op->output];
        const int8_t *x = t[op->inputs[0]];
        int8_t *y = t[op->output];
        const uint8_t *w = op->weights == TM_RT_NONE ? NULL : m->blob + op->weights;
        int64_t izp = I->zero_point, ozp = O->zero_point;
        switch (op->type) {
        case TM_RT_OP_CONV:
        case TM_RT_OP_DEPTHWISE: {
            int dw = op->type == TM_RT_OP_DEPTHWISE;
            size_t n = (size_t)op->kh * op->kw * (dw ? 1 : I->c);
            size_t rb = op->bits == 8 ? n : (n + 1) / 2;
            for (int oc = 0; oc < O->c; oc++)
                for (int oy = 0; oy < O->h; oy++)
                    for (int ox = 0; ox < O->w; ox++) {
                        int64_t acc = op->bias == TM_RT_NONE ? 0 : blob_i32(m, op->bias, oc);
                        for (int ic = dw ? oc : 0; ic < (dw ? oc + 1 : I->c); ic++)
                            for (int ky = 0; ky < op->kh; ky++)
                                for (int kx = 0; kx < op->kw; kx++) {
                                    int iy = oy * op->stride - op->pad_top + ky;
                                    int ix = ox * op->stride - op->pad_left + kx;
                                    if (iy < 0 || iy >= I->h || ix < 0 || ix >= I->w)
                                        continue;
                                    size_t tap = ((size_t)(dw ? 0 : ic) * op->kh + ky) * op->kw + kx;
                                    acc += (x[((size_t)ic * I->h + iy) * I->w + ix] - izp) *
                                           ref_weight(w, op->bits, rb, (size_t)oc, tap);
                                }
                        y[((size_t)oc * O->h + oy) * O->w + ox] =
                            ref_finish(m, op, acc, oc, (int32_t)ozp);
                    }
            break;
        }
        case TM_RT_OP_DENSE: {
            size_t n = (size_t)I->c * I->h * I->w;
            size_t rb = op->bits == 8 ? n : (n + 1) / 2;
            for (int o = 0; o < O->c; o++) {
                int64_t acc = op->bias == TM_RT_NONE ? 0 : blob_i32(m, op->bias, o);
                for (size_t i = 0; i < n; i++)
                    acc += (x[i] - izp) * ref_weight(w, op->bits, rb, (size_t)o, i);
                y[o] = ref_finish(m, op, acc, o, (int32_t)ozp);
            }
            break;
        }
        case TM_RT_OP_MAXPOOL:
        case TM_RT_OP_AVGPOOL:
            for (int c = 0; c < O->c; c++)
                for (int oy = 0; oy < O->h; oy++)
                    for (int ox = 0; ox < O->w; ox++) {
                        int64_t best = -1000, sum = 0;
                        for (int ky = 0; ky < op->kh; ky++)
                            for (int kx = 0; kx < op->kw; kx++) {
                                int64_t v = x[((size_t)c * I->h + oy * op->stride + ky) * I->w +
                                              ox * op->stride + kx];
                                best = v > best ? v : best;
                                sum += v;
                            }
                        int64_t v = op->type == TM_RT_OP_MAXPOOL
                                        ? best
                                        : round_div_away(sum, (int64_t)op->kh * op->kw);
                        y[((size_t)c * O->h + oy) * O->w + ox] =
                            (int8_t)clamp64(v, op->act_min, op->act_max);
                    }
            break;
        case TM_RT_OP_GLOBALAVGPOOL:
            for (int c = 0; c < O->c; c++) {
                int64_t sum = 0, n = (int64_t)I->h * I->w;
                for (int64_t i = 0; i < n; i++)
                    sum += x[c * n + i];
                y[c] = (int8_t)clamp64(round_div_away(sum, n), op->act_min, op->act_max);
            }
            break;
        case TM_RT_OP_CONCAT:
        case TM_RT_OP_REQUANTIZE: {
            size_t at = 0;
            for (int j = 0; j < op->n_inputs; j++) {
                const tm_rt_tensor_desc *d = &m->tensors[op->inputs[j]];
                size_t n = (size_t)d->c * d->h * d->w;
                for (size_t i = 0; i < n; i++) {
                    int64_t v = ref_requant(t[op->inputs[j]][i] - d->zero_point,
                                            blob_i32(m, op->mult, j), blob_i32(m, op->shift, j)) +
                                ozp;
                    v = clamp64(v, -128, 127);
                    y[at + i] = (int8_t)clamp64(v, op->act_min, op->act_max);
                }
                at += n;
            }
            break;
        }
        case TM_RT_OP_ADD: {
            const tm_rt_tensor_desc *B = &m->tensors[op->inputs[1]];
            for (size_t i = 0; i < (size_t)O->c * O->h * O->w; i++) {
                int64_t sum = 0;
                for (int j = 0; j < 2; j++)
                    sum += ref_requant((t[op->inputs[j]][i] - (j ? B : I)->zero_point) * (1 << 20),
                                       blob_i32(m, op->mult, j), blob_i32(m, op->shift, j));
                int64_t v = ref_requant((int32_t)sum, blob_i32(m, op->mult, 2),
                                        blob_i32(m, op->shift, 2)) +
                            ozp;
                y[i] = (int8_t)clamp64(v, op->act_min, op->act_max);
            }
            break;
        }
        default: ck_abort_msg("reference: unknown op type %u", op->type);
        }
    }
}

static size_t elems(const tm_rt_tensor_desc *d)
{
    return (size_t)d->c * d->h * d->w;
}

/* Expected int8 input tensor, computed here: the front end for audio, then
 * v = (x - mean) / std, q = clamp(round(v / scale) + zp). */
static void expected_input(const tm_rt_model *m, int i, const float *x, int8_t *q)
{
    const tm_rt_input_desc *d = &m->inputs[i];
    const tm_rt_tensor_desc *t = &m->tensors[d->tensor];
    size_t n = elems(t);
    float *feat = malloc(n * sizeof(float));
    ck_assert_ptr_nonnull(feat);
    if (d->kind == TM_RT_INPUT_AUDIO) {
        tm_rt_frontend_config c = d->fe;
        size_t wsb = tm_rt_frontend_workspace_bytes(&c);
        void *ws = malloc(wsb);
        tm_rt_frontend fe;
        ck_assert_int_eq(tm_rt_frontend_init(&fe, &c, ws, wsb), TM_RT_OK);
        ck_assert_uint_eq(tm_rt_frontend_output_size(&c), n);
        ck_assert_int_eq(tm_rt_frontend_run(&fe, x, feat), TM_RT_OK);
        free(ws);
    } else {
        memcpy(feat, x, n * sizeof(float));
    }
    for (size_t j = 0; j < n; j++) {
        float v = feat[j];
        if (d->std > 0.0f)
            v = (v - d->mean) / d->std;
        float r = roundf(v / t->scale);
        q[j] = (int8_t)clamp64((int64_t)r + t->zero_point, -128, 127);
    }
    free(feat);
}

static tm_rt_status set_input(const tm_rt_model *m, void *mem, int i, const float *x)
{
    switch (m->inputs[i].kind) {
    case TM_RT_INPUT_AUDIO: return tm_rt_model_set_audio(m, mem, i, x);
    case TM_RT_INPUT_IMAGE: return tm_rt_model_set_image(m, mem, i, x);
    default: return tm_rt_model_set_features(m, mem, i, x);
    }
}

/* Sets the example inputs from seed, checks each quantised input tensor
 * against expected_input, invokes, and checks the logits against ref_run.
 * The logits go to logits_out. */
static void run_and_compare(const tm_rt_model *m, void *mem, uint32_t seed, int8_t *logits_out)
{
    float xs[4096];
    size_t offs[TM_RT_MAX_MODEL_INPUTS];
    tm_rt_example_inputs(m, seed, xs, sizeof xs / sizeof xs[0], offs);
    int8_t *t[TM_RT_MAX_TENSORS];
    for (uint32_t i = 0; i < m->n_tensors; i++) {
        t[i] = calloc(elems(&m->tensors[i]), 1);
        ck_assert_ptr_nonnull(t[i]);
    }
    for (uint32_t i = 0; i < m->n_inputs; i++) {
        const tm_rt_input_desc *d = &m->inputs[i];
        size_t n = elems(&m->tensors[d->tensor]);
        ck_assert_int_eq(set_input(m, mem, (int)i, xs + offs[i]), TM_RT_OK);
        expected_input(m, (int)i, xs + offs[i], t[d->tensor]);
        const int8_t *got = tm_rt_model_tensor(m, mem, d->tensor);
        for (size_t j = 0; j < n; j++)
            ck_assert_msg(got[j] == t[d->tensor][j], "input %u element %zu: %d != %d", i, j,
                          got[j], t[d->tensor][j]);
    }
    ck_assert_int_eq(tm_rt_model_invoke(m, mem), TM_RT_OK);
    ref_run(m, t);
    const int8_t *logits = tm_rt_model_logits(m, mem);
    const int8_t *want = t[m->output];
    for (uint32_t c = 0; c < m->n_classes; c++)
        ck_assert_msg(logits[c] == want[c], "seed %u class %u: runtime %d, reference %d", seed, c,
                      logits[c], want[c]);
    memcpy(logits_out, logits, m->n_classes);
    for (uint32_t i = 0; i < m->n_tensors; i++)
        free(t[i]);
}

static void check_matches_reference(int which, uint32_t flags)
{
    built b = build_example_plan(which, 11, flags);
    tm_rt_model m;
    ck_assert_int_eq(tm_rt_model_open(&m, b.bytes, b.size), TM_RT_OK);
    void *mem = malloc(tm_rt_model_memory_bytes(&m));
    ck_assert_ptr_nonnull(mem);
    int distinct = 0, inner = 0, total = 0;
    int8_t prev[32][TM_RT_MAX_CLASSES];
    for (uint32_t seed = 1; seed <= 24; seed++) {
        int8_t lg[TM_RT_MAX_CLASSES];
        run_and_compare(&m, mem, seed, lg);
        int seen = 0;
        for (uint32_t k = 0; k + 1 < seed; k++)
            seen |= memcmp(prev[k], lg, m.n_classes) == 0;
        distinct += !seen;
        memcpy(prev[seed - 1], lg, m.n_classes);
        for (uint32_t c = 0; c < m.n_classes; c++) {
            inner += lg[c] > -128 && lg[c] < 127;
            total++;
        }
        float p[TM_RT_MAX_CLASSES], sum = 0;
        tm_rt_model_scores(&m, mem, p);
        uint32_t arg_p = 0, arg_l = 0;
        for (uint32_t c = 0; c < m.n_classes; c++) {
            sum += p[c];
            arg_p = p[c] > p[arg_p] ? c : arg_p;
            arg_l = lg[c] > lg[arg_l] ? c : arg_l;
        }
        ck_assert_float_eq_tol(sum, 1.0f, 1e-5f);
        ck_assert_uint_eq(arg_p, arg_l);
    }
    /* The comparison means something only if the logits are not constant
     * or saturated. */
    ck_assert_int_ge(distinct, 12);
    ck_assert_int_ge(inner * 4, total * 3);
    free(mem);
    free(b.bytes);
}

START_TEST(two_branch_matches_int64_reference)
{
    check_matches_reference(EX_TWO_BRANCH, 0);
    check_matches_reference(EX_TWO_BRANCH, TM_RT_FLAG_STREAM);
}
END_TEST

START_TEST(chain_matches_int64_reference)
{
    check_matches_reference(EX_CHAIN, 0);
    check_matches_reference(EX_CHAIN, TM_RT_FLAG_STREAM);
}
END_TEST

/* ---- arena planning ------------------------------------------------------------ */

static void check_plan(int which)
{
    built b = build_example(which, 3);
    tm_rt_model m;
    ck_assert_int_eq(tm_rt_model_open(&m, b.bytes, b.size), TM_RT_OK);
    tm_rt_file_header h = header_of(b.bytes);
    ck_assert_uint_eq(h.arena_bytes, b.arena_bytes);
    ck_assert_uint_eq(h.scratch_bytes, b.scratch_bytes);
    ck_assert_uint_eq(h.workspace_bytes, b.workspace_bytes);
    ck_assert_uint_eq(m.arena_bytes, h.arena_bytes);

    /* Lifetimes computed here, independently of the runtime's. */
    int first[TM_RT_MAX_TENSORS], last[TM_RT_MAX_TENSORS];
    size_t sum = 0, max_end = 0;
    for (uint32_t t = 0; t < m.n_tensors; t++) {
        first[t] = 1 << 30;
        last[t] = -(1 << 30);
        sum += elems(&m.tensors[t]);
        ck_assert_uint_eq(m.tensors[t].arena_offset % 16, 0);
        ck_assert_uint_eq(m.tensors[t].arena_offset, b.tensors[t].arena_offset);
        size_t end = m.tensors[t].arena_offset + elems(&m.tensors[t]);
        max_end = end > max_end ? end : max_end;
    }
    for (uint32_t i = 0; i < m.n_inputs; i++)
        first[m.inputs[i].tensor] = last[m.inputs[i].tensor] = -1;
    for (uint32_t k = 0; k < m.n_ops; k++) {
        int ts[TM_RT_MAX_OP_INPUTS + 1], n = 0;
        for (int j = 0; j < m.ops[k].n_inputs; j++)
            ts[n++] = m.ops[k].inputs[j];
        ts[n++] = m.ops[k].output;
        for (int j = 0; j < n; j++) {
            first[ts[j]] = (int)k < first[ts[j]] ? (int)k : first[ts[j]];
            last[ts[j]] = (int)k > last[ts[j]] ? (int)k : last[ts[j]];
        }
    }
    last[m.output] = (int)m.n_ops;
    int shared = 0;
    for (uint32_t a = 0; a < m.n_tensors; a++)
        for (uint32_t c = a + 1; c < m.n_tensors; c++) {
            size_t a0 = m.tensors[a].arena_offset, a1 = a0 + elems(&m.tensors[a]);
            size_t c0 = m.tensors[c].arena_offset, c1 = c0 + elems(&m.tensors[c]);
            int live_together = first[a] <= last[c] && first[c] <= last[a];
            int overlap = a0 < c1 && c0 < a1;
            ck_assert_msg(!(live_together && overlap),
                          "tensors %u and %u are live together and overlap", a, c);
            shared += overlap;
        }
    ck_assert_uint_ge(h.arena_bytes, max_end);
    ck_assert_uint_lt(h.arena_bytes, max_end + 16);
    ck_assert_int_gt(shared, 0);
    ck_assert_uint_lt(h.arena_bytes, sum);

    /* Scratch: the largest the kernels ask for; workspace: the front end. */
    size_t scratch = 0;
    for (uint32_t k = 0; k < m.n_ops; k++) {
        const tm_rt_op_desc *op = &m.ops[k];
        if (op->bits == 0)
            continue;
        const tm_rt_tensor_desc *I = &m.tensors[op->inputs[0]], *O = &m.tensors[op->output];
        tm_rt_conv_args a;
        memset(&a, 0, sizeof a);
        int dense = op->type == TM_RT_OP_DENSE;
        a.in_c = dense ? (int)elems(I) : I->c;
        a.in_h = dense ? 1 : I->h;
        a.in_w = dense ? 1 : I->w;
        a.out_c = O->c;
        a.out_h = O->h;
        a.out_w = O->w;
        a.kh = dense ? 1 : op->kh;
        a.kw = dense ? 1 : op->kw;
        a.stride = dense ? 1 : op->stride;
        a.pad_top = op->pad_top;
        a.pad_left = op->pad_left;
        a.bits = op->bits;
        a.in_zp = I->zero_point;
        a.out_zp = O->zero_point;
        a.act_min = op->act_min;
        a.act_max = op->act_max;
        tm_rt_kernel_kind kind = op->type == TM_RT_OP_DEPTHWISE ? TM_RT_KERNEL_DEPTHWISE
                                 : dense                         ? TM_RT_KERNEL_DENSE
                                                                 : TM_RT_KERNEL_CONV;
        size_t s = tm_rt_kernel_scratch_bytes(&a, kind);
        scratch = s > scratch ? s : scratch;
    }
    ck_assert_uint_eq(h.scratch_bytes, scratch);
    if (which == EX_TWO_BRANCH) {
        ck_assert_uint_gt(h.workspace_bytes, 0);
        ck_assert_uint_eq(h.workspace_bytes, tm_rt_model_input_workspace_bytes(&m.inputs[1]));
    } else {
        ck_assert_uint_eq(h.workspace_bytes, 0);
    }
    /* The memory reserves this build's scratch (here the builder's own, so
     * the file's number), not the file's bound as such. */
    ck_assert_uint_eq(m.scratch_need, scratch);
    size_t a16 = (h.arena_bytes + 15u) & ~(size_t)15u, s16 = (scratch + 15u) & ~(size_t)15u;
    ck_assert_uint_eq(tm_rt_model_memory_bytes(&m), 15u + a16 + s16 + h.workspace_bytes);
    printf("model %d: file %zu bytes, arena %u (sum of tensors %zu), scratch %u, workspace %u\n",
           which, b.size, h.arena_bytes, sum, h.scratch_bytes, h.workspace_bytes);
    free(b.bytes);
}

START_TEST(arena_reuses_memory_without_live_overlap)
{
    check_plan(EX_TWO_BRANCH);
    check_plan(EX_CHAIN);
}
END_TEST

/* ---- round trip, determinism, reentrancy ------------------------------------- */

START_TEST(round_trip_reentrant_and_deterministic)
{
    built a = build_example(EX_TWO_BRANCH, 5), b = build_example(EX_TWO_BRANCH, 5);
    ck_assert_uint_eq(a.size, b.size);
    ck_assert_int_eq(memcmp(a.bytes, b.bytes, a.size), 0);
    built c = build_example(EX_TWO_BRANCH, 6);
    ck_assert_int_ne(memcmp(a.bytes, c.bytes, a.size), 0);

    tm_rt_model m1, m2;
    ck_assert_int_eq(tm_rt_model_open(&m1, a.bytes, a.size), TM_RT_OK);
    /* A second copy, as if written to a file and read back. */
    uint8_t *copy = malloc(a.size);
    memcpy(copy, a.bytes, a.size);
    ck_assert_int_eq(tm_rt_model_open(&m2, copy, a.size), TM_RT_OK);
    ck_assert_str_eq(m2.class_names[3], "three");
    ck_assert_str_eq(m2.inputs[1].name, "audio");
    ck_assert_uint_eq(tm_rt_model_input_floats(&m2, 1), 256);
    ck_assert_uint_eq(tm_rt_model_input_floats(&m2, 0), 64);
    ck_assert_uint_eq(tm_rt_model_input_floats(&m2, 2), 0);

    size_t mb = tm_rt_model_memory_bytes(&m1);
    uint8_t *mem1 = malloc(mb + 16), *mem2 = malloc(mb + 16);
    for (uint32_t seed = 1; seed <= 6; seed++) {
        int8_t l1[8], l2[8], l3[8];
        run_and_compare(&m1, mem1, seed, l1);
        /* Another block (misaligned on purpose) and the copy: same logits. */
        run_and_compare(&m2, mem2 + seed, seed, l2);
        ck_assert_int_eq(memcmp(l1, l2, m1.n_classes), 0);
        /* Interleaved: a third run in mem1 with another input, then mem2's
         * logits are still those of its own last invoke. */
        run_and_compare(&m1, mem1, seed + 100, l3);
        ck_assert_int_eq(memcmp(tm_rt_model_logits(&m2, mem2 + seed), l2, m1.n_classes), 0);
    }
    /* Wrong setter for the kind, bad indices, NULLs. */
    ck_assert_int_eq(tm_rt_model_set_audio(&m1, mem1, 0, (float[64]){0}), TM_RT_ERR_ARG);
    ck_assert_int_eq(tm_rt_model_set_image(&m1, mem1, 1, (float[256]){0}), TM_RT_ERR_ARG);
    ck_assert_int_eq(tm_rt_model_set_features(&m1, mem1, 2, (float[64]){0}), TM_RT_ERR_ARG);
    ck_assert_int_eq(tm_rt_model_invoke(&m1, NULL), TM_RT_ERR_ARG);
    ck_assert_ptr_null(tm_rt_model_tensor(&m1, mem1, 99));
    ck_assert_ptr_null(tm_rt_model_tensor(&m1, mem1, -1));
    /* set_features on an audio input bypasses the front end. */
    float feats[28];
    for (int i = 0; i < 28; i++)
        feats[i] = (float)i - 14.0f;
    ck_assert_int_eq(tm_rt_model_set_features(&m1, mem1, 1, feats), TM_RT_OK);
    const int8_t *q = tm_rt_model_tensor(&m1, mem1, m1.inputs[1].tensor);
    for (int i = 0; i < 28; i++) {
        float v = (feats[i] - m1.inputs[1].mean) / m1.inputs[1].std;
        ck_assert_int_eq(q[i], (int)clamp64((int64_t)roundf(v / 0.03f), -128, 127));
    }
    /* 16-bit PCM gives the input tensor of its scaled floats, bit for bit. */
    {
        int ns = m1.inputs[1].fe.num_samples;
        int16_t *pcm = malloc(sizeof(int16_t) * (size_t)ns);
        float *x = malloc(sizeof(float) * (size_t)ns);
        size_t nt = elems(&m1.tensors[m1.inputs[1].tensor]);
        int8_t *via_f = malloc(nt);
        ck_assert(pcm && x && via_f);
        for (int i = 0; i < ns; i++) {
            pcm[i] = (int16_t)(i % 5 == 0 ? -32768 : (i * 7919) % 65536 - 32768);
            x[i] = pcm[i] / 32768.0f;
        }
        ck_assert_int_eq(tm_rt_model_set_audio(&m1, mem1, 1, x), TM_RT_OK);
        memcpy(via_f, tm_rt_model_tensor(&m1, mem1, m1.inputs[1].tensor), nt);
        memset(tm_rt_model_tensor(&m1, mem1, m1.inputs[1].tensor), 0x55, nt);
        ck_assert_int_eq(tm_rt_model_set_audio_i16(&m1, mem1, 1, pcm), TM_RT_OK);
        ck_assert_int_eq(memcmp(via_f, tm_rt_model_tensor(&m1, mem1, m1.inputs[1].tensor), nt),
                         0);
        ck_assert_int_eq(tm_rt_model_set_audio_i16(&m1, mem1, 0, pcm), TM_RT_ERR_ARG);
        ck_assert_int_eq(tm_rt_model_set_audio_i16(&m1, mem1, 1, NULL), TM_RT_ERR_ARG);
        free(pcm);
        free(x);
        free(via_f);
    }
    /* Unaligned bytes are refused. */
    uint8_t *odd = malloc(a.size + 1);
    memcpy(odd + 1, a.bytes, a.size);
    ck_assert_int_eq(tm_rt_model_open(&m2, odd + 1, a.size), TM_RT_ERR_ARG);
    free(odd);
    free(mem1);
    free(mem2);
    free(copy);
    free(a.bytes);
    free(b.bytes);
    free(c.bytes);
}
END_TEST

/* ---- corrupted files ---------------------------------------------------------------- */

typedef struct tally {
    int tried, rejected, ran;
} tally;

/* Opens an exact-size heap copy (so a read past the end is an ASan error);
 * if it opens, runs it with exact-size memory and inputs. */
static tm_rt_status try_model(const uint8_t *bytes, size_t n, tally *tl)
{
    uint8_t *copy = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, bytes, n);
    tm_rt_model m;
    tm_rt_status s = tm_rt_model_open(&m, copy, n);
    tl->tried++;
    if (s != TM_RT_OK) {
        ck_assert_int_eq(s, TM_RT_ERR_FORMAT);
        ck_assert_int_gt((int)strlen(tm_rt_model_error(&m)), 3);
        tl->rejected++;
    } else if (tm_rt_model_memory_bytes(&m) <= ((size_t)64 << 20)) {
        size_t mb = tm_rt_model_memory_bytes(&m);
        uint8_t *mem = malloc(mb);
        ck_assert_ptr_nonnull(mem);
        memset(mem, 0, mb);
        for (uint32_t i = 0; i < m.n_inputs; i++) {
            size_t nf = tm_rt_model_input_floats(&m, (int)i);
            float *x = malloc((nf ? nf : 1) * sizeof(float));
            for (size_t j = 0; j < nf; j++)
                x[j] = (float)((j * 7) % 13) / 13.0f - 0.4f;
            set_input(&m, mem, (int)i, x);
            free(x);
        }
        tm_rt_model_invoke(&m, mem);
        float *p = malloc(m.n_classes * sizeof(float));
        tm_rt_model_scores(&m, mem, p);
        free(p);
        free(mem);
        tl->ran++;
    }
    free(copy);
    return s;
}

static uint32_t rnd(uint32_t *s)
{
    return tm_rt_ex_next(s);
}

static void corrupt_all(int which, uint32_t flags, tally *trunc, tally *flips, tally *raw,
                        tally *sealed, tally *blob)
{
    built b = build_example_plan(which, 9, flags);
    tally ok = {0, 0, 0};
    ck_assert_int_eq(try_model(b.bytes, b.size, &ok), TM_RT_OK);
    ck_assert_int_eq(ok.ran, 1);
    uint8_t *w = malloc(b.size + 8);
    uint32_t s = 12345u + (uint32_t)which;
    tm_rt_file_header h = header_of(b.bytes);

    /* Every truncation, and a few extensions. */
    for (size_t n = 0; n < b.size; n++)
        ck_assert_int_eq(try_model(b.bytes, n, trunc), TM_RT_ERR_FORMAT);
    memcpy(w, b.bytes, b.size);
    memset(w + b.size, 0, 8);
    for (size_t extra = 1; extra <= 8; extra++)
        ck_assert_int_eq(try_model(w, b.size + extra, trunc), TM_RT_ERR_FORMAT);

    /* Bit flips (1 to 3 bits): CRC-32 catches every one. */
    for (int k = 0; k < 1000; k++) {
        memcpy(w, b.bytes, b.size);
        int nb = 1 + k % 3;
        for (int j = 0; j < nb; j++) {
            size_t bit = rnd(&s) % (b.size * 8);
            w[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        }
        if (memcmp(w, b.bytes, b.size) == 0)
            continue;
        ck_assert_int_eq(try_model(w, b.size, flips), TM_RT_ERR_FORMAT);
    }

    static const uint32_t special[] = {0u, 1u, 2u, 3u, 4u, 7u, 8u, 15u, 16u, 31u, 32u,
                                       63u, 64u, 255u, 256u, 0x7FFFu, 0xFFFFu, 0x10000u,
                                       0x3FFFFFFFu, 0x40000000u, 0x7FFFFFFFu, 0x80000000u,
                                       0xFFFFFF80u, 0xFFFFFFFEu, 0xFFFFFFFFu,
                                       0x3F800000u /* 1.0f */, 0xBF800000u /* -1.0f */,
                                       0x7F800000u /* inf */, 0x7FC00000u /* NaN */,
                                       0x00000001u /* denormal */};
    const size_t nspecial = sizeof special / sizeof special[0];
    /* Word overwrites in the header and tables: without resealing (CRC
     * rejects), then resealed so the structural checks must do the work. */
    for (int k = 0; k < 3000; k++) {
        memcpy(w, b.bytes, b.size);
        size_t words = h.blob_offset / 4;
        size_t at = (rnd(&s) % words) * 4;
        if (at == offsetof(tm_rt_file_header, crc32))
            continue;
        uint32_t v, old;
        memcpy(&old, w + at, 4);
        switch (rnd(&s) % 4) {
        case 0: v = special[rnd(&s) % nspecial]; break;
        case 1: v = old + (uint32_t)(int32_t)((int32_t)(rnd(&s) % 33) - 16); break;
        case 2: v = old ^ (1u << (rnd(&s) % 32)); break;
        default: v = rnd(&s); break;
        }
        if (v == old)
            continue;
        memcpy(w + at, &v, 4);
        if (k % 6 == 0) {
            ck_assert_int_eq(try_model(w, b.size, raw), TM_RT_ERR_FORMAT);
            continue;
        }
        reseal(w, b.size);
        try_model(w, b.size, sealed);
        /* Sometimes a second field too. */
        if (k % 5 == 0) {
            size_t at2 = (rnd(&s) % words) * 4;
            if (at2 != offsetof(tm_rt_file_header, crc32)) {
                uint32_t v2 = special[rnd(&s) % nspecial];
                memcpy(w + at2, &v2, 4);
                reseal(w, b.size);
                try_model(w, b.size, sealed);
            }
        }
    }
    /* Byte overwrites anywhere, resealed (the blob: weights, bias, mult,
     * shift values the checks must bound). */
    for (int k = 0; k < 1000; k++) {
        memcpy(w, b.bytes, b.size);
        size_t at = rnd(&s) % b.size;
        if (at >= offsetof(tm_rt_file_header, crc32) && at < offsetof(tm_rt_file_header, crc32) + 4)
            continue;
        w[at] = (uint8_t)rnd(&s);
        reseal(w, b.size);
        try_model(w, b.size, blob);
    }
    free(w);
    free(b.bytes);
}

/* The builder's streamed plan: the examples' conv / depthwise / pool chains
 * (3x3 stride 1 and 2, pad 0 and 1, a chain ending in a pool and one ending
 * in a depthwise) never store their inner tensors, need a smaller arena
 * than every tensor in it, compute the same logits, and open checks what a
 * streamed tensor may be. */
static void check_streamed(int which)
{
    built f = build_example_plan(which, 4, 0), s = build_example_plan(which, 4, TM_RT_FLAG_STREAM);
    tm_rt_model mf, ms;
    ck_assert_int_eq(tm_rt_model_open(&mf, f.bytes, f.size), TM_RT_OK);
    ck_assert_int_eq(tm_rt_model_open(&ms, s.bytes, s.size), TM_RT_OK);
    ck_assert_uint_eq(mf.flags, 0);
    ck_assert_uint_eq(ms.flags, TM_RT_FLAG_STREAM);
    int streamed = 0;
    for (uint32_t t = 0; t < ms.n_tensors; t++)
        if (ms.tensors[t].arena_offset == TM_RT_STREAMED) {
            streamed++;
            ck_assert_ptr_null(tm_rt_model_tensor(&ms, s.bytes, (int32_t)t));
        }
    ck_assert_int_ge(streamed, 2);
    ck_assert_uint_lt(ms.arena_bytes, mf.arena_bytes);
    uint8_t *mem_f = malloc(tm_rt_model_memory_bytes(&mf)), *mem_s = malloc(tm_rt_model_memory_bytes(&ms));
    ck_assert_ptr_nonnull(mem_f);
    ck_assert_ptr_nonnull(mem_s);
    for (uint32_t seed = 1; seed <= 8; seed++) {
        int8_t lf[TM_RT_MAX_CLASSES], ls[TM_RT_MAX_CLASSES];
        run_and_compare(&mf, mem_f, seed, lf);
        run_and_compare(&ms, mem_s, seed, ls);
        ck_assert_int_eq(memcmp(lf, ls, ms.n_classes), 0);
    }
    free(mem_f);
    free(mem_s);

    uint8_t *w = malloc(s.size);
    tm_rt_file_header h = header_of(s.bytes);
    /* Without the header flag a streamed tensor lies outside the arena. */
    memcpy(w, s.bytes, s.size);
    uint32_t zero = 0;
    memcpy(w + offsetof(tm_rt_file_header, flags), &zero, 4);
    reseal(w, s.size);
    ck_assert_int_eq(tm_rt_model_open(&ms, w, s.size), TM_RT_ERR_FORMAT);
    /* Streaming the model input, the output, or what a dense or concat
     * reads is refused. */
    for (uint32_t t = 0; t < h.n_tensors; t++) {
        const tm_rt_tensor_desc *d = &mf.tensors[t];
        if (d->arena_offset == TM_RT_STREAMED)
            continue;
        int reader_ok = 1, is_input = 0;
        for (uint32_t k = 0; k < mf.n_ops; k++)
            for (int32_t j = 0; j < mf.ops[k].n_inputs; j++)
                if (mf.ops[k].inputs[j] == (int32_t)t)
                    reader_ok &= mf.ops[k].type == TM_RT_OP_CONV ||
                                 mf.ops[k].type == TM_RT_OP_DEPTHWISE ||
                                 mf.ops[k].type == TM_RT_OP_MAXPOOL;
        for (uint32_t i = 0; i < mf.n_inputs; i++)
            is_input |= mf.inputs[i].tensor == (int32_t)t;
        if (reader_ok && !is_input && (int32_t)t != mf.output)
            continue;
        memcpy(w, s.bytes, s.size);
        uint32_t none = TM_RT_STREAMED;
        memcpy(w + h.tensors_offset + t * sizeof(tm_rt_tensor_desc) +
                   offsetof(tm_rt_tensor_desc, arena_offset),
               &none, 4);
        reseal(w, s.size);
        ck_assert_msg(tm_rt_model_open(&ms, w, s.size) == TM_RT_ERR_FORMAT,
                      "streamed tensor %u accepted", t);
    }
    free(w);
    free(f.bytes);
    free(s.bytes);
}

START_TEST(streamed_chains_match_and_are_checked)
{
    check_streamed(EX_TWO_BRANCH);
    check_streamed(EX_CHAIN);
}
END_TEST

START_TEST(corrupted_files_are_rejected_or_run_safely)
{
    tally trunc = {0, 0, 0}, flips = {0, 0, 0}, raw = {0, 0, 0}, sealed = {0, 0, 0},
          blob = {0, 0, 0};
    for (uint32_t flags = 0; flags <= TM_RT_FLAG_STREAM; flags += TM_RT_FLAG_STREAM) {
        corrupt_all(EX_TWO_BRANCH, flags, &trunc, &flips, &raw, &sealed, &blob);
        corrupt_all(EX_CHAIN, flags, &trunc, &flips, &raw, &sealed, &blob);
    }
    int total = trunc.tried + flips.tried + raw.tried + sealed.tried + blob.tried;
    printf("corrupted variants: %d (truncated %d, bit flips %d, unsealed overwrites %d: all "
           "rejected; resealed field overwrites %d: %d rejected, %d ran; resealed byte "
           "overwrites %d: %d rejected, %d ran)\n",
           total, trunc.tried, flips.tried, raw.tried, sealed.tried, sealed.rejected, sealed.ran,
           blob.tried, blob.rejected, blob.ran);
    ck_assert_int_ge(total, 2000);
    ck_assert_int_eq(trunc.rejected, trunc.tried);
    ck_assert_int_eq(flips.rejected, flips.tried);
    ck_assert_int_eq(raw.rejected, raw.tried);
    /* Most resealed header/table edits break a structural rule. */
    ck_assert_int_ge(sealed.tried, 2000);
    ck_assert_int_ge(sealed.rejected * 10, sealed.tried * 7);
    ck_assert_int_gt(sealed.ran, 0);
}
END_TEST

/* ---- targeted edits: each rule names itself ----------------------------------- */

typedef struct edit_ctx {
    built b;
    uint8_t *w;
    tm_rt_file_header h;
} edit_ctx;

static void edit_begin(edit_ctx *e)
{
    memcpy(e->w, e->b.bytes, e->b.size);
}

static void put32(edit_ctx *e, size_t at, uint32_t v)
{
    memcpy(e->w + at, &v, 4);
}

static size_t tensor_at(edit_ctx *e, int t, size_t field)
{
    return e->h.tensors_offset + (size_t)t * sizeof(tm_rt_tensor_desc) + field;
}

static size_t op_at(edit_ctx *e, int k, size_t field)
{
    return e->h.ops_offset + (size_t)k * sizeof(tm_rt_op_desc) + field;
}

static size_t input_at(edit_ctx *e, int i, size_t field)
{
    return e->h.inputs_offset + (size_t)i * sizeof(tm_rt_input_desc) + field;
}

static uint32_t get32(edit_ctx *e, size_t at)
{
    uint32_t v;
    memcpy(&v, e->w + at, 4);
    return v;
}

static void expect_reject(edit_ctx *e, const char *label, const char *reason)
{
    reseal(e->w, e->b.size);
    tm_rt_model m;
    uint8_t *copy = malloc(e->b.size);
    memcpy(copy, e->w, e->b.size);
    tm_rt_status s = tm_rt_model_open(&m, copy, e->b.size);
    free(copy);
    ck_assert_msg(s == TM_RT_ERR_FORMAT, "%s: accepted", label);
    ck_assert_msg(strstr(tm_rt_model_error(&m), reason) != NULL, "%s: reason '%s', expected '%s'",
                  label, tm_rt_model_error(&m), reason);
}

#define FLOAT_BITS(f) ((union { float x; uint32_t u; }){.x = (f)}.u)

START_TEST(targeted_edits_are_rejected_with_a_reason)
{
    edit_ctx e;
    e.b = build_example(EX_TWO_BRANCH, 2);
    e.w = malloc(e.b.size + 4);
    e.h = header_of(e.b.bytes);
    const tm_rt_file_header H = e.h;
    /* Tensors: 0 img, 1 aud, 2 c1, 3 d1, 4 p1, 5 m1, 6 v1, 7 c2, 8 a2, 9 v2,
     * 10 cat, 11 out. Ops: 0 conv, 1 depthwise, 2 pointwise, 3 maxpool,
     * 4 dense, 5 conv, 6 avgpool, 7 dense (no bias), 8 concat, 9 dense. */
#define HDR(f) offsetof(tm_rt_file_header, f)
#define TEN(t, f) tensor_at(&e, t, offsetof(tm_rt_tensor_desc, f))
#define OP(k, f) op_at(&e, k, offsetof(tm_rt_op_desc, f))
#define INP(i, f) input_at(&e, i, offsetof(tm_rt_input_desc, f))
#define CASE(label, reason, ...)          \
    do {                                  \
        edit_begin(&e);                   \
        __VA_ARGS__;                      \
        expect_reject(&e, label, reason); \
    } while (0)

    CASE("magic", "magic", put32(&e, HDR(magic), 0x12345678u));
    CASE("version", "version", put32(&e, HDR(version), 3));
    CASE("version 1", "export the model again", put32(&e, HDR(version), 1));
    CASE("label column", "label_column", memset(e.w + HDR(label_column), 'a', TM_RT_NAME_LEN));
    CASE("header_bytes", "header_bytes", put32(&e, HDR(header_bytes), 84));
    CASE("file_bytes", "longer than file_bytes", put32(&e, HDR(file_bytes), H.file_bytes - 4));
    CASE("flags", "flags", put32(&e, HDR(flags), 2));
    CASE("n_tensors 0", "n_tensors", put32(&e, HDR(n_tensors), 0));
    CASE("n_tensors 257", "n_tensors", put32(&e, HDR(n_tensors), 257));
    CASE("n_ops 0", "n_ops", put32(&e, HDR(n_ops), 0));
    CASE("n_inputs 5", "n_inputs", put32(&e, HDR(n_inputs), 5));
    CASE("n_classes 0", "n_classes", put32(&e, HDR(n_classes), 0));
    CASE("arena 2^30+1", "above 2^30", put32(&e, HDR(arena_bytes), (1u << 30) + 1));
    CASE("tensor table unaligned", "tensor table", put32(&e, HDR(tensors_offset), 82));
    CASE("tensor table in header", "tensor table", put32(&e, HDR(tensors_offset), 40));
    CASE("op table overlaps", "op table", put32(&e, HDR(ops_offset), H.tensors_offset));
    CASE("op table past end", "op table", put32(&e, HDR(n_ops), 200));
    CASE("input table", "input table", put32(&e, HDR(inputs_offset), H.ops_offset));
    CASE("class table", "class names", put32(&e, HDR(classes_offset), H.file_bytes));
    CASE("blob unaligned", "blob", put32(&e, HDR(blob_offset), H.blob_offset + 4));
    CASE("blob short", "blob", put32(&e, HDR(blob_bytes), H.blob_bytes - 4));
    CASE("tensor c 0", "dimension", put32(&e, TEN(4, c), 0));
    CASE("tensor w huge", "dimension", put32(&e, TEN(4, w), 70000));
    CASE("tensor too big", "2^24", (put32(&e, TEN(4, c), 65535), put32(&e, TEN(4, h), 65535)));
    CASE("tensor scale NaN", "scale", put32(&e, TEN(2, scale), 0x7FC00000u));
    CASE("tensor scale 0", "scale", put32(&e, TEN(2, scale), 0));
    CASE("tensor scale inf", "scale", put32(&e, TEN(2, scale), 0x7F800000u));
    CASE("tensor zero point", "zero_point", put32(&e, TEN(2, zero_point), 200));
    CASE("arena offset", "past arena_bytes", put32(&e, TEN(3, arena_offset), H.arena_bytes));
    CASE("live overlap", "shares arena bytes",
         put32(&e, TEN(3, arena_offset), get32(&e, TEN(2, arena_offset))));
    CASE("output index", "output tensor index", put32(&e, HDR(output), 99));
    CASE("output size", "n_classes", put32(&e, HDR(output), 6));
    CASE("input name", "NUL", memset(e.w + INP(0, name), 'a', TM_RT_NAME_LEN));
    CASE("input kind", "kind", put32(&e, INP(0, kind), 7));
    CASE("input column", "column", memset(e.w + INP(0, column), 'a', TM_RT_NAME_LEN));
    CASE("image fit", "fit", put32(&e, INP(0, fit), 1));
    CASE("audio fit", "fit", put32(&e, INP(1, fit), 2));
    CASE("input tensor", "tensor index", put32(&e, INP(0, tensor), 12));
    CASE("input same tensor", "already filled", put32(&e, INP(1, tensor), 0));
    CASE("input std < 0", "std", put32(&e, INP(1, std), FLOAT_BITS(-1.0f)));
    CASE("input mean inf", "mean", put32(&e, INP(1, mean), 0x7F800000u));
    CASE("audio fmax", "fmax exceeds", put32(&e, INP(1, fe.fmax), FLOAT_BITS(5000.0f)));
    CASE("audio hop 0", "hop_length", put32(&e, INP(1, fe.hop_length), 0));
    CASE("audio frames", "frames x coefs", put32(&e, INP(1, fe.n_mfcc), 5));
    CASE("audio workspace", "workspace", put32(&e, HDR(workspace_bytes), H.workspace_bytes - 1));
    CASE("op type", "unknown op type", put32(&e, OP(0, type), 99));
    CASE("op version", "version", put32(&e, OP(0, version), 2));
    CASE("conv n_inputs", "n_inputs", put32(&e, OP(0, n_inputs), 2));
    CASE("concat n_inputs", "1..4", put32(&e, OP(8, n_inputs), 5));
    CASE("unused slot", "unused input slots", put32(&e, OP(0, inputs[2]), 0));
    CASE("input index", "input tensor index", put32(&e, OP(0, inputs[0]), 0xFFFFFFF0u));
    CASE("output index", "output tensor index", put32(&e, OP(0, output), 12));
    CASE("in place", "also an input", put32(&e, OP(0, output), 0));
    CASE("stride 0", "stride", put32(&e, OP(0, stride), 0));
    CASE("kernel 0", "kernel size", put32(&e, OP(0, kh), 0));
    CASE("kernel 65", "kernel size", put32(&e, OP(0, kw), 65));
    CASE("pad >= kernel", "pads", put32(&e, OP(0, pad_top), 3));
    CASE("pad < 0", "pads", put32(&e, OP(0, pad_left), 0xFFFFFFFFu));
    CASE("conv bits 5", "bits must be 4 or 8", put32(&e, OP(0, bits), 5));
    CASE("pool bits 8", "bits must be 0", put32(&e, OP(3, bits), 8));
    CASE("act range", "act_min", (put32(&e, OP(0, act_min), 10), put32(&e, OP(0, act_max), 5)));
    CASE("act 200", "act_min", put32(&e, OP(0, act_max), 200));
    CASE("conv height", "output height", put32(&e, OP(0, stride), 2));
    CASE("conv width", "output width", put32(&e, TEN(2, w), 3));
    CASE("conv bits 4", "weights_bytes", put32(&e, OP(0, bits), 4));
    CASE("weights_bytes", "weights_bytes", put32(&e, OP(0, weights_bytes), get32(&e, OP(0, weights_bytes)) + 1));
    CASE("depthwise channels", "depthwise output channels", put32(&e, OP(1, output), 4));
    CASE("dense input size", "weights_bytes", put32(&e, OP(9, inputs[0]), 6));
    CASE("dense output", "vector", put32(&e, OP(4, output), 4));
    CASE("weights past blob", "weights range", put32(&e, OP(0, weights), H.blob_bytes));
    CASE("weights none", "weights range", put32(&e, OP(0, weights), TM_RT_NONE));
    CASE("bias unaligned", "bias range", put32(&e, OP(0, bias), get32(&e, OP(0, bias)) + 2));
    CASE("bias past blob", "bias range", put32(&e, OP(0, bias), H.blob_bytes - 4));
    CASE("mult past blob", "mult range", put32(&e, OP(9, mult), H.blob_bytes));
    CASE("shift none", "shift range", put32(&e, OP(9, shift), TM_RT_NONE));
    CASE("mult value", "mult", put32(&e, H.blob_offset + get32(&e, OP(0, mult)), 5));
    CASE("mult negative", "mult", put32(&e, H.blob_offset + get32(&e, OP(0, mult)), 0x80000000u));
    CASE("shift value", "shift", put32(&e, H.blob_offset + get32(&e, OP(0, shift)), 40));
    CASE("pool weights", "absent", put32(&e, OP(3, weights), 0));
    CASE("pool mult", "absent", put32(&e, OP(3, mult), 0));
    CASE("pool not square", "square", put32(&e, OP(3, kw), 1));
    CASE("pool shape", "output shape", put32(&e, OP(3, stride), 1));
    CASE("pool scale", "scale and zero point", put32(&e, TEN(5, scale), FLOAT_BITS(0.5f)));
    CASE("pool pads", "no padding", put32(&e, OP(3, pad_top), 1));
    CASE("concat sum", "sum", put32(&e, OP(8, inputs[1]), 6));
    CASE("concat mult count", "mult range", put32(&e, OP(8, mult), H.blob_bytes - 4));
    CASE("dense window", "0 or 1", put32(&e, OP(9, kh), 3));
    /* Ops 3 (maxpool) and 4 (dense) swapped: the dense reads m1 first. */
    CASE("read before write", "no earlier op", {
        uint8_t tmp[sizeof(tm_rt_op_desc)];
        memcpy(tmp, e.w + op_at(&e, 3, 0), sizeof tmp);
        memcpy(e.w + op_at(&e, 3, 0), e.w + op_at(&e, 4, 0), sizeof tmp);
        memcpy(e.w + op_at(&e, 4, 0), tmp, sizeof tmp);
    });
    CASE("class name", "class name", memset(e.w + H.classes_offset + 2 * TM_RT_NAME_LEN, 'x',
                                            TM_RT_NAME_LEN));
    /* A trailing byte past file_bytes. */
    {
        edit_begin(&e);
        e.w[e.b.size] = 0;
        uint8_t *copy = malloc(e.b.size + 1);
        memcpy(copy, e.w, e.b.size + 1);
        tm_rt_model m;
        ck_assert_int_eq(tm_rt_model_open(&m, copy, e.b.size + 1), TM_RT_ERR_FORMAT);
        ck_assert_ptr_nonnull(strstr(tm_rt_model_error(&m), "longer than file_bytes"));
        free(copy);
    }
    /* The reason names the op. */
    CASE("op name", "op (depthwise) 1: ", put32(&e, OP(1, stride), 0));
    /* An untouched copy still opens. */
    edit_begin(&e);
    tm_rt_model m;
    ck_assert_int_eq(tm_rt_model_open(&m, e.w, e.b.size), TM_RT_OK);
    free(e.w);
    free(e.b.bytes);
}
END_TEST

/* ---- builder errors ------------------------------------------------------------- */

START_TEST(builder_reports_errors)
{
    static tm_rt_builder b;
    static uint32_t buf[TM_RT_EXAMPLE_MAX_BYTES / 4];
    size_t size = 0;
    /* Too small a buffer. */
    ck_assert_int_eq(tm_rt_example_two_branch(&b, buf, 600, 1, &size), TM_RT_ERR_BUFFER);
    ck_assert_ptr_nonnull(strstr(tm_rt_builder_error(&b), "too small"));
    /* Enough for the blob but not the tables. */
    ck_assert_int_eq(tm_rt_example_two_branch(&b, buf, 1500, 1, &size), TM_RT_ERR_BUFFER);
    ck_assert_ptr_nonnull(strstr(tm_rt_builder_error(&b), "tm_rt_builder_bound"));
    /* bound() is exactly the size finish writes. */
    ck_assert_int_eq(tm_rt_example_chain(&b, buf, sizeof buf, 1, &size), TM_RT_OK);
    ck_assert_uint_eq(tm_rt_builder_bound(&b), size);
    ck_assert_int_eq(tm_rt_builder_finish(&b, &size), TM_RT_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(tm_rt_builder_error(&b), "already finished"));

    /* Bad references are refused when added, and the error is sticky. */
    tm_rt_builder_init(&b, buf, sizeof buf);
    int32_t x = tm_rt_builder_tensor(&b, 1, 4, 4, 0.1f, 0);
    int32_t y = tm_rt_builder_tensor(&b, 1, 2, 2, 0.1f, 0);
    tm_rt_op_desc op = tm_rt_ex_window(TM_RT_OP_MAXPOOL, x, 7, 2, 2, 0);
    ck_assert_int_eq(tm_rt_builder_op(&b, &op), -1);
    ck_assert_ptr_nonnull(strstr(tm_rt_builder_error(&b), "op 0: output"));
    op.output = y;
    ck_assert_int_eq(tm_rt_builder_op(&b, &op), -1);
    ck_assert_int_eq(tm_rt_builder_finish(&b, &size), TM_RT_ERR_ARG);

    tm_rt_builder_init(&b, buf, sizeof buf);
    ck_assert_int_eq(tm_rt_builder_tensor(&b, 0, 4, 4, 0.1f, 0), -1);
    ck_assert_ptr_nonnull(strstr(tm_rt_builder_error(&b), "tensor 0: dimensions"));
    tm_rt_builder_init(&b, buf, sizeof buf);
    ck_assert_int_eq(tm_rt_builder_tensor(&b, 1, 4, 4, -0.1f, 0), -1);
    tm_rt_builder_init(&b, buf, sizeof buf);
    tm_rt_builder_class(&b, "a class name that is far too long to fit");
    ck_assert_int_eq(b.status, TM_RT_ERR_ARG);

    /* Structure is checked by finish through open: a pad as large as the
     * kernel, named by op. */
    tm_rt_builder_init(&b, buf, sizeof buf);
    x = tm_rt_builder_tensor(&b, 1, 4, 4, 0.1f, 0);
    y = tm_rt_builder_tensor(&b, 1, 2, 2, 0.1f, 0);
    tm_rt_input_desc in = tm_rt_ex_input("x", TM_RT_INPUT_FEATURES, x, 0, 0);
    tm_rt_builder_input(&b, &in);
    op = tm_rt_ex_window(TM_RT_OP_MAXPOOL, x, y, 2, 2, 2);
    ck_assert_int_eq(tm_rt_builder_op(&b, &op), 0);
    tm_rt_builder_class(&b, "a");
    tm_rt_builder_class(&b, "b");
    tm_rt_builder_class(&b, "c");
    tm_rt_builder_class(&b, "d");
    tm_rt_builder_output(&b, y);
    ck_assert_int_eq(tm_rt_builder_finish(&b, &size), TM_RT_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(tm_rt_builder_error(&b), "op (maxpool) 0: pads"));

    /* The smallest model: one pool; it runs. */
    tm_rt_builder_init(&b, buf, sizeof buf);
    x = tm_rt_builder_tensor(&b, 1, 4, 4, 0.1f, 0);
    y = tm_rt_builder_tensor(&b, 1, 2, 2, 0.1f, 0);
    tm_rt_builder_input(&b, &in);
    op = tm_rt_ex_window(TM_RT_OP_MAXPOOL, x, y, 2, 2, 0);
    tm_rt_builder_op(&b, &op);
    for (int k = 0; k < 4; k++)
        tm_rt_builder_class(&b, "k");
    tm_rt_builder_output(&b, y);
    ck_assert_int_eq(tm_rt_builder_finish(&b, &size), TM_RT_OK);
    tm_rt_model m;
    ck_assert_int_eq(tm_rt_model_open(&m, buf, size), TM_RT_OK);
    uint8_t mem[256];
    ck_assert_uint_le(tm_rt_model_memory_bytes(&m), sizeof mem);
    float v[16];
    for (int i = 0; i < 16; i++)
        v[i] = 0.1f * (float)((i * 5) % 16) - 0.8f;
    ck_assert_int_eq(tm_rt_model_set_features(&m, mem, 0, v), TM_RT_OK);
    ck_assert_int_eq(tm_rt_model_invoke(&m, mem), TM_RT_OK);
    const int8_t *l = tm_rt_model_logits(&m, mem);
    for (int oy = 0; oy < 2; oy++)
        for (int ox = 0; ox < 2; ox++) {
            float best = -1e9f;
            for (int ky = 0; ky < 2; ky++)
                for (int kx = 0; kx < 2; kx++) {
                    float f = v[(oy * 2 + ky) * 4 + ox * 2 + kx];
                    best = f > best ? f : best;
                }
            ck_assert_int_eq(l[oy * 2 + ox], (int)roundf(best / 0.1f));
        }
}
END_TEST

START_TEST(crc32_matches_the_standard)
{
    /* The IEEE / zlib check value. */
    ck_assert_uint_eq(tm_rt_crc32("123456789", 9), 0xCBF43926u);
    ck_assert_uint_eq(tm_rt_crc32("", 0), 0);
    uint8_t z[32] = {0};
    ck_assert_uint_eq(tm_rt_crc32(z, 32), 0x190A55ADu);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("model_format");
    TCase *tc = tcase_create("model");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, crc32_matches_the_standard);
    tcase_add_test(tc, two_branch_matches_int64_reference);
    tcase_add_test(tc, chain_matches_int64_reference);
    tcase_add_test(tc, arena_reuses_memory_without_live_overlap);
    tcase_add_test(tc, streamed_chains_match_and_are_checked);
    tcase_add_test(tc, round_trip_reentrant_and_deterministic);
    tcase_add_test(tc, targeted_edits_are_rejected_with_a_reason);
    tcase_add_test(tc, builder_reports_errors);
    tcase_add_test(tc, corrupted_files_are_rejected_or_run_safely);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
