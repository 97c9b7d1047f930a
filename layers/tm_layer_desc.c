#include "tm_layer_desc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tm_optim.h"

/* ---- building: parameters and initialisation ----------------------------- */

static tm_status add_entry(tm_param **list, int *n, const char *layer, const char *what,
                           tm_tensor *t, int decay)
{
    tm_param *p = realloc(*list, sizeof *p * (size_t)(*n + 1));
    if (!p)
        return tm_error(TM_ERR_NOMEM, "model: out of memory");
    *list = p;
    snprintf(p[*n].name, sizeof p[*n].name, "%s.%s", layer, what);
    snprintf(p[*n].layer, sizeof p[*n].layer, "%s", layer);
    snprintf(p[*n].what, sizeof p[*n].what, "%s", what);
    p[*n].t = t;
    p[*n].decay = decay;
    (*n)++;
    return TM_OK;
}

static tm_status new_param(tm_model *m, tm_layer *l, const char *what, tm_tensor **t, int ndim,
                           const int *shape, int decay)
{
    /* Checked before allocating: an impossible layer from the experiment
     * file is the user's mistake, named at its line, not "out of memory". */
    double n = 1;
    for (int i = 0; i < ndim; i++)
        n *= (double)shape[i];
    if (n > (double)TM_MAX_PARAM_VALUES)
        return tm_error(TM_ERR_CONFIG,
                        "%s:%d: layer %s: its %s would hold %.0f values, over the limit of %d "
                        "(2^26) per tensor; use fewer units or filters, or pool first",
                        m->spec.source[0] ? m->spec.source : "experiment", l->spec.line,
                        l->spec.name, what, n, TM_MAX_PARAM_VALUES);
    TM_TRY(tm_tensor_new(t, ndim, shape, 1));
    return add_entry(&m->params, &m->n_params, l->spec.name, what, *t, decay);
}

static tm_status new_bn(tm_model *m, tm_layer *l, int c)
{
    TM_TRY(new_param(m, l, "bn.gamma", &l->gamma, 1, &c, 0));
    TM_TRY(new_param(m, l, "bn.beta", &l->beta, 1, &c, 0));
    tm_init_constant(l->gamma, 1.0f);
    TM_TRY(tm_tensor_new(&l->run_mean, 1, &c, 0));
    TM_TRY(tm_tensor_new(&l->run_var, 1, &c, 0));
    tm_init_constant(l->run_var, 1.0f);
    TM_TRY(add_entry(&m->buffers, &m->n_buffers, l->spec.name, "bn.running_mean", l->run_mean, 0));
    return add_entry(&m->buffers, &m->n_buffers, l->spec.name, "bn.running_var", l->run_var, 0);
}

static void init_weight(const tm_model *m, tm_tensor *w, int fan_in, int fan_out,
                        tm_activation act, tm_rng *r)
{
    switch (m->spec.init) {
    case TM_INIT_TORCH:
        tm_init_uniform(w, 1.0f / sqrtf((float)fan_in), r);
        return;
    case TM_INIT_HE:
        tm_init_he_normal(w, fan_in, r);
        return;
    case TM_INIT_GLOROT:
        tm_init_glorot_uniform(w, fan_in, fan_out, r);
        return;
    default:
        if (act == TM_ACT_NONE)
            tm_init_glorot_uniform(w, fan_in, fan_out, r);
        else
            tm_init_he_normal(w, fan_in, r);
    }
}

static void init_bias(const tm_model *m, tm_tensor *b, int fan_in, tm_rng *r)
{
    if (b && m->spec.init == TM_INIT_TORCH)
        tm_init_uniform(b, 1.0f / sqrtf((float)fan_in), r);
}

tm_status tm_layer_error(const tm_model *m, const tm_layer *l, const char *why)
{
    char shape[64];
    tm_shape_str(l->in_ndim == 4 ? 3 : 1, l->in_shape, shape, sizeof shape);
    return tm_error(TM_ERR_SHAPE, "%s:%d: [%s] %s (input %s)",
                    m->spec.source[0] ? m->spec.source : "model", l->spec.line, l->spec.name, why,
                    shape);
}

