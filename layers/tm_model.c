#include "tm_model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tm_optim.h"

static const char *kind_names[TM_LAYER_KIND_COUNT] = {
    "conv", "depthwise", "separable", "maxpool", "avgpool", "globalavgpool",
    "dense", "batchnorm", "relu", "relu6", "dropout", "flatten",
};

const char *tm_layer_kind_name(tm_layer_kind k)
{
    return k >= 0 && k < TM_LAYER_KIND_COUNT ? kind_names[k] : "?";
}

int tm_layer_kind_parse(const char *s)
{
    for (int k = 0; k < TM_LAYER_KIND_COUNT; k++)
        if (strcmp(s, kind_names[k]) == 0)
            return k;
    return -1;
}

static tm_status copy_layers(tm_layer_spec **dst, const tm_layer_spec *src, int n)
{
    *dst = NULL;
    if (n == 0)
        return TM_OK;
    *dst = malloc(sizeof **dst * (size_t)n);
    if (!*dst)
        return tm_error(TM_ERR_NOMEM, "model spec: out of memory");
    memcpy(*dst, src, sizeof **dst * (size_t)n);
    return TM_OK;
}

tm_status tm_model_spec_copy(tm_model_spec *dst, const tm_model_spec *src)
{
    *dst = *src;
    for (int b = 0; b < TM_MAX_BRANCHES; b++)
        dst->branches[b].layers = NULL;
    dst->head = NULL;
    for (int b = 0; b < src->n_branches; b++) {
        tm_status s = copy_layers(&dst->branches[b].layers, src->branches[b].layers,
                                  src->branches[b].n_layers);
        if (s != TM_OK) {
            tm_model_spec_free(dst);
            return s;
        }
    }
    tm_status s = copy_layers(&dst->head, src->head, src->n_head);
    if (s != TM_OK)
        tm_model_spec_free(dst);
    return s;
}

void tm_model_spec_free(tm_model_spec *s)
{
    for (int b = 0; b < TM_MAX_BRANCHES; b++) {
        free(s->branches[b].layers);
        s->branches[b].layers = NULL;
    }
    free(s->head);
    s->head = NULL;
}

tm_status tm_model_spec_single_branch(tm_model_spec *dst, const tm_model_spec *src,
                                      const char *keep)
{
    int found = -1;
    for (int b = 0; b < src->n_branches; b++)
        if (strcmp(src->branches[b].name, keep) == 0)
            found = b;
    if (found < 0)
        return tm_error(TM_ERR_ARG, "model: no branch called '%s'", keep);
    TM_TRY(tm_model_spec_copy(dst, src));
    tm_branch_spec kept = dst->branches[found];
    for (int b = 0; b < dst->n_branches; b++)
        if (b != found)
            free(dst->branches[b].layers);
    memset(dst->branches, 0, sizeof dst->branches);
    dst->branches[0] = kept;
    dst->n_branches = 1;
    return TM_OK;
}

/* ---- building ---------------------------------------------------------- */

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

static const char *src(const tm_model *m) { return m->spec.source[0] ? m->spec.source : "model"; }

static tm_status layer_error(const tm_model *m, const tm_layer *l, const char *fmt,
                             const char *detail)
{
    char shape[64];
    tm_shape_str(l->in_ndim == 4 ? 3 : 1, l->in_shape, shape, sizeof shape);
    return tm_error(TM_ERR_SHAPE, "%s:%d: [%s] %s%s (input %s)", src(m), l->spec.line,
                    l->spec.name, fmt, detail ? detail : "", shape);
}

