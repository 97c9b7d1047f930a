#include "tm_lower.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tm_graph.h"
#include "tm_qlayer.h"
#include "tm_rt_kernels.h"

/* Float weights of one integer op, batch norm folded in. */
typedef struct {
    float *w, *b;        /* b NULL: no bias */
    int channels;
    size_t per;
} wpart;

static void wpart_free(wpart *p)
{
    free(p->w);
    free(p->b);
    p->w = p->b = NULL;
}

/* part 1: the depthwise half of a separable layer; part 0: everything else
 * (the pointwise half of a separable layer). */
static tm_status folded_weights(const tm_qat *q, int c, int i, int part, wpart *p)
{
    const tm_layer *l = tm_qat_model_layer(q, c, i);
    const tm_qat_layer *ql = &q->chain[c][i];
    int sep_dw = part == 1;
    const tm_tensor *w = l->spec.kind == TM_LAYER_SEPARABLE && !sep_dw ? l->pw_w : l->w;
    const tm_tensor *b = l->spec.kind == TM_LAYER_SEPARABLE && !sep_dw ? l->pw_b : l->b;
    const tm_layer *bl = !sep_dw && ql->bn >= 0 ? tm_qat_model_layer(q, c, ql->bn) : NULL;
    memset(p, 0, sizeof *p);
    p->channels = w->shape[0];
    p->per = w->size / (size_t)p->channels;
    p->w = malloc(sizeof(float) * w->size);
    if (b || bl)
        p->b = malloc(sizeof(float) * (size_t)p->channels);
    if (!p->w || ((b || bl) && !p->b)) {
        wpart_free(p);
        return tm_error(TM_ERR_NOMEM, "lowering %s: out of memory", l->spec.name);
    }
    if (bl) {
        tm_bn_fold(w->data, b ? b->data : NULL, bl->gamma->data, bl->beta->data,
                   bl->run_mean->data, bl->run_var->data, q->m->spec.bn_eps, p->channels, p->per,
                   p->w, p->b);
    } else {
        memcpy(p->w, w->data, sizeof(float) * w->size);
        if (b)
            memcpy(p->b, b->data, sizeof(float) * (size_t)p->channels);
    }
    return TM_OK;
}

/* ---- lowering ---------------------------------------------------------- */

/* The builder's sticky status as a tm_status naming what was being built. */
static tm_status builder_check(tm_lower_ctx *L, const char *what)
{
    if (L->b->status == TM_RT_OK)
        return TM_OK;
    tm_status s = L->b->status == TM_RT_ERR_BUFFER ? TM_ERR_NOMEM : TM_ERR_INTERNAL;
    return tm_error(s, "lowering %s: the runtime builder failed (%s)", what,
                    tm_rt_status_name(L->b->status));
}

static tm_status new_tensor(tm_lower_ctx *L, int c, int h, int w, tm_qparams qp, const char *what,
                            tm_tref *out)
{
    int32_t i = tm_rt_builder_tensor(L->b, c, h, w, qp.scale, qp.zero_point);
    if (i < 0 || L->b->status != TM_RT_OK) {
        if (L->b->status == TM_RT_OK)
            return tm_error(TM_ERR_ARG, "lowering %s: the runtime builder refused the tensor "
                                        "(more than %d tensors?)",
                            what, TM_RT_BUILDER_MAX_TENSORS);
        return builder_check(L, what);
    }
    out->index = i;
    out->c = c;
    out->h = h;
    out->w = w;
    out->qp = qp;
    return TM_OK;
}

static uint32_t blob(tm_lower_ctx *L, const void *data, size_t bytes)
{
    return tm_rt_builder_blob(L->b, data, bytes);
}

static tm_status add_op(tm_lower_ctx *L, const tm_rt_op_desc *op, const char *what)
{
    int32_t i = tm_rt_builder_op(L->b, op);
    if (i < 0 && L->b->status == TM_RT_OK)
        return tm_error(TM_ERR_ARG, "lowering %s: the runtime builder refused the op (more than "
                                    "%d ops?)",
                        what, TM_RT_BUILDER_MAX_OPS);
    return builder_check(L, what);
}

