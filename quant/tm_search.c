#include "tm_search.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- layers and sensitivity --------------------------------------------- */

static void save_bits(const tm_qat *q, const tm_search_layer *l, int n, int *bits)
{
    for (int i = 0; i < n; i++)
        bits[i] = q->chain[l[i].chain][l[i].index].bits;
}

static void set_all(tm_qat *q, const tm_search_layer *l, int n, int v)
{
    for (int i = 0; i < n; i++)
        q->chain[l[i].chain][l[i].index].bits = v;
}

void tm_search_apply(tm_qat *q, const tm_search_layer *layers, int n, const int *bits)
{
    for (int i = 0; i < n; i++)
        q->chain[layers[i].chain][layers[i].index].bits = bits[i];
}

tm_status tm_search_layers(tm_qat *q, tm_search_layer **layers, int *n)
{
    *layers = NULL;
    *n = 0;
    int count = 0;
    for (int c = 0; c <= TM_QAT_HEAD; c++)
        if (q->chain[c])
            for (int i = 0; i < q->n[c]; i++)
                count += q->chain[c][i].weight;
    if (count == 0)
        return tm_error(TM_ERR_ARG, "precision search: the model has no weight layer");
    tm_search_layer *l = calloc((size_t)count, sizeof *l);
    tm_size_row *rows = calloc((size_t)count, sizeof *rows);
    int *old = calloc((size_t)count, sizeof *old);
    if (!l || !rows || !old) {
        free(l);
        free(rows);
        free(old);
        return tm_error(TM_ERR_NOMEM, "precision search: out of memory");
    }
    int k = 0;
    for (int c = 0; c <= TM_QAT_HEAD; c++)
        if (q->chain[c])
            for (int i = 0; i < q->n[c]; i++)
                if (q->chain[c][i].weight) {
                    l[k].chain = c;
                    l[k].index = i;
                    snprintf(l[k].name, sizeof l[k].name, "%s",
                             tm_qat_model_layer(q, c, i)->spec.name);
                    k++;
                }
    save_bits(q, l, count, old);
    tm_size_totals tot;
    set_all(q, l, count, 8);
    tm_status s = tm_size_rows(q, rows, count, &tot);
    for (int i = 0; i < count && s == TM_OK; i++)
        l[i].bytes8 = rows[i].packed_bytes;
    set_all(q, l, count, 4);
    if (s == TM_OK)
        s = tm_size_rows(q, rows, count, &tot);
    for (int i = 0; i < count && s == TM_OK; i++) {
        l[i].bytes4 = rows[i].packed_bytes;
        /* tm_size_rows walks the layers in the same order; a mismatch is a bug */
        if (strcmp(rows[i].name, l[i].name) != 0)
            s = tm_error(TM_ERR_INTERNAL, "precision search: layer %d is %s in the size rows "
                                          "but %s here",
                         i, rows[i].name, l[i].name);
    }
    tm_search_apply(q, l, count, old);
    free(rows);
    free(old);
    if (s != TM_OK) {
        free(l);
        return s;
    }
    *layers = l;
    *n = count;
    return TM_OK;
}

tm_status tm_search_eval(const tm_qat *q, const tm_lower_options *lo, const tm_qat_data *d,
                         double *loss, double *acc)
{
    if (d->n <= 0)
        return tm_error(TM_ERR_ARG, "precision search: the evaluation set is empty");
    int k = q->m->spec.n_classes;
    float *probs = malloc(sizeof(float) * (size_t)d->n * (size_t)k);
    if (!probs)
        return tm_error(TM_ERR_NOMEM, "precision search: out of memory");
    uint8_t *bytes = NULL;
    size_t size = 0;
    tm_qsim sim;
    int open = 0;
    tm_status s = tm_lower(q, lo, &bytes, &size);
    if (s == TM_OK && (s = tm_qsim_open(&sim, q->m, bytes, size)) == TM_OK)
        open = 1;
    if (s == TM_OK)
        s = tm_qsim_predict(&sim, d, probs, NULL);
    if (s == TM_OK) {
        double ce = 0.0;
        long right = 0;
        for (int i = 0; i < d->n; i++) {
            const float *p = probs + (size_t)i * k;
            int best = 0;
            for (int c = 1; c < k; c++)
                if (p[c] > p[best])
                    best = c;
            right += best == d->label[i];
            double pl = p[d->label[i]];
            ce -= log(pl > 1e-12 ? pl : 1e-12);
        }
        *loss = ce / d->n;
        *acc = (double)right / d->n;
    }
    if (open)
        tm_qsim_close(&sim);
    free(bytes);
    free(probs);
    return s;
}

