#include <stdlib.h>
#include <string.h>

#include "tm_qlayer.h"

static long tsize(const tm_tensor *t)
{
    return t ? (long)t->size : 0;
}

/* What the model file stores for one integer op: the packed weights
 * (padded to 4 bytes, as the builder aligns the next blob), int32 biases,
 * and the int32 multiplier and shift of every channel. */
static long op_bytes(int channels, size_t per, int bits, int has_bias)
{
    long packed = ((long)tm_packed_weight_bytes(channels, per, bits) + 3) / 4 * 4;
    return packed + (has_bias ? 4L * channels : 0) + 8L * channels;
}

/* conv, depthwise, separable (both halves) and dense. */
long tm_size_weight_bytes(const tm_qat *q, int c, int i)
{
    const tm_layer *l = tm_qat_model_layer(q, c, i);
    const tm_qat_layer *ql = &q->chain[c][i];
    const tm_tensor *w = l->w;
    int folded_bias = ql->bn >= 0;
    long bytes = 0;
    if (l->spec.kind == TM_LAYER_SEPARABLE) {
        bytes = op_bytes(w->shape[0], w->size / (size_t)w->shape[0], ql->bits, l->b != NULL);
        w = l->pw_w;
        return bytes + op_bytes(w->shape[0], w->size / (size_t)w->shape[0], ql->bits,
                                l->pw_b != NULL || folded_bias);
    }
    return op_bytes(w->shape[0], w->size / (size_t)w->shape[0], ql->bits,
                    l->b != NULL || folded_bias);
}

static void layer_row(const tm_qat *q, int c, int i, tm_size_row *r)
{
    const tm_layer *l = tm_qat_model_layer(q, c, i);
    const tm_qat_layer *ql = &q->chain[c][i];
    const tm_layer *bl = ql->bn >= 0 ? tm_qat_model_layer(q, c, ql->bn) : NULL;
    long (*bytes)(const tm_qat *, int, int) = tm_qlayer_desc_of(l->spec.kind)->packed_bytes;
    memset(r, 0, sizeof *r);
    snprintf(r->name, sizeof r->name, "%s", l->spec.name);
    r->kind = tm_layer_kind_name(l->spec.kind);
    r->bits = ql->bits;
    r->macs = l->macs;
    r->params = tsize(l->w) + tsize(l->b) + tsize(l->pw_w) + tsize(l->pw_b);
    if (bl)
        r->params += tsize(bl->gamma) + tsize(bl->beta);
    r->packed_bytes = bytes ? bytes(q, c, i) : 0;
}

tm_status tm_size_rows(const tm_qat *q, tm_size_row *rows, int cap, tm_size_totals *tot)
{
    memset(tot, 0, sizeof *tot);
    for (int c = 0; c <= TM_QAT_HEAD; c++) {
        if (!q->chain[c])
            continue;
        for (int i = 0; i < q->n[c]; i++) {
            if (!q->chain[c][i].weight)
                continue;
            tm_size_row r;
            layer_row(q, c, i, &r);
            if (rows) {
                if (tot->rows >= cap)
                    return tm_error(TM_ERR_ARG, "size report: more than %d weight layers", cap);
                rows[tot->rows] = r;
            }
            tot->rows++;
            tot->params += r.params;
            tot->packed_bytes += r.packed_bytes;
            tot->macs += r.macs;
        }
    }
    /* Every trained parameter, merged layers included. */
    long all = 0;
    for (int c = 0; c <= TM_QAT_HEAD; c++) {
        if (!q->chain[c])
            continue;
        for (int i = 0; i < q->n[c]; i++) {
            const tm_layer *l = tm_qat_model_layer(q, c, i);
            all += tsize(l->w) + tsize(l->b) + tsize(l->pw_w) + tsize(l->pw_b) +
                   tsize(l->gamma) + tsize(l->beta);
        }
    }
    tot->float_bytes = 4 * all;
    return TM_OK;
}

tm_status tm_size_rows_alloc(const tm_qat *q, tm_size_row **rows, tm_size_totals *tot)
{
    *rows = NULL;
    TM_TRY(tm_size_rows(q, NULL, 0, tot));
    tm_size_row *r = malloc(sizeof *r * (size_t)(tot->rows ? tot->rows : 1));
    if (!r)
        return tm_error(TM_ERR_NOMEM, "size report: out of memory");
    tm_status s = tm_size_rows(q, r, tot->rows, tot);
    if (s != TM_OK) {
        free(r);
        return s;
    }
    *rows = r;
    return TM_OK;
}

tm_status tm_size_report(const tm_qat *q, FILE *f)
{
    tm_size_totals tot;
    tm_size_row *rows = NULL;
    tm_status s = tm_size_rows_alloc(q, &rows, &tot);
    if (s == TM_OK) {
        fprintf(f, "  %-24s %-10s %9s %4s %12s %12s %11s\n", "layer", "type", "params", "bits",
                "float bytes", "packed bytes", "MACs");
        for (int i = 0; i < tot.rows; i++)
            fprintf(f, "  %-24s %-10s %9ld %4d %12ld %12ld %11ld\n", rows[i].name, rows[i].kind,
                    rows[i].params, rows[i].bits, 4 * rows[i].params, rows[i].packed_bytes,
                    rows[i].macs);
        fprintf(f, "  %-24s %-10s %9ld %4s %12ld %12ld %11ld\n", "total", "", tot.params, "",
                tot.float_bytes, tot.packed_bytes, tot.macs);
        fprintf(f, "  packed weights are %.2f%% of float32 (%.1fx smaller)\n",
                tot.float_bytes ? 100.0 * (double)tot.packed_bytes / (double)tot.float_bytes : 0.0,
                tot.packed_bytes ? (double)tot.float_bytes / (double)tot.packed_bytes : 0.0);
    }
    free(rows);
    return s;
}