static void op_init(tm_rt_op_desc *op, tm_rt_op_type type)
{
    memset(op, 0, sizeof *op);
    op->type = (uint32_t)type;
    op->version = 1;
    for (int i = 0; i < TM_RT_MAX_OP_INPUTS; i++)
        op->inputs[i] = -1;
    op->act_min = TM_QMIN_INT8;
    op->act_max = TM_QMAX_INT8;
    op->weights = op->bias = op->mult = op->shift = TM_RT_NONE;
}

static void act_clamp(tm_activation act, const tm_qparams *out, int32_t *lo, int32_t *hi)
{
    *lo = TM_QMIN_INT8;
    *hi = TM_QMAX_INT8;
    if (act == TM_ACT_NONE)
        return;
    *lo = out->zero_point > TM_QMIN_INT8 ? out->zero_point : TM_QMIN_INT8;
    if (act == TM_ACT_RELU6) {
        double six = (double)out->zero_point + round(6.0 / (double)out->scale);
        *hi = six < TM_QMAX_INT8 ? (int32_t)six : TM_QMAX_INT8;
    }
}

typedef struct {
    tm_rt_op_type type;
    int kh, kw, stride, pad_top, pad_left;
    int bits;
    tm_activation act;
} wop;

/* One integer weight op: quantised, packed weights, biases and
 * requantisation multipliers into the blob. */
static tm_status emit_weight_op(tm_lower_ctx *L, const char *name, const wop *o, const wpart *p,
                                const tm_tref *in, tm_tref *out)
{
    int ch = p->channels;
    size_t packed = tm_packed_weight_bytes(ch, p->per, o->bits);
    float *scales = malloc(sizeof(float) * (size_t)ch);
    int8_t *q = malloc(p->per * (size_t)ch);
    uint8_t *pk = malloc(packed ? packed : 1);
    int32_t *bias = malloc(sizeof(int32_t) * (size_t)ch);
    int32_t *mult = malloc(sizeof(int32_t) * (size_t)ch);
    int32_t *shift = malloc(sizeof(int32_t) * (size_t)ch);
    tm_status s = TM_OK;
    if (!scales || !q || !pk || !bias || !mult || !shift) {
        s = tm_error(TM_ERR_NOMEM, "lowering %s: out of memory", name);
        goto done;
    }
    if ((s = tm_qat_weight_scales(L->q, p->w, ch, p->per, o->bits, scales)) != TM_OK) {
        tm_error_prefix(s, "lowering %s: ", name);
        goto done;
    }
    tm_quantize_weights(p->w, ch, p->per, scales, o->bits, q);
    tm_pack_weights(q, ch, p->per, o->bits, pk);
    for (int c = 0; c < ch; c++) {
        double s_acc = (double)in->qp.scale * (double)scales[c];
        double m = s_acc / (double)out->qp.scale;
        if (!(m < 1073741824.0)) {
            s = tm_error(TM_ERR_NUMERIC, "lowering %s: channel %d's requantisation multiplier "
                                         "%g is out of range",
                         name, c, m);
            goto done;
        }
        tm_rt_quantize_multiplier(m, &mult[c], &shift[c]);
        if (p->b) {
            double v = round((double)p->b[c] / s_acc);
            v = v > 2147483647.0 ? 2147483647.0 : v < -2147483648.0 ? -2147483648.0 : v;
            bias[c] = (int32_t)v;
        }
    }
    tm_rt_op_desc op;
    op_init(&op, o->type);
    op.n_inputs = 1;
    op.inputs[0] = in->index;
    op.output = out->index;
    op.kh = o->kh;
    op.kw = o->kw;
    op.stride = o->stride;
    op.pad_top = o->pad_top;
    op.pad_left = o->pad_left;
    op.bits = o->bits;
    act_clamp(o->act, &out->qp, &op.act_min, &op.act_max);
    op.weights = blob(L, pk, packed);
    op.weights_bytes = (uint32_t)packed;
    if (p->b)
        op.bias = blob(L, bias, sizeof(int32_t) * (size_t)ch);
    op.mult = blob(L, mult, sizeof(int32_t) * (size_t)ch);
    op.shift = blob(L, shift, sizeof(int32_t) * (size_t)ch);
    if ((s = builder_check(L, name)) == TM_OK)
        s = add_op(L, &op, name);
done:
    free(scales);
    free(q);
    free(pk);
    free(bias);
    free(mult);
    free(shift);
    return s;
}