static int has_bias(const tm_layer_spec *s)
{
    return s->bias < 0 ? !s->batch_norm : s->bias;
}

/* ---- the forward's shared tail: batch norm, then the activation ---------- */

static tm_status activate(tm_tape *t, tm_activation a, tm_tensor *x, tm_tensor **y)
{
    if (a == TM_ACT_RELU)
        return tm_relu(t, x, y);
    if (a == TM_ACT_RELU6)
        return tm_relu6(t, x, y);
    *y = x;
    return TM_OK;
}

static tm_status norm(const tm_model *m, const tm_layer *l, tm_tape *t, tm_tensor *x,
                      tm_tensor **y)
{
    if (!l->gamma) {
        *y = x;
        return TM_OK;
    }
    return tm_batchnorm(t, x, l->gamma, l->beta, l->run_mean->data, l->run_var->data,
                        m->spec.bn_momentum, m->spec.bn_eps, y);
}

static tm_status norm_act(const tm_model *m, const tm_layer *l, tm_tape *t, tm_tensor *h,
                          tm_tensor **y)
{
    tm_tensor *h2 = NULL;
    TM_TRY(norm(m, l, t, h, &h2));
    return activate(t, l->spec.activation, h2, y);
}

static tm_conv_params conv_params(const tm_layer_spec *s)
{
    tm_conv_params cp = {s->stride ? s->stride : 1, s->padding};
    return cp;
}

/* ---- convolutions: conv, depthwise, separable ------------------------------ */

static tm_status build_conv(tm_model *m, tm_layer *l, const tm_layer *skip, tm_rng *r)
{
    (void)skip;
    tm_layer_spec *s = &l->spec;
    int C = l->in_shape[0], H = l->in_shape[1], W = l->in_shape[2];
    if (l->in_ndim != 4)
        return tm_layer_error(m, l, "a convolution needs a feature map, not a vector");
    int stride = s->stride ? s->stride : 1, kh = s->size, kw = tm_layer_kernel_w(s);
    if (kh < 1 || kw < 1 || stride < 1)
        return tm_layer_error(m, l, "size and stride must be positive");
    int Ho = tm_conv_out_size(H, kh, stride, s->padding);
    int Wo = tm_conv_out_size(W, kw, stride, s->padding);
    if (Ho < 1 || Wo < 1)
        return tm_layer_error(m, l, "the kernel is larger than the input with valid padding");
    int Co = s->kind == TM_LAYER_DEPTHWISE ? C : s->filters;
    if (Co < 1)
        return tm_layer_error(m, l, "filters must be positive");
    int k2 = kh * kw, bias = has_bias(s);
    if (s->kind == TM_LAYER_CONV) {
        int ws[4] = {Co, C, kh, kw};
        TM_TRY(new_param(m, l, "weight", &l->w, 4, ws, 1));
        init_weight(m, l->w, C * k2, Co * k2, s->activation, r);
        if (bias)
            TM_TRY(new_param(m, l, "bias", &l->b, 1, &Co, 0));
        init_bias(m, l->b, C * k2, r);
        l->macs = (long)Co * Ho * Wo * C * k2;
    } else {
        int ws[4] = {C, 1, kh, kw};
        TM_TRY(new_param(m, l, s->kind == TM_LAYER_SEPARABLE ? "dw.weight" : "weight", &l->w, 4,
                         ws, 1));
        /* The depthwise half feeds a linear pointwise conv: Glorot. */
        init_weight(m, l->w, k2, k2, s->kind == TM_LAYER_SEPARABLE ? TM_ACT_NONE : s->activation,
                    r);
        l->macs = (long)C * Ho * Wo * k2;
        if (s->kind == TM_LAYER_SEPARABLE) {
            TM_TRY(new_param(m, l, "dw.bias", &l->b, 1, &C, 0));
            init_bias(m, l->b, k2, r);
            int ps[4] = {Co, C, 1, 1};
            TM_TRY(new_param(m, l, "pw.weight", &l->pw_w, 4, ps, 1));
            init_weight(m, l->pw_w, C, Co, s->activation, r);
            if (bias)
                TM_TRY(new_param(m, l, "pw.bias", &l->pw_b, 1, &Co, 0));
            init_bias(m, l->pw_b, C, r);
            l->macs += (long)Co * Ho * Wo * C;
        } else if (bias) {
            TM_TRY(new_param(m, l, "bias", &l->b, 1, &C, 0));
            init_bias(m, l->b, k2, r);
        }
    }
    if (s->batch_norm)
        TM_TRY(new_bn(m, l, Co));
    l->out_shape[0] = Co;
    l->out_shape[1] = Ho;
    l->out_shape[2] = Wo;
    return TM_OK;
}

