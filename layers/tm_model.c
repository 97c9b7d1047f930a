#include "tm_model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tm_graph.h"
#include "tm_layer_desc.h"

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

static const char *src(const tm_model *m) { return m->spec.source[0] ? m->spec.source : "model"; }

/* An add's `from`: an earlier layer of the same chain, by its section name
 * ("image.conv1") or the part after the dot ("conv1"); it gets a slot of
 * the walker. */
static tm_status resolve_from(tm_model *m, tm_layer *layers, int i, int *slots)
{
    tm_layer *l = &layers[i];
    const char *from = l->spec.from;
    if (!from[0])
        return tm_error(TM_ERR_CONFIG, "%s:%d: [%s] an add needs from = <an earlier layer of "
                                       "this branch>",
                        src(m), l->spec.line, l->spec.name);
    for (int j = i - 1; j >= 0; j--) {
        const char *name = layers[j].spec.name, *dot = strchr(name, '.');
        if (strcmp(name, from) != 0 && !(dot && strcmp(dot + 1, from) == 0))
            continue;
        if (layers[j].slot < 0) {
            if (*slots == TM_GRAPH_MAX_SKIPS)
                return tm_error(TM_ERR_CONFIG, "%s:%d: [%s] more than %d layers feed adds",
                                src(m), l->spec.line, l->spec.name, TM_GRAPH_MAX_SKIPS);
            layers[j].slot = (*slots)++;
        }
        l->from = j;
        return TM_OK;
    }
    return tm_error(TM_ERR_CONFIG, "%s:%d: [%s] from = %s: no earlier layer of this branch has "
                                   "that name",
                    src(m), l->spec.line, l->spec.name, from);
}

static tm_status build_chain(tm_model *m, tm_layer *layers, const tm_layer_spec *specs, int n,
                             int ndim, int shape[3], int *slots, tm_rng *r)
{
    for (int i = 0; i < n; i++) {
        tm_layer *l = &layers[i];
        l->spec = specs[i];
        l->in_ndim = l->out_ndim = ndim;
        memcpy(l->in_shape, shape, sizeof l->in_shape);
        memcpy(l->out_shape, shape, sizeof l->out_shape);
        l->from = l->slot = -1;
        const tm_layer_desc *d = tm_layer_desc_of(l->spec.kind);
        if (!d)
            return tm_error(TM_ERR_INTERNAL, "%s: unknown layer kind %d", l->spec.name,
                            (int)l->spec.kind);
        if (l->spec.kind == TM_LAYER_ADD)
            TM_TRY(resolve_from(m, layers, i, slots));
        TM_TRY(d->build(m, l, l->from >= 0 ? &layers[l->from] : NULL, r));
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
    int slots = 0;
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
        s = build_chain(m, m->branch_layers[b], bs->layers, bs->n_layers, 4, shape, &slots, r);
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
        s = build_chain(m, m->head_layers, spec->head, spec->n_head, 2, shape, &slots, r);
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

int tm_model_chain_len(const tm_model *m, int c)
{
    return c == TM_MODEL_HEAD ? m->spec.n_head : m->spec.branches[c].n_layers;
}

const tm_layer *tm_model_layer(const tm_model *m, int c, int i)
{
    return c == TM_MODEL_HEAD ? &m->head_layers[i] : &m->branch_layers[c][i];
}

tm_status tm_model_check_input(const tm_model *m, int b, const tm_tensor *x)
{
    const tm_branch_spec *bs = &m->spec.branches[b];
    if (x->ndim != 4 || x->shape[1] != bs->input[0] || x->shape[2] != bs->input[1] ||
        x->shape[3] != bs->input[2]) {
        char got[64];
        tm_shape_str(x->ndim, x->shape, got, sizeof got);
        return tm_error(TM_ERR_SHAPE, "branch %s: input batch is %s, expected Nx%dx%dx%d",
                        bs->name, got, bs->input[0], bs->input[1], bs->input[2]);
    }
    return TM_OK;
}

typedef struct {
    const tm_model *m;
    tm_tape *t;
    tm_tensor *const *inputs;
} float_walk;

static tm_status float_input(void *ctx, int b, void *x)
{
    float_walk *w = ctx;
    TM_TRY(tm_model_check_input(w->m, b, w->inputs[b]));
    *(tm_tensor **)x = w->inputs[b];
    return TM_OK;
}

static tm_status float_layer(void *ctx, int c, int i, const tm_layer *l, const void *x,
                             const void *skip, void *y)
{
    (void)c;
    (void)i;
    float_walk *w = ctx;
    return tm_layer_desc_of(l->spec.kind)
        ->forward(w->m, l, w->t, *(tm_tensor *const *)x,
                  skip ? *(tm_tensor *const *)skip : NULL, (tm_tensor **)y);
}

static tm_status float_fusion(void *ctx, const void *outs, int n, void *y)
{
    float_walk *w = ctx;
    tm_tensor *xs[TM_MAX_BRANCHES];
    memcpy(xs, outs, sizeof *xs * (size_t)n);
    return tm_concat(w->t, xs, n, (tm_tensor **)y);
}

tm_status tm_model_forward(tm_model *m, tm_tape *t, tm_tensor *const *inputs, tm_tensor **logits)
{
    static const tm_graph_visitor v = {sizeof(tm_tensor *), float_input, float_layer,
                                       float_fusion};
    float_walk w = {m, t, inputs};
    return tm_graph_walk(m, &v, &w, logits);
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