/* TensorFlow's SAME split: the extra padding goes bottom / right. */
static int pad_before(int in, int out, int k, int stride, tm_padding p)
{
    if (p == TM_PAD_VALID)
        return 0;
    int total = (out - 1) * stride + k - in;
    return total > 0 ? total / 2 : 0;
}

tm_status tm_lower_weight(tm_lower_ctx *L, int c, int i, const tm_tref *xin, const tm_tref *skip,
                          tm_tref *y)
{
    (void)skip;
    const tm_qat *q = L->q;
    tm_tref x0 = *xin, *x = &x0;
    const tm_layer *l = tm_qat_model_layer(q, c, i);
    const tm_qat_layer *ql = &q->chain[c][i];
    const tm_layer_spec *s = &l->spec;
    const char *name = s->name;
    int stride = s->stride ? s->stride : 1;
    int Ho = l->out_shape[1], Wo = l->out_shape[2];
    int kw = tm_layer_kernel_w(s);
    wop o = {TM_RT_OP_CONV, s->size, kw, stride, 0, 0, ql->bits, ql->act};
    if (s->kind != TM_LAYER_DENSE) {
        o.pad_top = pad_before(x->h, Ho, s->size, stride, s->padding);
        o.pad_left = pad_before(x->w, Wo, kw, stride, s->padding);
    }
    wpart p;
    tm_tref out;
    if (s->kind == TM_LAYER_SEPARABLE) {
        wop dw = o;
        dw.type = TM_RT_OP_DEPTHWISE;
        dw.act = TM_ACT_NONE;
        TM_TRY(new_tensor(L, x->c, Ho, Wo, tm_observer_qparams(&ql->mid), name, &out));
        TM_TRY(folded_weights(q, c, i, 1, &p));
        tm_status st = emit_weight_op(L, name, &dw, &p, x, &out);
        wpart_free(&p);
        TM_TRY(st);
        *x = out;
        o = (wop){TM_RT_OP_CONV, 1, 1, 1, 0, 0, ql->bits, ql->act};
    } else if (s->kind == TM_LAYER_DEPTHWISE) {
        o.type = TM_RT_OP_DEPTHWISE;
    } else if (s->kind == TM_LAYER_DENSE) {
        o = (wop){TM_RT_OP_DENSE, 1, 1, 1, 0, 0, ql->bits, ql->act};
        Ho = Wo = 1;
    }
    TM_TRY(new_tensor(L, l->out_shape[0], Ho, Wo, tm_observer_qparams(&ql->out), name, &out));
    TM_TRY(folded_weights(q, c, i, 0, &p));
    tm_status st = emit_weight_op(L, name, &o, &p, x, &out);
    wpart_free(&p);
    TM_TRY(st);
    *y = out;
    return TM_OK;
}

/* maxpool, avgpool, globalavgpool: the output keeps the input's quantisation. */
tm_status tm_lower_pool(tm_lower_ctx *L, int c, int i, const tm_tref *x, const tm_tref *skip,
                        tm_tref *y)
{
    (void)skip;
    const tm_layer *l = tm_qat_model_layer(L->q, c, i);
    const tm_layer_spec *s = &l->spec;
    tm_rt_op_type type = s->kind == TM_LAYER_MAXPOOL   ? TM_RT_OP_MAXPOOL
                         : s->kind == TM_LAYER_AVGPOOL ? TM_RT_OP_AVGPOOL
                                                       : TM_RT_OP_GLOBALAVGPOOL;
    tm_tref out;
    int Ho = type == TM_RT_OP_GLOBALAVGPOOL ? 1 : l->out_shape[1];
    int Wo = type == TM_RT_OP_GLOBALAVGPOOL ? 1 : l->out_shape[2];
    TM_TRY(new_tensor(L, x->c, Ho, Wo, x->qp, s->name, &out));
    tm_rt_op_desc op;
    op_init(&op, type);
    op.n_inputs = 1;
    op.inputs[0] = x->index;
    op.output = out.index;
    if (type != TM_RT_OP_GLOBALAVGPOOL) {
        op.kh = op.kw = s->size;
        op.stride = s->stride ? s->stride : s->size;
    }
    TM_TRY(add_op(L, &op, s->name));
    *y = out;
    return TM_OK;
}