static tm_status fwd_conv(const tm_model *m, const tm_layer *l, tm_tape *t, tm_tensor *x,
                          tm_tensor *skip, tm_tensor **y)
{
    (void)skip;
    tm_conv_params cp = conv_params(&l->spec);
    tm_tensor *h = NULL;
    TM_TRY(tm_conv2d(t, x, l->w, l->b, &cp, &h));
    return norm_act(m, l, t, h, y);
}

static tm_status fwd_depthwise(const tm_model *m, const tm_layer *l, tm_tape *t, tm_tensor *x,
                               tm_tensor *skip, tm_tensor **y)
{
    (void)skip;
    tm_conv_params cp = conv_params(&l->spec);
    tm_tensor *h = NULL;
    TM_TRY(tm_depthwise_conv2d(t, x, l->w, l->b, &cp, &h));
    return norm_act(m, l, t, h, y);
}

static tm_status fwd_separable(const tm_model *m, const tm_layer *l, tm_tape *t, tm_tensor *x,
                               tm_tensor *skip, tm_tensor **y)
{
    (void)skip;
    tm_conv_params cp = conv_params(&l->spec), pw = {1, TM_PAD_SAME};
    tm_tensor *h = NULL, *h2 = NULL;
    TM_TRY(tm_depthwise_conv2d(t, x, l->w, l->b, &cp, &h2));
    TM_TRY(tm_conv2d(t, h2, l->pw_w, l->pw_b, &pw, &h));
    return norm_act(m, l, t, h, y);
}

/* ---- pools, flatten ---------------------------------------------------------- */

static tm_status build_pool(tm_model *m, tm_layer *l, const tm_layer *skip, tm_rng *r)
{
    (void)skip;
    (void)r;
    const tm_layer_spec *s = &l->spec;
    int H = l->in_shape[1], W = l->in_shape[2];
    if (l->in_ndim != 4)
        return tm_layer_error(m, l, "pooling needs a feature map, not a vector");
    int stride = s->stride ? s->stride : s->size;
    if (s->size_w && s->size_w != s->size)
        return tm_layer_error(m, l, "pool windows are square: give size = N");
    if (s->size < 1 || stride < 1)
        return tm_layer_error(m, l, "size and stride must be positive");
    if (H < s->size || W < s->size)
        return tm_layer_error(m, l, "the pooling window is larger than the input");
    l->out_shape[1] = (H - s->size) / stride + 1;
    l->out_shape[2] = (W - s->size) / stride + 1;
    return TM_OK;
}

static tm_status fwd_maxpool(const tm_model *m, const tm_layer *l, tm_tape *t, tm_tensor *x,
                             tm_tensor *skip, tm_tensor **y)
{
    (void)m;
    (void)skip;
    const tm_layer_spec *s = &l->spec;
    return tm_maxpool2d(t, x, s->size, s->stride ? s->stride : s->size, y);
}

static tm_status fwd_avgpool(const tm_model *m, const tm_layer *l, tm_tape *t, tm_tensor *x,
                             tm_tensor *skip, tm_tensor **y)
{
    (void)m;
    (void)skip;
    const tm_layer_spec *s = &l->spec;
    return tm_avgpool2d(t, x, s->size, s->stride ? s->stride : s->size, y);
}

/* globalavgpool and flatten: a feature map to a vector. */
static tm_status build_to_vector(tm_model *m, tm_layer *l, const tm_layer *skip, tm_rng *r)
{
    (void)skip;
    (void)r;
    if (l->in_ndim != 4)
        return tm_layer_error(m, l, "needs a feature map, not a vector");
    int C = l->in_shape[0], H = l->in_shape[1], W = l->in_shape[2];
    l->out_ndim = 2;
    l->out_shape[0] = l->spec.kind == TM_LAYER_FLATTEN ? C * H * W : C;
    l->out_shape[1] = l->out_shape[2] = 1;
    return TM_OK;
}

