/* Streamed chains (tm_rt_stream.h): planning, the memory they need on each
 * build, and their execution. */
#include <string.h>

#include "tm_rt_isa.h"
#include "tm_rt_stream.h"

/* Rows per call of the last op and of a producer that copies into its
 * consumer's window, and output channels per call of a conv feeding the
 * last pool (INT32_MAX: all): a chain's narrowest shape, which sets the
 * model's scratch. Each call of the SIMD kernels packs its weights, so
 * their builds take more rows per call; they and the DSP ones widen a chain
 * where the scratch allows (tm_rt_stream_plan), fewer calls each setting up
 * its channels; plain C takes the fewest bytes. */
typedef struct tm_rt_s_shape {
    int32_t rows, prod, group, widen;
} tm_rt_s_shape;

static tm_rt_s_shape tm_rt_s_shape_for(int isa)
{
    static const tm_rt_s_shape lean = {1, 1, 8, 0}, dsp = {1, 1, 8, 1}, wide = {2, 2, 16, 1};
    if (isa < 0) {
#if defined(TM_RT_SIMD)
        return wide;
#elif defined(TM_RT_DSP)
        return dsp;
#else
        return lean;
#endif
    }
    return isa == TM_RT_ISA_REFERENCE || isa >= TM_RT_ISA_COUNT ? lean
           : isa == TM_RT_ISA_ARM_DSP                          ? dsp
                                                               : wide;
}

#define TM_RT_S_ALIGN16(x) (((x) + 15u) & ~(uint64_t)15u)

static int tm_rt_s_streamed(const tm_rt_tensor_desc *T, int32_t t)
{
    return T[t].arena_offset == TM_RT_STREAMED;
}

static int tm_rt_s_stage_type(uint32_t type)
{
    return type == TM_RT_OP_CONV || type == TM_RT_OP_DEPTHWISE || type == TM_RT_OP_MAXPOOL;
}

/* Rows of the input each call reads: kh, stride, pad_top (pools: no pad). */
static void tm_rt_s_window(const tm_rt_op_desc *op, int32_t *kh, int32_t *s, int32_t *pt)
{
    *kh = op->kh;
    *s = op->stride;
    *pt = op->type == TM_RT_OP_MAXPOOL ? 0 : op->pad_top;
}

static const char *tm_rt_s_plan(tm_rt_s_shape sh, const tm_rt_op_desc *ops, uint32_t n_ops,
                               uint32_t k, const tm_rt_tensor_desc *T, tm_rt_segment *sg)
{
    uint32_t L = 1;
    memset(sg, 0, sizeof *sg);
    while (k + L - 1 < n_ops && tm_rt_s_streamed(T, ops[k + L - 1].output))
        L++;
    if (k + L > n_ops)
        return TM_RT_MSG("a streamed tensor is not read by the next op");
    if (L > TM_RT_STREAM_STAGES)
        return TM_RT_MSG("a streamed chain of more than 8 ops");
    sg->first = k;
    sg->count = L;
    for (uint32_t i = 0; i < L; i++) {
        const tm_rt_op_desc *op = &ops[k + i];
        if (!tm_rt_s_stage_type(op->type) || op->n_inputs != 1)
            return TM_RT_MSG("a streamed chain holds an op other than conv, depthwise, max pool");
        if (i > 0 && op->inputs[0] != ops[k + i - 1].output)
            return TM_RT_MSG("a streamed tensor is not read by the next op");
        if (op->type == TM_RT_OP_MAXPOOL && i + 1 < L)
            return TM_RT_MSG("a max pool's output is streamed (a pool ends a chain)");
    }
    /* Backward: the last op makes one row per call; each stage asks its
     * producer for one row at a time, or, when its windows do not overlap
     * and hold no padding, for exactly its window (written in place). */
    sg->st[L - 1].n = sh.rows;
    sg->st[L - 1].group = T[ops[k + L - 1].output].c;
    for (uint32_t i = L; i-- > 0;) {
        const tm_rt_op_desc *op = &ops[k + i];
        tm_rt_stage *st = &sg->st[i];
        int32_t kh, s, pt;
        tm_rt_s_window(op, &kh, &s, &pt);
        int64_t rows = (int64_t)(st->n - 1) * s + kh;
        /* No window needs more rows than a tensor has, with its padding. */
        if (rows > TM_RT_MAX_DIM + 2 * TM_RT_MAX_KERNEL)
            return TM_RT_MSG("a streamed chain's window is taller than any tensor");
        st->rows = (int32_t)rows;
        if (i == 0)
            break;
        const tm_rt_tensor_desc *in = &T[op->inputs[0]], *out = &T[op->output];
        st->direct = kh == s && pt == 0 && (out->h - 1) * s + kh <= in->h;
        tm_rt_stage *pr = &sg->st[i - 1];
        pr->n = st->direct ? st->rows : sh.prod;
        pr->group = in->c;
        /* A conv feeding the last max pool, which pools channel by channel,
         * runs a few output channels at a time (whole 4-byte weight rows). */
        const tm_rt_op_desc *p = &ops[k + i - 1];
        size_t rb = tm_rt_weight_row_bytes(
            (size_t)p->kh * (size_t)p->kw * (size_t)T[p->inputs[0]].c, p->bits);
        if (st->direct && i == L - 1 && op->type == TM_RT_OP_MAXPOOL &&
            p->type == TM_RT_OP_CONV && in->c > sh.group &&
            (rb * sh.group) % 4u == 0)
            pr->group = sh.group;
    }
    uint64_t off = 0;
    for (uint32_t i = 0; i < L; i++) {
        const tm_rt_op_desc *op = &ops[k + i];
        const tm_rt_tensor_desc *in = &T[op->inputs[0]], *out = &T[op->output];
        tm_rt_stage *st = &sg->st[i];
        st->win = st->out = TM_RT_NONE;
        if (!st->direct) {
            st->win = (uint32_t)off;
            off += TM_RT_S_ALIGN16((uint64_t)in->c * (uint64_t)st->rows * (uint64_t)in->w);
        }
        if (op->type != TM_RT_OP_MAXPOOL) {
            st->out = (uint32_t)off;
            off += TM_RT_S_ALIGN16((uint64_t)st->group * (uint64_t)st->n * (uint64_t)out->w);
        }
        if (off > TM_RT_MAX_REGION_BYTES)
            return TM_RT_MSG("a streamed chain's row windows take more than 2^30 bytes");
    }
    sg->buf_bytes = (uint32_t)off;
    return NULL;
}