/* Both inputs go to the add's own scale, TFLite's way (tm_rt_add). */
tm_status tm_lower_add(tm_lower_ctx *L, int c, int i, const tm_tref *x, const tm_tref *skip,
                       tm_tref *y)
{
    const tm_qat_layer *ql = &L->q->chain[c][i];
    const char *name = tm_qat_model_layer(L->q, c, i)->spec.name;
    tm_qparams oq = tm_observer_qparams(&ql->out);
    int32_t mult[3], shift[3];
    tm_rt_add_multipliers(x->qp.scale, skip->qp.scale, oq.scale, mult, shift);
    TM_TRY(new_tensor(L, x->c, x->h, x->w, oq, name, y));
    tm_rt_op_desc op;
    op_init(&op, TM_RT_OP_ADD);
    op.n_inputs = 2;
    op.inputs[0] = x->index;
    op.inputs[1] = skip->index;
    op.output = y->index;
    act_clamp(ql->act, &oq, &op.act_min, &op.act_max);
    op.mult = blob(L, mult, sizeof mult);
    op.shift = blob(L, shift, sizeof shift);
    TM_TRY(builder_check(L, name));
    return add_op(L, &op, name);
}

tm_status tm_lower_pass(tm_lower_ctx *L, int c, int i, const tm_tref *x, const tm_tref *skip,
                        tm_tref *y)
{
    (void)L;
    (void)c;
    (void)i;
    (void)skip;
    *y = *x;
    return TM_OK;
}

typedef struct {
    tm_lower_ctx *L;
    const tm_lower_options *o;
} lower_walk;

static tm_status lower_input(void *ctx, int b, void *out)
{
    lower_walk *w = ctx;
    tm_lower_ctx *L = w->L;
    const tm_lower_options *o = w->o;
    const tm_qat *q = L->q;
    const tm_branch_spec *bs = &q->m->spec.branches[b];
    tm_tref *x = out;
    if (q->input[b].batches == 0)
        return tm_error(TM_ERR_ARG, "lowering: input %s has no observed range; calibrate "
                                    "first",
                        bs->name);
    TM_TRY(new_tensor(L, bs->input[0], bs->input[1], bs->input[2],
                      tm_observer_qparams(&q->input[b]), bs->name, x));
    tm_rt_input_desc in;
    memset(&in, 0, sizeof in);
    if (o)
        in = o->input[b];
    /* Names longer than the record keep their first 31 bytes. */
    snprintf(in.name, sizeof in.name, "%.*s", TM_RT_NAME_LEN - 1, bs->name);
    in.tensor = x->index;
    if (tm_rt_builder_input(L->b, &in) < 0 || L->b->status != TM_RT_OK) {
        TM_TRY(builder_check(L, bs->name));
        return tm_error(TM_ERR_ARG, "lowering: the runtime builder refused input %s (more "
                                    "than %d inputs?)",
                        bs->name, TM_RT_MAX_MODEL_INPUTS);
    }
    return TM_OK;
}

static tm_status lower_layer(void *ctx, int c, int i, const tm_layer *l, const void *x,
                             const void *skip, void *y)
{
    tm_lower_ctx *L = ((lower_walk *)ctx)->L;
    if (L->q->chain[c][i].merged) {
        *(tm_tref *)y = *(const tm_tref *)x;
        return TM_OK;
    }
    const tm_qlayer_desc *d = tm_qlayer_desc_of(l->spec.kind);
    if (!d->lower)
        return tm_error(TM_ERR_INTERNAL, "lowering %s: no integer form", l->spec.name);
    return d->lower(L, c, i, x, skip, y);
}