/* Fills out_shape, MACs and parameters for one layer given its input. */
static tm_status build_layer(tm_model *m, tm_layer *l, tm_rng *r)
{
    tm_layer_spec *s = &l->spec;
    int C = l->in_shape[0], H = l->in_shape[1], W = l->in_shape[2];
    int spatial = l->in_ndim == 4;
    l->out_ndim = l->in_ndim;
    memcpy(l->out_shape, l->in_shape, sizeof l->out_shape);
    int bias = s->bias < 0 ? !s->batch_norm : s->bias;
    switch (s->kind) {
    case TM_LAYER_CONV:
    case TM_LAYER_DEPTHWISE:
    case TM_LAYER_SEPARABLE: {
        if (!spatial)
            return layer_error(m, l, "a convolution needs a feature map, not a vector", NULL);
        int stride = s->stride ? s->stride : 1, kh = s->size, kw = tm_layer_kernel_w(s);
        if (kh < 1 || kw < 1 || stride < 1)
            return layer_error(m, l, "size and stride must be positive", NULL);
        int Ho = tm_conv_out_size(H, kh, stride, s->padding);
        int Wo = tm_conv_out_size(W, kw, stride, s->padding);
        if (Ho < 1 || Wo < 1)
            return layer_error(m, l, "the kernel is larger than the input with valid padding", NULL);
        int Co = s->kind == TM_LAYER_DEPTHWISE ? C : s->filters;
        if (Co < 1)
            return layer_error(m, l, "filters must be positive", NULL);
        int k2 = kh * kw;
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
            TM_TRY(new_param(m, l, s->kind == TM_LAYER_SEPARABLE ? "dw.weight" : "weight", &l->w,
                             4, ws, 1));
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
    case TM_LAYER_MAXPOOL:
    case TM_LAYER_AVGPOOL: {
        if (!spatial)
            return layer_error(m, l, "pooling needs a feature map, not a vector", NULL);
        int stride = s->stride ? s->stride : s->size;
        if (s->size_w && s->size_w != s->size)
            return layer_error(m, l, "pool windows are square: give size = N", NULL);
        if (s->size < 1 || stride < 1)
            return layer_error(m, l, "size and stride must be positive", NULL);
        if (H < s->size || W < s->size)
            return layer_error(m, l, "the pooling window is larger than the input", NULL);
        l->out_shape[1] = (H - s->size) / stride + 1;
        l->out_shape[2] = (W - s->size) / stride + 1;
        return TM_OK;
    }
    case TM_LAYER_GLOBALAVGPOOL:
    case TM_LAYER_FLATTEN:
        if (!spatial)
            return layer_error(m, l, "needs a feature map, not a vector", NULL);
        l->out_ndim = 2;
        l->out_shape[0] = s->kind == TM_LAYER_FLATTEN ? C * H * W : C;
        l->out_shape[1] = l->out_shape[2] = 1;
        return TM_OK;
    case TM_LAYER_DENSE: {
        if (spatial)
            return layer_error(m, l, "dense needs a vector: add a flatten or globalavgpool layer first",
                               NULL);
        if (s->filters < 1)
            return layer_error(m, l, "units must be positive", NULL);
        int ws[2] = {s->filters, C};
        TM_TRY(new_param(m, l, "weight", &l->w, 2, ws, 1));
        init_weight(m, l->w, C, s->filters, s->activation, r);
        if (bias)
            TM_TRY(new_param(m, l, "bias", &l->b, 1, &s->filters, 0));
        init_bias(m, l->b, C, r);
        if (s->batch_norm)
            TM_TRY(new_bn(m, l, s->filters));
        l->macs = (long)C * s->filters;
        l->out_shape[0] = s->filters;
        return TM_OK;
    }
    case TM_LAYER_BATCHNORM:
        return new_bn(m, l, C);
    case TM_LAYER_RELU:
    case TM_LAYER_RELU6:
    case TM_LAYER_DROPOUT:
        if (s->kind == TM_LAYER_DROPOUT && !(s->rate >= 0.0f && s->rate < 1.0f))
            return layer_error(m, l, "dropout rate must be in [0, 1)", NULL);
        return TM_OK;
    default:
        break;
    }
    return tm_error(TM_ERR_INTERNAL, "%s: unknown layer kind %d", s->name, (int)s->kind);
}

static tm_status build_chain(tm_model *m, tm_layer *layers, const tm_layer_spec *specs, int n,
                             int ndim, int shape[3], tm_rng *r)
{
    for (int i = 0; i < n; i++) {
        tm_layer *l = &layers[i];
        l->spec = specs[i];
        l->in_ndim = ndim;
        memcpy(l->in_shape, shape, sizeof l->in_shape);
        TM_TRY(build_layer(m, l, r));
        ndim = l->out_ndim;
        memcpy(shape, l->out_shape, sizeof l->out_shape);
    }
    return TM_OK;
}

tm_status tm_model_build(tm_model **out, const tm_model_spec *spec, tm_rng *r)
{
    *out = NULL;
    if (spec->n_branches < 1 || spec->n_branches > TM_MAX_BRANCHES)
        return tm_error(TM_ERR_CONFIG, "model: %d branches (1..%d allowed)", spec->n_branches,
                        TM_MAX_BRANCHES);
    if (spec->n_head < 1)
        return tm_error(TM_ERR_CONFIG, "model: the head has no layers (it needs at least a dense "
                                       "layer with one unit per class)");
    tm_model *m = calloc(1, sizeof *m);
    if (!m)
        return tm_error(TM_ERR_NOMEM, "model: out of memory");
    tm_status s = tm_model_spec_copy(&m->spec, spec);
    if (s != TM_OK) {
        free(m);
        return s;
    }
    m->fused_width = 0;
    for (int b = 0; b < spec->n_branches && s == TM_OK; b++) {
        const tm_branch_spec *bs = &spec->branches[b];
        m->branch_layers[b] = calloc((size_t)(bs->n_layers ? bs->n_layers : 1), sizeof(tm_layer));
        if (!m->branch_layers[b]) {
            s = tm_error(TM_ERR_NOMEM, "model: out of memory");
            break;
        }
        int shape[3] = {bs->input[0], bs->input[1], bs->input[2]};
        if (shape[0] < 1 || shape[1] < 1 || shape[2] < 1) {
            s = tm_error(TM_ERR_CONFIG, "%s:%d: [%s] input shape must be positive", src(m),
                         bs->line, bs->name);
            break;
        }
        s = build_chain(m, m->branch_layers[b], bs->layers, bs->n_layers, 4, shape, r);
        if (s != TM_OK)
            break;
        int ndim = bs->n_layers ? m->branch_layers[b][bs->n_layers - 1].out_ndim : 4;
        if (ndim != 2)
            s = tm_error(TM_ERR_SHAPE,
                         "%s:%d: [%s] the branch ends in a %dx%dx%d feature map; end it with "
                         "flatten, globalavgpool or dense so it can be concatenated",
                         src(m), bs->line, bs->name, shape[0], shape[1], shape[2]);
        m->fused_width += shape[0];
    }
    if (s == TM_OK) {
        m->head_layers = calloc((size_t)spec->n_head, sizeof(tm_layer));
        if (!m->head_layers)
            s = tm_error(TM_ERR_NOMEM, "model: out of memory");
    }
    if (s == TM_OK) {
        int shape[3] = {m->fused_width, 1, 1};
        s = build_chain(m, m->head_layers, spec->head, spec->n_head, 2, shape, r);
        if (s == TM_OK && (m->head_layers[spec->n_head - 1].out_ndim != 2 ||
                           shape[0] != spec->n_classes)) {
            const tm_layer_spec *last = &spec->head[spec->n_head - 1];
            s = tm_error(TM_ERR_SHAPE,
                         "%s:%d: [%s] the head must end with %d outputs (one per class), "
                         "it gives %d",
                         src(m), last->line, last->name, spec->n_classes, shape[0]);
        }
    }
    if (s != TM_OK) {
        tm_model_free(m);
        return s;
    }
    *out = m;
    return TM_OK;
}

static void free_layers(tm_layer *ls, int n)
{
    for (int i = 0; ls && i < n; i++) {
        tm_tensor_free(ls[i].w);
        tm_tensor_free(ls[i].b);
        tm_tensor_free(ls[i].pw_w);
        tm_tensor_free(ls[i].pw_b);
        tm_tensor_free(ls[i].gamma);
        tm_tensor_free(ls[i].beta);
        tm_tensor_free(ls[i].run_mean);
        tm_tensor_free(ls[i].run_var);
    }
    free(ls);
}

void tm_model_free(tm_model *m)
{
    if (!m)
        return;
    for (int b = 0; b < m->spec.n_branches; b++)
        free_layers(m->branch_layers[b], m->spec.branches[b].n_layers);
    free_layers(m->head_layers, m->spec.n_head);
    free(m->params);
    free(m->buffers);
    tm_model_spec_free(&m->spec);
    free(m);
}

/* ---- forward ----------------------------------------------------------- */

static tm_status activate(tm_tape *t, tm_activation a, tm_tensor *x, tm_tensor **y)
{
    if (a == TM_ACT_RELU)
        return tm_relu(t, x, y);
    if (a == TM_ACT_RELU6)
        return tm_relu6(t, x, y);
    *y = x;
    return TM_OK;
}

static tm_status norm(tm_model *m, tm_layer *l, tm_tape *t, tm_tensor *x, tm_tensor **y)
{
    if (!l->gamma) {
        *y = x;
        return TM_OK;
    }
    return tm_batchnorm(t, x, l->gamma, l->beta, l->run_mean->data, l->run_var->data,
                        m->spec.bn_momentum, m->spec.bn_eps, y);
}

static tm_status layer_forward(tm_model *m, tm_layer *l, tm_tape *t, tm_tensor *x, tm_tensor **y)
{
    const tm_layer_spec *s = &l->spec;
    tm_conv_params cp = {s->stride ? s->stride : 1, s->padding};
    tm_tensor *h = NULL, *h2 = NULL;
    switch (s->kind) {
    case TM_LAYER_CONV:
        TM_TRY(tm_conv2d(t, x, l->w, l->b, &cp, &h));
        break;
    case TM_LAYER_DEPTHWISE:
        TM_TRY(tm_depthwise_conv2d(t, x, l->w, l->b, &cp, &h));
        break;
    case TM_LAYER_SEPARABLE: {
        tm_conv_params pw = {1, TM_PAD_SAME};
        TM_TRY(tm_depthwise_conv2d(t, x, l->w, l->b, &cp, &h2));
        TM_TRY(tm_conv2d(t, h2, l->pw_w, l->pw_b, &pw, &h));
        break;
    }
    case TM_LAYER_DENSE:
        TM_TRY(tm_dense(t, x, l->w, l->b, &h));
        break;
    case TM_LAYER_MAXPOOL:
        return tm_maxpool2d(t, x, s->size, s->stride ? s->stride : s->size, y);
    case TM_LAYER_AVGPOOL:
        return tm_avgpool2d(t, x, s->size, s->stride ? s->stride : s->size, y);
    case TM_LAYER_GLOBALAVGPOOL:
        return tm_global_avgpool(t, x, y);
    case TM_LAYER_FLATTEN:
        return tm_flatten(t, x, y);
    case TM_LAYER_BATCHNORM:
        return norm(m, l, t, x, y);
    case TM_LAYER_RELU:
        return tm_relu(t, x, y);
    case TM_LAYER_RELU6:
        return tm_relu6(t, x, y);
    case TM_LAYER_DROPOUT:
        return tm_dropout(t, x, s->rate, y);
    default:
        return tm_error(TM_ERR_INTERNAL, "%s: unknown layer kind", s->name);
    }
    TM_TRY(norm(m, l, t, h, &h2));
    return activate(t, s->activation, h2, y);
}

tm_status tm_model_forward(tm_model *m, tm_tape *t, tm_tensor *const *inputs, tm_tensor **logits)
{
    tm_tensor *outs[TM_MAX_BRANCHES] = {0};
    int n = m->spec.n_branches;
    for (int b = 0; b < n; b++) {
        const tm_branch_spec *bs = &m->spec.branches[b];
        tm_tensor *x = inputs[b];
        if (x->ndim != 4 || x->shape[1] != bs->input[0] || x->shape[2] != bs->input[1] ||
            x->shape[3] != bs->input[2]) {
            char got[64];
            tm_shape_str(x->ndim, x->shape, got, sizeof got);
            return tm_error(TM_ERR_SHAPE, "branch %s: input batch is %s, expected Nx%dx%dx%d",
                            bs->name, got, bs->input[0], bs->input[1], bs->input[2]);
        }
        for (int i = 0; i < bs->n_layers; i++) {
            tm_status s = layer_forward(m, &m->branch_layers[b][i], t, x, &x);
            if (s != TM_OK)
                return s;
        }
        outs[b] = x;
    }
    tm_tensor *x = outs[0];
    if (n > 1)
        TM_TRY(tm_concat(t, outs, n, &x));
    for (int i = 0; i < m->spec.n_head; i++)
        TM_TRY(layer_forward(m, &m->head_layers[i], t, x, &x));
    *logits = x;
    return TM_OK;
}

long tm_model_param_count(const tm_model *m)
{
    long n = 0;
    for (int i = 0; i < m->n_params; i++)
        n += (long)m->params[i].t->size;
    return n;
}

long tm_model_macs(const tm_model *m)
{
    long n = 0;
    for (int b = 0; b < m->spec.n_branches; b++)
        for (int i = 0; i < m->spec.branches[b].n_layers; i++)
            n += m->branch_layers[b][i].macs;
    for (int i = 0; i < m->spec.n_head; i++)
        n += m->head_layers[i].macs;
    return n;
}

static long layer_params(const tm_layer *l)
{
    long n = 0;
    const tm_tensor *ts[] = {l->w, l->b, l->pw_w, l->pw_b, l->gamma, l->beta};
    for (size_t i = 0; i < sizeof ts / sizeof *ts; i++)
        if (ts[i])
            n += (long)ts[i]->size;
    return n;
}

static void summary_rows(const tm_layer *ls, int n, FILE *f)
{
    for (int i = 0; i < n; i++) {
        const tm_layer *l = &ls[i];
        char in[48], out[48];
        tm_shape_str(l->in_ndim == 4 ? 3 : 1, l->in_shape, in, sizeof in);
        tm_shape_str(l->out_ndim == 4 ? 3 : 1, l->out_shape, out, sizeof out);
        fprintf(f, "  %-24s %-14s %-12s -> %-12s %9ld %11ld\n", l->spec.name,
                tm_layer_kind_name(l->spec.kind), in, out, layer_params(l), l->macs);
    }
}

void tm_model_summary(const tm_model *m, FILE *f)
{
    fprintf(f, "  %-24s %-14s %-12s    %-12s %9s %11s\n", "layer", "type", "input", "output",
            "params", "MACs");
    for (int b = 0; b < m->spec.n_branches; b++)
        summary_rows(m->branch_layers[b], m->spec.branches[b].n_layers, f);
    fprintf(f, "  %-24s %-14s %-12d -> %-12d %9d %11d\n", "fusion", "concat", m->fused_width,
            m->fused_width, 0, 0);
    summary_rows(m->head_layers, m->spec.n_head, f);
    fprintf(f, "  total: %ld parameters, %ld multiply-accumulates per sample\n",
            tm_model_param_count(m), tm_model_macs(m));
}