/* Kernel arguments of one call of a stage (shapes only). */
static void tm_rt_s_args(const tm_rt_op_desc *op, const tm_rt_tensor_desc *T,
                         const tm_rt_stage *st, int32_t group, tm_rt_conv_args *a)
{
    tm_rt_op_conv_shape(op, T, a);
    a->in_h = st->rows;
    a->pad_top = 0;
    a->out_h = st->n;
    if (op->type == TM_RT_OP_CONV)
        a->out_c = group;
}

static size_t tm_rt_s_kernel_scratch(int isa, const tm_rt_conv_args *a, tm_rt_kernel_kind kind)
{
#if defined(TM_RT_SIMD) || !defined(__arm__) || defined(TM_RT_ALL_ISA_SCRATCH)
    if (isa >= 0)
        return tm_rt_kernel_scratch_bytes_for((tm_rt_isa)isa, a, kind);
#else
    (void)isa;
#endif
    return tm_rt_kernel_scratch_bytes(a, kind);
}

size_t tm_rt_stream_need(int isa, const tm_rt_op_desc *ops, const tm_rt_tensor_desc *T,
                         const tm_rt_segment *sg)
{
    uint64_t ks = 0;
    for (uint32_t i = 0; i < sg->count; i++) {
        const tm_rt_op_desc *op = &ops[sg->first + i];
        if (op->type == TM_RT_OP_MAXPOOL)
            continue;
        tm_rt_conv_args a;
        tm_rt_s_args(op, T, &sg->st[i], sg->st[i].group, &a);
        size_t n = tm_rt_s_kernel_scratch(
            isa, &a, op->type == TM_RT_OP_DEPTHWISE ? TM_RT_KERNEL_DEPTHWISE : TM_RT_KERNEL_CONV);
        ks = n > ks ? n : ks;
    }
    return (size_t)(TM_RT_S_ALIGN16(ks) + sg->buf_bytes);
}

/* Wider shapes make fewer kernel calls. A chain takes the widest whose need
 * stays within peak (sizing: the scratch the model needs with every chain in
 * its narrowest shape, so no target's RAM grows; invoke: invoke_room): a
 * grouped conv's channels per call doubled while that fits (up to all of
 * them), then rows per call doubled while that fits too (until one call
 * covers the output), then the producers' rows alone. */