static tm_status fwd_globalavgpool(const tm_model *m, const tm_layer *l, tm_tape *t,
                                   tm_tensor *x, tm_tensor *skip, tm_tensor **y)
{
    (void)m;
    (void)l;
    (void)skip;
    return tm_global_avgpool(t, x, y);
}

static tm_status fwd_flatten(const tm_model *m, const tm_layer *l, tm_tape *t, tm_tensor *x,
                             tm_tensor *skip, tm_tensor **y)
{
    (void)m;
    (void)l;
    (void)skip;
    return tm_flatten(t, x, y);
}

/* ---- dense ------------------------------------------------------------------- */

static tm_status build_dense(tm_model *m, tm_layer *l, const tm_layer *skip, tm_rng *r)
{
    (void)skip;
    tm_layer_spec *s = &l->spec;
    int C = l->in_shape[0];
    if (l->in_ndim == 4)
        return tm_layer_error(m, l,
                              "dense needs a vector: add a flatten or globalavgpool layer first");
    if (s->filters < 1)
        return tm_layer_error(m, l, "units must be positive");
    int ws[2] = {s->filters, C};
    TM_TRY(new_param(m, l, "weight", &l->w, 2, ws, 1));
    init_weight(m, l->w, C, s->filters, s->activation, r);
    if (has_bias(s))
        TM_TRY(new_param(m, l, "bias", &l->b, 1, &s->filters, 0));
    init_bias(m, l->b, C, r);
    if (s->batch_norm)
        TM_TRY(new_bn(m, l, s->filters));
    l->macs = (long)C * s->filters;
    l->out_shape[0] = s->filters;
    return TM_OK;
}

static tm_status fwd_dense(const tm_model *m, const tm_layer *l, tm_tape *t, tm_tensor *x,
                           tm_tensor *skip, tm_tensor **y)
{
    (void)skip;
    tm_tensor *h = NULL;
    TM_TRY(tm_dense(t, x, l->w, l->b, &h));
    return norm_act(m, l, t, h, y);
}

/* ---- batchnorm, relu, relu6, dropout: the shape stays -------------------------- */

static tm_status build_batchnorm(tm_model *m, tm_layer *l, const tm_layer *skip, tm_rng *r)
{
    (void)skip;
    (void)r;
    return new_bn(m, l, l->in_shape[0]);
}

static tm_status fwd_batchnorm(const tm_model *m, const tm_layer *l, tm_tape *t, tm_tensor *x,
                               tm_tensor *skip, tm_tensor **y)
{
    (void)skip;
    return norm(m, l, t, x, y);
}

static tm_status build_same(tm_model *m, tm_layer *l, const tm_layer *skip, tm_rng *r)
{
    (void)skip;
    (void)r;
    if (l->spec.kind == TM_LAYER_DROPOUT && !(l->spec.rate >= 0.0f && l->spec.rate < 1.0f))
        return tm_layer_error(m, l, "dropout rate must be in [0, 1)");
    return TM_OK;
}

static tm_status fwd_relu(const tm_model *m, const tm_layer *l, tm_tape *t, tm_tensor *x,
                          tm_tensor *skip, tm_tensor **y)
{
    (void)m;
    (void)l;
    (void)skip;
    return tm_relu(t, x, y);
}

static tm_status fwd_relu6(const tm_model *m, const tm_layer *l, tm_tape *t, tm_tensor *x,
                           tm_tensor *skip, tm_tensor **y)
{
    (void)m;
    (void)l;
    (void)skip;
    return tm_relu6(t, x, y);
}

static tm_status fwd_dropout(const tm_model *m, const tm_layer *l, tm_tape *t, tm_tensor *x,
                             tm_tensor *skip, tm_tensor **y)
{
    (void)m;
    (void)skip;
    return tm_dropout(t, x, l->spec.rate, y);
}