static tm_status lower_fusion(void *ctx, const void *outv, int n_out, void *y)
{
    tm_lower_ctx *L = ((lower_walk *)ctx)->L;
    const tm_qat *q = L->q;
    const tm_tref *outs = outv;
    tm_tref *x = y;
    if (n_out > TM_RT_MAX_OP_INPUTS)
        return tm_error(TM_ERR_ARG, "lowering: %d branches, the runtime concatenates at most "
                                    "%d",
                        n_out, TM_RT_MAX_OP_INPUTS);
    if (q->fusion.batches == 0)
        return tm_error(TM_ERR_ARG, "lowering: the fusion has no observed range; calibrate "
                                    "first");
    tm_qparams fq = tm_observer_qparams(&q->fusion);
    int width = 0;
    int32_t mult[TM_RT_MAX_OP_INPUTS], shift[TM_RT_MAX_OP_INPUTS];
    tm_rt_op_desc op;
    op_init(&op, TM_RT_OP_CONCAT);
    op.n_inputs = n_out;
    for (int i = 0; i < n_out; i++) {
        /* A vector concatenation takes each input's c*h*w bytes in order,
         * so a flattened map needs no copy. */
        width += outs[i].c * outs[i].h * outs[i].w;
        op.inputs[i] = outs[i].index;
        tm_rt_quantize_multiplier((double)outs[i].qp.scale / (double)fq.scale, &mult[i],
                                  &shift[i]);
    }
    TM_TRY(new_tensor(L, width, 1, 1, fq, "fusion", x));
    op.output = x->index;
    op.mult = blob(L, mult, sizeof(int32_t) * (size_t)n_out);
    op.shift = blob(L, shift, sizeof(int32_t) * (size_t)n_out);
    TM_TRY(builder_check(L, "fusion"));
    return add_op(L, &op, "fusion");
}

static tm_status lower_into(tm_lower_ctx *L, const tm_lower_options *o)
{
    static const tm_graph_visitor v = {sizeof(tm_tref), lower_input, lower_layer, lower_fusion};
    const tm_model *m = L->q->m;
    lower_walk w = {L, o};
    tm_tref x;
    TM_TRY(tm_graph_walk(m, &v, &w, &x));
    for (int k = 0; k < m->spec.n_classes; k++) {
        char name[TM_RT_NAME_LEN];
        if (o && o->class_names)
            snprintf(name, sizeof name, "%.*s", TM_RT_NAME_LEN - 1, o->class_names[k]);
        else
            snprintf(name, sizeof name, "%d", k);
        tm_rt_builder_class(L->b, name);
    }
    if (o && o->label_column && strlen(o->label_column) >= TM_RT_NAME_LEN)
        return tm_error(TM_ERR_ARG, "lowering: label column '%s' is longer than the model file's "
                                    "%d bytes",
                        o->label_column, TM_RT_NAME_LEN - 1);
    tm_rt_builder_label_column(L->b, o ? o->label_column : NULL);
    tm_rt_builder_output(L->b, x.index);
    return builder_check(L, "the class names and output");
}

tm_status tm_lower(const tm_qat *q, const tm_lower_options *o, uint8_t **bytes, size_t *size)
{
    *bytes = NULL;
    *size = 0;
    /* Weights take at most a byte per parameter and biases, multipliers and
     * shifts 12 bytes per channel; the records are a few kilobytes. */
    size_t cap = 65536 + 16 * (size_t)tm_model_param_count(q->m) +
                 sizeof(tm_rt_op_desc) * TM_RT_BUILDER_MAX_OPS +
                 sizeof(tm_rt_tensor_desc) * TM_RT_BUILDER_MAX_TENSORS;
    tm_rt_builder *b = malloc(sizeof *b);
    if (!b)
        return tm_error(TM_ERR_NOMEM, "lowering: out of memory");
    tm_status s = TM_OK;
    for (int attempt = 0; attempt < 4; attempt++, cap *= 2) {
        uint8_t *buf = malloc(cap);
        if (!buf) {
            s = tm_error(TM_ERR_NOMEM, "lowering: out of memory for %zu bytes", cap);
            break;
        }
        tm_rt_builder_init(b, buf, cap);
        tm_lower_ctx L = {b, q};
        s = lower_into(&L, o);
        tm_rt_status rs = TM_RT_OK;
        size_t n = 0;
        if (s == TM_OK) {
            rs = tm_rt_builder_finish(b, &n);
            if (rs == TM_RT_OK) {
                *bytes = buf;
                *size = n;
                break;
            }
        }
        free(buf);
        if (b->status == TM_RT_ERR_BUFFER || rs == TM_RT_ERR_BUFFER) {
            s = tm_error(TM_ERR_NOMEM, "lowering: the model does not fit %zu bytes", cap);
            continue;
        }
        if (s == TM_OK)
            s = tm_error(TM_ERR_INTERNAL, "lowering: the runtime builder failed to finish (%s)",
                         tm_rt_status_name(rs));
        break;
    }
    free(b);
    return s;
}

