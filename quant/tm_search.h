/* Mixed-precision search (docs/quantization.md, "Precision search"): which
 * weight layers stay at 8 bits and which drop to 4 under a budget of packed
 * weight bytes.
 * - Sensitivity: after calibration, each weight layer alone is dropped to 4
 *   bits (every other one at 8) and the model is lowered and run through the
 *   runtime on a held-out set; its damage is the rise of the mean
 *   cross-entropy over the all-8-bit model, its cost the packed bytes the
 *   drop saves (the weight_bytes accounting of tm_size_rows).
 * - Choice: the bits that minimise the summed damage of the 4-bit layers
 *   with the total packed bytes <= budget: a 0/1 knapsack, solved exactly by
 *   dynamic programming over bytes, or by enumeration. */
#ifndef TM_SEARCH_H
#define TM_SEARCH_H

#include "tm_lower.h"
#include "tm_qat.h"

typedef struct tm_search_layer {
    char name[TM_LAYER_NAME];
    int chain, index;      /* q->chain[chain][index] */
    long bytes8, bytes4;   /* packed weights + int32 biases + float32 scales at 8 / 4 bits */
    double loss4, acc4;    /* held-out loss and accuracy with this layer alone at 4 bits */
    double damage;         /* loss4 - the all-8-bit loss (may be negative) */
} tm_search_layer;

/* The weight layers of q's branches and head, in tm_size_rows order,
 * with bytes8 and bytes4 filled in (loss4, acc4, damage 0). *layers is
 * malloc'd; the caller frees it. q's bits are left as they were. */
tm_status tm_search_layers(tm_qat *q, tm_search_layer **layers, int *n);
/* Sets layer i of the list to bits[i] (4 or 8). */
void tm_search_apply(tm_qat *q, const tm_search_layer *layers, int n, const int *bits);
/* Lowers the calibrated q and runs d through the runtime: mean cross-entropy
 * -log(max(p[label], 1e-12)) (tm_metrics' convention) and top-1 accuracy. */
tm_status tm_search_eval(const tm_qat *q, const tm_lower_options *lo, const tm_qat_data *d,
                         double *loss, double *acc);
/* Measures base (all 8-bit) and, per layer, loss4, acc4 and damage on d.
 * q must be calibrated; its bits are restored before returning. */
tm_status tm_search_sensitivity(tm_qat *q, const tm_lower_options *lo, const tm_qat_data *d,
                                tm_search_layer *layers, int n, double *base_loss,
                                double *base_acc);
/* The same for the layers i with i % parts == part only (the others keep
 * loss4, acc4 and damage 0): the measurements are independent, so several
 * processes can share them. */
tm_status tm_search_sensitivity_part(tm_qat *q, const tm_lower_options *lo,
                                     const tm_qat_data *d, tm_search_layer *layers, int n,
                                     int part, int parts, double *base_loss, double *base_acc);

/* ---- the exact choice --------------------------------------------------- */

typedef enum { TM_SEARCH_DP = 0, TM_SEARCH_EXHAUSTIVE } tm_search_method;

typedef struct tm_search_result {
    long bytes;               /* total packed bytes of the choice */
    double damage;            /* summed damage of its 4-bit layers */
    tm_search_method method;
    long granularity;         /* DP: bytes per table unit (1 = exact) */
} tm_search_result;

/* The DP's table has at most this many capacity units per layer. */
#define TM_SEARCH_MAX_UNITS (1L << 20)
/* tm_search_solve enumerates up to this many layers when the DP would need
 * a granularity above 1 (and tm_search_exhaustive accepts at most 24). */
#define TM_SEARCH_MAX_EXHAUSTIVE 20

/* Every solver takes n layers' bytes8[i] >= bytes4[i] >= 0 and damage[i]
 * (finite), and writes bits[i] (8 or 4) of a choice with
 * sum bytes <= budget. A budget below sum bytes4 is TM_ERR_ARG with the
 * minimum in the message. A layer whose damage is <= 0 is always 4-bit. */

/* 0/1 knapsack over bytes: keeping layer i at 8 bits costs
 * bytes8[i] - bytes4[i] of the budget left after the all-4-bit size and
 * avoids damage[i]. granularity g >= 1 counts bytes in units of g (costs
 * rounded up, the capacity down: the choice always fits, and is optimal
 * when g = 1); g = 0 picks the smallest g that keeps the capacity within
 * TM_SEARCH_MAX_UNITS. */
tm_status tm_search_dp(int n, const long *bytes8, const long *bytes4, const double *damage,
                       long budget, long granularity, int *bits, tm_search_result *res);
/* All 2^n assignments (n <= 24). */
tm_status tm_search_exhaustive(int n, const long *bytes8, const long *bytes4,
                               const double *damage, long budget, int *bits,
                               tm_search_result *res);
/* The exact DP when its granularity is 1, else enumeration for at most
 * TM_SEARCH_MAX_EXHAUSTIVE layers, else the DP with the coarser unit. */
tm_status tm_search_solve(int n, const long *bytes8, const long *bytes4, const double *damage,
                          long budget, int *bits, tm_search_result *res);

#endif