static const char *tm_rt_s_search(int isa, const tm_rt_op_desc *ops, uint32_t n_ops, uint32_t k,
                                  const tm_rt_tensor_desc *T, size_t peak, tm_rt_segment *sg,
                                  tm_rt_s_shape *chosen)
{
    tm_rt_s_shape sh = tm_rt_s_shape_for(isa);
    const char *why = tm_rt_s_plan(sh, ops, n_ops, k, T, sg);
    *chosen = sh;
#if defined(TM_RT_STREAM_WIDEN)
    if (why || !sh.widen)
        return why;
    tm_rt_segment w;
    const int32_t h = T[ops[k + sg->count - 1].output].h;
    const int32_t c = sg->count >= 2 ? T[ops[k + sg->count - 2].output].c : 0;
    /* each call of a grouped conv gathers its input window again, so
     * groups first */
    for (int pass = 0; pass < 3; pass++)
        for (;;) {
            tm_rt_s_shape t = sh;
            if (pass == 0) {
                if (t.group >= c)
                    break;
                t.group = t.group > c / 2 ? INT32_MAX : 2 * t.group;
            } else if (pass == 1) {
                if (t.rows >= h)
                    break;
                t.rows *= 2;
                t.prod *= 2;
            } else {
                /* then producers alone: fewer calls of the chain's first convs */
                if (t.prod >= T[ops[k].output].h)
                    break;
                t.prod *= 2;
            }
            if (tm_rt_s_plan(t, ops, n_ops, k, T, &w) || tm_rt_stream_need(isa, ops, T, &w) > peak)
                break;
            *sg = w;
            sh = t;
        }
    *chosen = sh;
#else
    (void)peak;
#endif
    return why;
}

const char *tm_rt_stream_plan(int isa, const tm_rt_op_desc *ops, uint32_t n_ops, uint32_t k,
                              const tm_rt_tensor_desc *T, size_t peak, tm_rt_segment *sg)
{
    tm_rt_s_shape sh;
    return tm_rt_s_search(isa, ops, n_ops, k, T, peak, sg, &sh);
}

#if defined(TM_RT_STREAM_WIDEN)
const char *tm_rt_stream_plan_keep(const tm_rt_op_desc *ops, uint32_t n_ops, uint32_t k,
                                   const tm_rt_tensor_desc *T, size_t peak, tm_rt_segment *sg,
                                   tm_rt_chain_shape *cs)
{
    tm_rt_s_shape sh;
    const char *why = tm_rt_s_search(-1, ops, n_ops, k, T, peak, sg, &sh);
    cs->op = k;
    cs->rows = sh.rows;
    cs->prod = sh.prod;
    cs->group = sh.group;
    return why;
}

const char *tm_rt_stream_plan_kept(const tm_rt_op_desc *ops, uint32_t n_ops, const tm_rt_tensor_desc *T,
                                   const tm_rt_chain_shape *cs, tm_rt_segment *sg)
{
    tm_rt_s_shape sh = tm_rt_s_shape_for(-1);
    sh.rows = cs->rows;
    sh.prod = cs->prod;
    sh.group = cs->group;
    return tm_rt_s_plan(sh, ops, n_ops, cs->op, T, sg);
}
#endif

/* The model's scratch with every chain planned within peak (0: each in its
 * narrowest shape). */
static size_t tm_rt_s_model_need(int isa, const tm_rt_op_desc *ops, uint32_t n_ops,
                                 const tm_rt_tensor_desc *T, size_t peak)
{
    size_t need = 0;
    for (uint32_t k = 0; k < n_ops; k++) {
        size_t n;
        tm_rt_segment sg;
        if (tm_rt_s_stage_type(ops[k].type) && tm_rt_s_streamed(T, ops[k].output)) {
            if (tm_rt_stream_plan(isa, ops, n_ops, k, T, peak, &sg))
                return (size_t)-1;
            n = tm_rt_stream_need(isa, ops, T, &sg);
            k += sg.count - 1;
        } else {
#if defined(TM_RT_SIMD) || !defined(__arm__) || defined(TM_RT_ALL_ISA_SCRATCH)
            n = isa >= 0 ? tm_rt_model_op_scratch_bytes_for(isa, &ops[k], T)
                         : tm_rt_model_op_scratch_bytes(&ops[k], T);
#else
            n = tm_rt_model_op_scratch_bytes(&ops[k], T);
#endif
        }
        need = n > need ? n : need;
    }
    return need;
}