/* ---- integer simulation ------------------------------------------------ */

tm_status tm_qsim_open(tm_qsim *s, const tm_model *m, const void *bytes, size_t size)
{
    memset(s, 0, sizeof *s);
    if (tm_rt_model_open(&s->model, bytes, size) != TM_RT_OK)
        return tm_error(TM_ERR_FORMAT, "integer simulation: the runtime rejects the model: %s",
                        tm_rt_model_error(&s->model));
    for (uint32_t i = 0; i < s->model.n_inputs; i++) {
        s->branch_of[i] = -1;
        for (int b = 0; b < m->spec.n_branches; b++)
            if (!strncmp(s->model.inputs[i].name, m->spec.branches[b].name, TM_RT_NAME_LEN - 1))
                s->branch_of[i] = b;
        if (s->branch_of[i] < 0)
            return tm_error(TM_ERR_ARG, "integer simulation: model input '%.*s' matches no "
                                        "branch",
                            TM_RT_NAME_LEN, s->model.inputs[i].name);
    }
    size_t mem = tm_rt_model_memory_bytes(&s->model);
    /* 16-byte alignment for the vector kernels. */
    s->mem = aligned_alloc(16, (mem + 15) / 16 * 16 + 16);
    if (!s->mem)
        return tm_error(TM_ERR_NOMEM, "integer simulation: out of memory for %zu bytes", mem);
    return TM_OK;
}

void tm_qsim_close(tm_qsim *s)
{
    free(s->mem);
    s->mem = NULL;
}

tm_status tm_qsim_predict(tm_qsim *s, const tm_qat_data *d, float *probs, int8_t *logits)
{
    const tm_rt_model *m = &s->model;
    for (uint32_t i = 0; i < m->n_inputs; i++) {
        if (!d->x[s->branch_of[i]])
            return tm_error(TM_ERR_ARG, "integer simulation: no samples for input %.*s",
                            TM_RT_NAME_LEN, m->inputs[i].name);
        if (m->inputs[i].kind != TM_RT_INPUT_FEATURES)
            return tm_error(TM_ERR_ARG, "integer simulation: input %.*s is not a features input",
                            TM_RT_NAME_LEN, m->inputs[i].name);
    }
    int k = (int)m->n_classes;
    tm_status st = TM_OK;
    for (int n = 0; n < d->n; n++) {
        for (uint32_t i = 0; i < m->n_inputs; i++) {
            const tm_rt_input_desc *in = &m->inputs[i];
            const tm_rt_tensor_desc *t = &m->tensors[in->tensor];
            size_t dim = (size_t)t->c * (size_t)t->h * (size_t)t->w;
            /* The features are standardised already, by the same expression
             * as the runtime's setter: only its quantisation is left. */
            tm_rt_quantize_input(d->x[s->branch_of[i]] + (size_t)n * dim, dim, t->scale,
                                 t->zero_point, tm_rt_model_tensor(m, s->mem, in->tensor));
        }
        tm_rt_status rs = tm_rt_model_invoke(m, s->mem);
        if (rs != TM_RT_OK) {
            st = tm_error(TM_ERR_INTERNAL, "integer simulation: sample %d: invoke failed: %s", n,
                          tm_rt_status_name(rs));
            break;
        }
        if (probs)
            tm_rt_model_scores(m, s->mem, probs + (size_t)n * k);
        if (logits)
            memcpy(logits + (size_t)n * k, tm_rt_model_logits(m, s->mem), (size_t)k);
    }
    return st;
}