/* ---- add: a residual connection ------------------------------------------------ */

static tm_status build_add(tm_model *m, tm_layer *l, const tm_layer *skip, tm_rng *r)
{
    (void)r;
    char why[200], got[64];
    int same = skip->out_ndim == l->in_ndim;
    for (int i = 0; same && i < 3; i++)
        same = skip->out_shape[i] == l->in_shape[i];
    if (!same) {
        tm_shape_str(skip->out_ndim == 4 ? 3 : 1, skip->out_shape, got, sizeof got);
        snprintf(why, sizeof why, "from = %s gives %s, which is not the shape of this layer's "
                                  "input",
                 l->spec.from, got);
        return tm_layer_error(m, l, why);
    }
    return TM_OK;
}

static tm_status fwd_add(const tm_model *m, const tm_layer *l, tm_tape *t, tm_tensor *x,
                         tm_tensor *skip, tm_tensor **y)
{
    (void)m;
    tm_tensor *h = NULL;
    TM_TRY(tm_add(t, x, skip, &h));
    return activate(t, l->spec.activation, h, y);
}

/* ---- the table ----------------------------------------------------------------- */

#define CONV_KEYS "type, filters, size, stride, padding, batch_norm, bias, activation, bits"

const tm_layer_desc tm_layer_conv = {"conv", CONV_KEYS, build_conv, fwd_conv};
const tm_layer_desc tm_layer_depthwise = {
    "depthwise", "type, size, stride, padding, batch_norm, bias, activation, bits", build_conv,
    fwd_depthwise};
const tm_layer_desc tm_layer_separable = {"separable", CONV_KEYS, build_conv, fwd_separable};
const tm_layer_desc tm_layer_maxpool = {"maxpool", "type, size, stride", build_pool,
                                        fwd_maxpool};
const tm_layer_desc tm_layer_avgpool = {"avgpool", "type, size, stride", build_pool,
                                        fwd_avgpool};
const tm_layer_desc tm_layer_globalavgpool = {"globalavgpool", "type", build_to_vector,
                                              fwd_globalavgpool};
const tm_layer_desc tm_layer_dense = {"dense", "type, units, batch_norm, bias, activation, bits",
                                      build_dense, fwd_dense};
const tm_layer_desc tm_layer_batchnorm = {"batchnorm", "type", build_batchnorm, fwd_batchnorm};
const tm_layer_desc tm_layer_relu = {"relu", "type", build_same, fwd_relu};
const tm_layer_desc tm_layer_relu6 = {"relu6", "type", build_same, fwd_relu6};
const tm_layer_desc tm_layer_dropout = {"dropout", "type, rate", build_same, fwd_dropout};
const tm_layer_desc tm_layer_flatten = {"flatten", "type", build_to_vector, fwd_flatten};
const tm_layer_desc tm_layer_add = {"add", "type, from, activation", build_add, fwd_add};

#define TM_LAYER_DESC_ROW_(K, n) [TM_LAYER_##K] = &tm_layer_##n,
static const tm_layer_desc *const descs[] = {TM_LAYER_KINDS(TM_LAYER_DESC_ROW_)};
#undef TM_LAYER_DESC_ROW_
_Static_assert(sizeof descs / sizeof *descs == TM_LAYER_KIND_COUNT,
               "a layer kind without a descriptor");

const tm_layer_desc *tm_layer_desc_of(tm_layer_kind k)
{
    return (int)k >= 0 && k < TM_LAYER_KIND_COUNT ? descs[k] : NULL;
}

const char *tm_layer_kind_name(tm_layer_kind k)
{
    const tm_layer_desc *d = tm_layer_desc_of(k);
    return d ? d->name : "?";
}

int tm_layer_kind_parse(const char *s)
{
    for (int k = 0; k < TM_LAYER_KIND_COUNT; k++)
        if (strcmp(s, descs[k]->name) == 0)
            return k;
    return -1;
}

const char *tm_layer_kind_list(void)
{
#define TM_LAYER_NAME_(K, n) ", " #n
    static const char all[] = TM_LAYER_KINDS(TM_LAYER_NAME_);
#undef TM_LAYER_NAME_
    return all + 2;
}