size_t tm_rt_model_scratch_need_for(int isa, const tm_rt_op_desc *ops, uint32_t n_ops,
                                    const tm_rt_tensor_desc *T)
{
    size_t peak = tm_rt_s_model_need(isa, ops, n_ops, T, 0);
#if defined(TM_RT_STREAM_WIDEN)
    if (peak != (size_t)-1 && tm_rt_s_shape_for(isa).widen)
        return tm_rt_s_model_need(isa, ops, n_ops, T, peak);
#endif
    return peak;
}

void tm_rt_model_plan_lifetimes(const tm_rt_op_desc *ops, uint32_t n_ops,
                                const tm_rt_input_desc *inputs, uint32_t n_inputs,
                                int32_t output, const tm_rt_tensor_desc *T, uint32_t n_tensors,
                                int32_t *first, int32_t *last)
{
    tm_rt_model_lifetimes(ops, n_ops, inputs, n_inputs, output, n_tensors, first, last);
    for (uint32_t k = 0; k < n_ops; k++) {
        uint32_t e = k;
        while (e < n_ops && ops[e].output >= 0 && (uint32_t)ops[e].output < n_tensors &&
               tm_rt_s_streamed(T, ops[e].output)) {
            first[ops[e].output] = INT32_MAX;
            last[ops[e].output] = INT32_MIN;
            e++;
        }
        if (e == k || e >= n_ops)
            continue;
        /* The chain k..e reads op k's inputs while it writes op e's output. */
        for (int32_t j = 0; j < ops[k].n_inputs && j < TM_RT_MAX_OP_INPUTS; j++) {
            int32_t t = ops[k].inputs[j];
            if (t >= 0 && (uint32_t)t < n_tensors && !tm_rt_s_streamed(T, t) && last[t] < (int32_t)e)
                last[t] = (int32_t)e;
        }
        int32_t t = ops[e].output;
        if (t >= 0 && (uint32_t)t < n_tensors && first[t] > (int32_t)k)
            first[t] = (int32_t)k;
        k = e;
    }
}

/* ---- execution ----------------------------------------------------------- */

typedef struct tm_rt_s_run {
    const tm_rt_model *m;
    const tm_rt_segment *sg;
    uint8_t *arena, *buf;
    int8_t *kscr;
    int32_t lo[TM_RT_STREAM_STAGES], hi[TM_RT_STREAM_STAGES]; /* window rows [lo, hi) */
    int32_t olo[TM_RT_STREAM_STAGES];                         /* output rows [olo, olo + on) */
#if defined(TM_RT_STREAM_WIDEN)
    int32_t on[TM_RT_STREAM_STAGES]; /* rows the last call computed: n, fewer at the bottom */
#endif
} tm_rt_s_run;

/* Rows of stage i's last output: with wide shapes a call computes only the
 * rows inside its output (the consumers never read the others); the -Os size
 * build's narrow shapes keep n, as that saves few rows. */
#if defined(TM_RT_STREAM_WIDEN)
#define TM_RT_S_ON(r, i) ((r)->on[i])
#define TM_RT_S_WIN_ROWS(r, i, st) ((st)->direct ? (r)->on[(i) - 1] : (st)->rows)
#else
#define TM_RT_S_ON(r, i) ((r)->sg->st[i].n)
#define TM_RT_S_WIN_ROWS(r, i, st) ((st)->rows)
#endif

static tm_rt_status tm_rt_s_call(tm_rt_s_run *r, uint32_t i, int32_t y, int32_t c0, int32_t gn);

static const tm_rt_op_desc *tm_rt_s_op(const tm_rt_s_run *r, uint32_t i)
{
    return &r->m->ops[r->sg->first + i];
}

static int8_t *tm_rt_s_win(const tm_rt_s_run *r, uint32_t i)
{
    const tm_rt_stage *st = r->sg->st;
    return (int8_t *)(r->buf + (st[i].direct ? st[i - 1].out : st[i].win));
}

/* Makes stage i's window hold its input rows a .. a + rows - 1: rows kept
 * from the last call move up, rows outside the tensor are its zero point,
 * the others come from the stored input or the producer's output rows. */