tm_status tm_search_sensitivity(tm_qat *q, const tm_lower_options *lo, const tm_qat_data *d,
                                tm_search_layer *layers, int n, double *base_loss,
                                double *base_acc)
{
    return tm_search_sensitivity_part(q, lo, d, layers, n, 0, 1, base_loss, base_acc);
}

tm_status tm_search_sensitivity_part(tm_qat *q, const tm_lower_options *lo,
                                     const tm_qat_data *d, tm_search_layer *layers, int n,
                                     int part, int parts, double *base_loss, double *base_acc)
{
    if (parts < 1 || part < 0 || part >= parts)
        return tm_error(TM_ERR_ARG, "precision search: part %d of %d", part, parts);
    int *old = malloc(sizeof(int) * (size_t)(n ? n : 1));
    if (!old)
        return tm_error(TM_ERR_NOMEM, "precision search: out of memory");
    save_bits(q, layers, n, old);
    set_all(q, layers, n, 8);
    tm_status s = tm_search_eval(q, lo, d, base_loss, base_acc);
    for (int i = 0; i < n && s == TM_OK; i++) {
        layers[i].loss4 = layers[i].acc4 = layers[i].damage = 0.0;
        if (i % parts != part)
            continue;
        q->chain[layers[i].chain][layers[i].index].bits = 4;
        s = tm_search_eval(q, lo, d, &layers[i].loss4, &layers[i].acc4);
        q->chain[layers[i].chain][layers[i].index].bits = 8;
        if (s == TM_OK)
            layers[i].damage = layers[i].loss4 - *base_loss;
    }
    tm_search_apply(q, layers, n, old);
    free(old);
    return s;
}

/* ---- the choice ----------------------------------------------------------- */

static tm_status check_items(int n, const long *bytes8, const long *bytes4, const double *damage,
                             long budget, long *min_bytes, long *max_extra)
{
    if (n < 1)
        return tm_error(TM_ERR_ARG, "precision search: no layers to choose for");
    long lo = 0, extra = 0;
    for (int i = 0; i < n; i++) {
        if (bytes4[i] < 0 || bytes8[i] < bytes4[i])
            return tm_error(TM_ERR_ARG, "precision search: layer %d has %ld bytes at 8 bits and "
                                        "%ld at 4 (need 8-bit >= 4-bit >= 0)",
                            i, bytes8[i], bytes4[i]);
        if (!isfinite(damage[i]))
            return tm_error(TM_ERR_ARG, "precision search: layer %d has a damage of %g", i,
                            damage[i]);
        if (bytes8[i] > LONG_MAX / 2 / n)
            return tm_error(TM_ERR_ARG, "precision search: layer %d has %ld bytes", i,
                            bytes8[i]);
        lo += bytes4[i];
        extra += bytes8[i] - bytes4[i];
    }
    if (budget < lo)
        return tm_error(TM_ERR_ARG,
                        "precision search: budget %ld bytes is below the smallest assignment "
                        "(every layer 4-bit): at least %ld bytes are needed",
                        budget, lo);
    *min_bytes = lo;
    *max_extra = extra;
    return TM_OK;
}

static void finish(int n, const long *bytes8, const long *bytes4, const double *damage,
                   const int *bits, tm_search_result *res)
{
    res->bytes = 0;
    res->damage = 0.0;
    for (int i = 0; i < n; i++) {
        res->bytes += bits[i] == 8 ? bytes8[i] : bytes4[i];
        if (bits[i] == 4)
            res->damage += damage[i];
    }
}

