#include "tm_metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int tm_rows_are_probabilities(const float *s, int n, int k)
{
    for (int i = 0; i < n; i++) {
        double sum = 0;
        for (int j = 0; j < k; j++) {
            float v = s[(size_t)i * k + j];
            if (v < 0.0f || v > 1.0f)
                return 0;
            sum += v;
        }
        if (fabs(sum - 1.0) > 1e-3)
            return 0;
    }
    return 1;
}

typedef struct {
    double s;
    int pos;
} tm_auc_item;

static int tm_auc_cmp(const void *a, const void *b)
{
    double x = ((const tm_auc_item *)a)->s, y = ((const tm_auc_item *)b)->s;
    return (x > y) - (x < y);
}

/* Mann-Whitney U / (npos * nneg) from mid-ranks, so tied pairs count half. */
static tm_status tm_auc(double *out, const int *labels, const float *scores, int n, int probs)
{
    *out = NAN;
    long npos = 0;
    for (int i = 0; i < n; i++)
        npos += labels[i] == 1;
    long nneg = n - npos;
    if (npos == 0 || nneg == 0)
        return TM_OK;
    tm_auc_item *it = malloc((size_t)n * sizeof *it);
    if (!it)
        return tm_error(TM_ERR_NOMEM, "metrics: ROC AUC buffer for %d samples", n);
    for (int i = 0; i < n; i++) {
        const float *r = scores + (size_t)i * 2;
        /* For logits, z1 - z0 orders samples exactly as softmax p1 does, without rounding ties. */
        it[i].s = probs ? (double)r[1] : (double)r[1] - (double)r[0];
        it[i].pos = labels[i] == 1;
    }
    qsort(it, (size_t)n, sizeof *it, tm_auc_cmp);
    double rank_sum = 0;
    for (int i = 0; i < n;) {
        int j = i;
        long pos_in_tie = 0;
        while (j < n && it[j].s == it[i].s)
            pos_in_tie += it[j++].pos;
        double mid_rank = 0.5 * ((double)(i + 1) + (double)j);
        rank_sum += mid_rank * (double)pos_in_tie;
        i = j;
    }
    free(it);
    *out = (rank_sum - 0.5 * (double)npos * (double)(npos + 1)) / ((double)npos * (double)nneg);
    return TM_OK;
}

tm_status tm_metrics_compute(tm_metrics *m, const int *labels, const float *scores, int n, int k)
{
    if (!m)
        return tm_error(TM_ERR_ARG, "metrics: output struct is NULL");
    memset(m, 0, sizeof *m);
    if (!labels || !scores)
        return tm_error(TM_ERR_ARG, "metrics: labels or scores missing");
    if (n < 1 || k < 2)
        return tm_error(TM_ERR_ARG, "metrics: need at least 1 sample and 2 classes (got n = %d, k = %d)",
                        n, k);
    for (int i = 0; i < n; i++) {
        if (labels[i] < 0 || labels[i] >= k)
            return tm_error(TM_ERR_ARG, "metrics: label %d of sample %d is outside [0, %d)", labels[i],
                            i, k);
        for (int j = 0; j < k; j++)
            if (!isfinite(scores[(size_t)i * k + j]))
                return tm_error(TM_ERR_NUMERIC, "metrics: score of class %d for sample %d is %s", j, i,
                                isnan(scores[(size_t)i * k + j]) ? "NaN" : "infinite");
    }

    m->n = n;
    m->k = k;
    m->precision = calloc((size_t)k, sizeof(double));
    m->recall = calloc((size_t)k, sizeof(double));
    m->f1 = calloc((size_t)k, sizeof(double));
    m->confusion = calloc((size_t)k * k, sizeof(long));
    if (!m->precision || !m->recall || !m->f1 || !m->confusion) {
        tm_metrics_free(m);
        return tm_error(TM_ERR_NOMEM, "metrics: tables for %d classes", k);
    }

    int probs = tm_rows_are_probabilities(scores, n, k);
    double loss = 0;
    for (int i = 0; i < n; i++) {
        const float *r = scores + (size_t)i * k;
        int best = 0;
        for (int j = 1; j < k; j++)
            if (r[j] > r[best])
                best = j;
        m->confusion[(size_t)labels[i] * k + best]++;
        if (probs) {
            double p = r[labels[i]];
            loss -= log(p > 1e-12 ? p : 1e-12);
        } else {
            double mx = r[best], se = 0;
            for (int j = 0; j < k; j++)
                se += exp((double)r[j] - mx);
            loss += mx + log(se) - r[labels[i]];
        }
    }
    m->loss = loss / n;

    long correct = 0;
    double f1_sum = 0;
    for (int c = 0; c < k; c++) {
        long tp = m->confusion[(size_t)c * k + c], predicted = 0, support = 0;
        for (int j = 0; j < k; j++) {
            predicted += m->confusion[(size_t)j * k + c];
            support += m->confusion[(size_t)c * k + j];
        }
        correct += tp;
        double p = predicted ? (double)tp / predicted : 0.0;
        double rc = support ? (double)tp / support : 0.0;
        m->precision[c] = p;
        m->recall[c] = rc;
        m->f1[c] = p + rc > 0 ? 2.0 * p * rc / (p + rc) : 0.0;
        f1_sum += m->f1[c];
    }
    m->accuracy = (double)correct / n;
    m->macro_f1 = f1_sum / k;

    m->roc_auc = NAN;
    if (k == 2) {
        tm_status s = tm_auc(&m->roc_auc, labels, scores, n, probs);
        if (s != TM_OK) {
            tm_metrics_free(m);
            return s;
        }
    }
    return TM_OK;
}

void tm_metrics_free(tm_metrics *m)
{
    if (!m)
        return;
    free(m->precision);
    free(m->recall);
    free(m->f1);
    free(m->confusion);
    memset(m, 0, sizeof *m);
    m->roc_auc = NAN;
    m->loss = NAN;
}