static tm_rt_status tm_rt_s_fetch(tm_rt_s_run *r, uint32_t i, int32_t a)
{
    const tm_rt_stage *st = &r->sg->st[i], *pr = &st[-1];
    const tm_rt_tensor_desc *in = &r->m->tensors[tm_rt_s_op(r, i)->inputs[0]];
    size_t W = (size_t)in->w, plane = (size_t)st->rows * W;
    int8_t *w = tm_rt_s_win(r, i);
    int32_t row = a, c;
    tm_rt_status s = TM_RT_OK;
    if (st->direct)
        return tm_rt_s_call(r, i - 1, a, 0, pr->group);
    if (r->lo[i] <= a && r->hi[i] > a) {
        for (c = 0; c < in->c; c++)
            memmove(w + c * plane, w + c * plane + (size_t)(a - r->lo[i]) * W,
                    (size_t)(r->hi[i] - a) * W);
        row = r->hi[i];
    }
    /* Runs of rows from one source, each channel's run copied at once. */
    while (row < a + st->rows) {
        const int8_t *src = NULL;
        size_t cs = 0;
        int32_t end = a + st->rows;
        if (row < 0) {
            end = end < 0 ? end : 0;
        } else if (row < in->h && i == 0) {
            src = (const int8_t *)(r->arena + in->arena_offset) + (size_t)row * W;
            cs = (size_t)in->h * W;
            end = end < in->h ? end : in->h;
        } else if (row < in->h) {
            while (s == TM_RT_OK && row >= r->olo[i - 1] + pr->n)
                s = tm_rt_s_call(r, i - 1, r->olo[i - 1] + pr->n, 0, pr->group);
            if (s != TM_RT_OK)
                break;
            src = (const int8_t *)(r->buf + pr->out) + (size_t)(row - r->olo[i - 1]) * W;
            cs = (size_t)TM_RT_S_ON(r, i - 1) * W;
            end = end < in->h ? end : in->h;
            end = end < r->olo[i - 1] + pr->n ? end : r->olo[i - 1] + pr->n;
        }
        for (c = 0; c < in->c; c++) {
            int8_t *d = w + c * plane + (size_t)(row - a) * W;
            if (src)
                memcpy(d, src + c * cs, (size_t)(end - row) * W);
            else
                memset(d, (int)(int8_t)in->zero_point, (size_t)(end - row) * W);
        }
        row = end;
    }
    r->lo[i] = a;
    r->hi[i] = a + st->rows;
    return s;
}

/* Stage i's output rows y .. y + n - 1 of channels c0 .. c0 + gn - 1 (the
 * window is fetched on the first group): into its output rows; the last
 * op's rows go to the stored output tensor. */