tm_status tm_search_dp(int n, const long *bytes8, const long *bytes4, const double *damage,
                       long budget, long granularity, int *bits, tm_search_result *res)
{
    long lo, extra;
    TM_TRY(check_items(n, bytes8, bytes4, damage, budget, &lo, &extra));
    if (granularity < 0)
        return tm_error(TM_ERR_ARG, "precision search: granularity %ld (need >= 0)",
                        granularity);
    /* Spare bytes beyond keeping every layer at 8 bits buy nothing. */
    long cap = budget - lo < extra ? budget - lo : extra;
    long g = granularity;
    if (g == 0)
        g = cap > TM_SEARCH_MAX_UNITS ? (cap + TM_SEARCH_MAX_UNITS - 1) / TM_SEARCH_MAX_UNITS : 1;
    long units = cap / g;
    if (units > 4 * TM_SEARCH_MAX_UNITS)
        return tm_error(TM_ERR_ARG, "precision search: %ld table units at granularity %ld (at "
                                    "most %ld)",
                        units, g, 4 * TM_SEARCH_MAX_UNITS);
    size_t cols = (size_t)units + 1, row_bytes = (cols + 7) / 8;
    double *best = calloc(cols, sizeof *best);
    uint8_t *keep = calloc((size_t)n * row_bytes, 1);
    long *w = malloc(sizeof *w * (size_t)n);
    if (!best || !keep || !w) {
        free(best);
        free(keep);
        free(w);
        return tm_error(TM_ERR_NOMEM, "precision search: out of memory (%ld units)", units);
    }
    for (int i = 0; i < n; i++) {
        w[i] = (bytes8[i] - bytes4[i] + g - 1) / g;
        if (damage[i] <= 0.0 || w[i] > units)
            continue; /* 8 bits would not help, or cannot fit */
        uint8_t *row = keep + (size_t)i * row_bytes;
        for (long c = units; c >= w[i]; c--) {
            double v = best[c - w[i]] + damage[i];
            if (v > best[c]) {
                best[c] = v;
                row[c >> 3] |= (uint8_t)(1u << (c & 7));
            }
        }
    }
    long c = units;
    for (int i = n - 1; i >= 0; i--) {
        const uint8_t *row = keep + (size_t)i * row_bytes;
        if (row[c >> 3] & (1u << (c & 7))) {
            bits[i] = 8;
            c -= w[i];
        } else {
            bits[i] = 4;
        }
    }
    free(best);
    free(keep);
    free(w);
    finish(n, bytes8, bytes4, damage, bits, res);
    res->method = TM_SEARCH_DP;
    res->granularity = g;
    return TM_OK;
}

tm_status tm_search_exhaustive(int n, const long *bytes8, const long *bytes4,
                               const double *damage, long budget, int *bits,
                               tm_search_result *res)
{
    long lo, extra;
    TM_TRY(check_items(n, bytes8, bytes4, damage, budget, &lo, &extra));
    if (n > 24)
        return tm_error(TM_ERR_ARG, "precision search: %d layers are too many to enumerate "
                                    "(at most 24)",
                        n);
    uint32_t best_mask = 0;
    double best_damage = 0.0;
    int found = 0;
    for (uint32_t mask = 0; mask < (1u << n); mask++) {
        long bytes = 0;
        double dmg = 0.0;
        for (int i = 0; i < n; i++) {
            if (mask & (1u << i)) {
                bytes += bytes8[i];
            } else {
                bytes += bytes4[i];
                dmg += damage[i];
            }
        }
        if (bytes > budget)
            continue;
        /* Ties keep the first mask, so a layer with damage <= 0 never goes to 8 bits
         * (the mask without it comes earlier and is at least as good). */
        if (!found || dmg < best_damage) {
            best_damage = dmg;
            best_mask = mask;
            found = 1;
        }
    }
    for (int i = 0; i < n; i++)
        bits[i] = best_mask & (1u << i) ? 8 : 4;
    finish(n, bytes8, bytes4, damage, bits, res);
    res->method = TM_SEARCH_EXHAUSTIVE;
    res->granularity = 1;
    return TM_OK;
}

tm_status tm_search_solve(int n, const long *bytes8, const long *bytes4, const double *damage,
                          long budget, int *bits, tm_search_result *res)
{
    long lo, extra;
    TM_TRY(check_items(n, bytes8, bytes4, damage, budget, &lo, &extra));
    long cap = budget - lo < extra ? budget - lo : extra;
    if (cap > TM_SEARCH_MAX_UNITS && n <= TM_SEARCH_MAX_EXHAUSTIVE)
        return tm_search_exhaustive(n, bytes8, bytes4, damage, budget, bits, res);
    return tm_search_dp(n, bytes8, bytes4, damage, budget, 0, bits, res);
}