static tm_rt_status tm_rt_s_call(tm_rt_s_run *r, uint32_t i, int32_t y, int32_t c0, int32_t gn)
{
    const tm_rt_model *m = r->m;
    const tm_rt_op_desc *op = tm_rt_s_op(r, i);
    const tm_rt_stage *st = &r->sg->st[i];
    const tm_rt_tensor_desc *in = &m->tensors[op->inputs[0]], *out = &m->tensors[op->output];
    int32_t kh, s, pt, c, nv = out->h - y < st->n ? out->h - y : st->n;
    size_t Wo = (size_t)out->w;
    int8_t *dst = (int8_t *)(r->arena + out->arena_offset);
    tm_rt_status rs = TM_RT_OK;
    tm_rt_s_window(op, &kh, &s, &pt);
    if (op->type == TM_RT_OP_MAXPOOL) {
        /* The last op (a pool ends every chain), channel by channel into the
         * stored tensor; a grouped producer fills the window a few channels
         * at a time. */
        const tm_rt_stage *pr = &st[-1];
        int grouped = pr->group < in->c;
        for (int32_t g0 = 0; g0 < in->c && rs == TM_RT_OK; g0 += pr->group) {
            int32_t gk = grouped ? (in->c - g0 < pr->group ? in->c - g0 : pr->group) : in->c;
            rs = grouped ? tm_rt_s_call(r, i - 1, y * s, g0, gk) : tm_rt_s_fetch(r, i, y * s);
            const int8_t *w = tm_rt_s_win(r, i);
            size_t pooled = 0;
            int staged = 0;
#if defined(TM_RT_SIMD) || (defined(TM_RT_DSP) && !defined(__OPTIMIZE_SIZE__))
            /* rows the staged call pools: its window's, >= nv (a fetched
             * window is st->rows tall whatever nv is) */
            const int32_t wr = TM_RT_S_WIN_ROWS(r, i, st), pn = (wr - kh) / s + 1;
            pooled = (size_t)pn * Wo;
            /* One call for the group's channels, into the kernels' scratch
             * (idle between kernel calls), rather than one per channel. */
            staged = rs == TM_RT_OK && r->kscr &&
                     (size_t)gk * pooled <= (size_t)(r->buf - (uint8_t *)r->kscr);
            if (staged)
                rs = tm_rt_maxpool(w, gk, wr, in->w, kh, s, r->kscr, pn, out->w);
#endif
            for (c = 0; c < gk && rs == TM_RT_OK; c++) {
                int8_t *o = dst + ((size_t)(g0 + c) * out->h + (size_t)y) * Wo;
                if (staged)
                    memcpy(o, r->kscr + (size_t)c * pooled, (size_t)nv * Wo);
                else
                    rs = tm_rt_maxpool(w + (size_t)c * (size_t)TM_RT_S_WIN_ROWS(r, i, st) * in->w, 1,
                                       (nv - 1) * s + kh,
                                       in->w, kh, s, o, nv, out->w);
                if (op->act_min > -128 || op->act_max < 127) /* as the flat executor */
                    for (size_t j = 0; j < (size_t)nv * Wo; j++)
                        o[j] = (int8_t)(o[j] < op->act_min ? op->act_min
                                        : o[j] > op->act_max ? op->act_max : o[j]);
            }
            if (!grouped)
                break;
        }
        return rs;
    }
    if (c0 == 0)
        rs = tm_rt_s_fetch(r, i, y * s - pt);
    tm_rt_conv_args a;
    int8_t *ob = (int8_t *)(r->buf + st->out);
    tm_rt_s_args(op, m->tensors, st, gn, &a);
#if defined(TM_RT_STREAM_WIDEN)
    if (st->direct) { /* every row its window holds */
        a.in_h = r->on[i - 1];
        a.out_h = (a.in_h - a.kh) / a.stride + 1;
    } else if (a.kh != 1 || a.kw != 1 || a.stride != 1) {
        /* a 1x1 stride-1 conv on a window as tall as its output runs as one
         * flat row: fewer rows would lose that and need more scratch */
        a.out_h = nv;
    }
#endif
    size_t rb = tm_rt_weight_row_bytes(
        (size_t)a.kh * a.kw * (op->type == TM_RT_OP_CONV ? a.in_c : 1), a.bits);
    a.input = tm_rt_s_win(r, i);
    a.output = ob;
    a.weights = m->blob + op->weights + (size_t)c0 * rb;
    a.bias = op->bias == TM_RT_NONE ? NULL
                                    : (const int32_t *)(const void *)(m->blob + op->bias) + c0;
    a.mult = (const int32_t *)(const void *)(m->blob + op->mult) + c0;
    a.shift = (const int32_t *)(const void *)(m->blob + op->shift) + c0;
    a.scratch = r->kscr;
    if (rs == TM_RT_OK)
        rs = op->type == TM_RT_OP_CONV ? tm_rt_conv(&a) : tm_rt_depthwise(&a);
    r->olo[i] = y;
#if defined(TM_RT_STREAM_WIDEN)
    r->on[i] = a.out_h;
#endif
    if (i + 1 == r->sg->count)
        for (c = 0; c < a.out_c && rs == TM_RT_OK; c++)
            memcpy(dst + ((size_t)(c0 + c) * out->h + (size_t)y) * Wo,
                   ob + (size_t)c * (size_t)a.out_h * Wo, (size_t)nv * Wo);
    return rs;
}

tm_rt_status tm_rt_stream_run(const tm_rt_model *m, const tm_rt_segment *sg, uint8_t *arena,
                              uint8_t *scratch)
{
    tm_rt_s_run r;
    uint32_t L = sg->count;
    size_t ks = tm_rt_stream_need(-1, m->ops, m->tensors, sg) - sg->buf_bytes;
    const tm_rt_tensor_desc *out = &m->tensors[m->ops[sg->first + L - 1].output];
    r.m = m;
    r.sg = sg;
    r.arena = arena;
    r.kscr = ks ? (int8_t *)scratch : NULL;
    r.buf = scratch + ks;
    for (uint32_t i = 0; i < L; i++) {
        r.lo[i] = r.hi[i] = INT32_MIN / 2;
        r.olo[i] = -sg->st[i].n;
#if defined(TM_RT_STREAM_WIDEN)
        r.on[i] = sg->st[i].n;
#endif
    }
    for (int32_t y = 0; y < out->h; y += sg->st[L - 1].n) {
        tm_rt_status s = tm_rt_s_call(&r, L - 1, y, 0, out->c);
        if (s != TM_RT_OK)
            return s;
    }
    return TM_RT_OK;
}
