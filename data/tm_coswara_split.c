/* Holding out Coswara participants for testing: stratified by label so both
 * sets keep the data's share of positives (far fewer than negatives), and
 * seeded so the same import gives the same split. */
#include <math.h>
#include <stdlib.h>

#include "tm_coswara.h"
#include "tm_rng.h"

tm_status tm_coswara_split(const tm_coswara_scan *s, double fraction, uint64_t seed,
                           unsigned char *in_test)
{
    if (!s || !in_test)
        return tm_error(TM_ERR_ARG, "coswara split: no scan or no output");
    if (!(fraction > 0.0 && fraction < 1.0))
        return tm_error(TM_ERR_ARG, "coswara split: the test fraction must be between 0 and 1 "
                                    "(exclusive), got %g",
                        fraction);
    int n[2] = {0, 0};
    for (int i = 0; i < s->n_rows; i++)
        n[s->rows[i].positive ? 1 : 0]++;
    for (int c = 0; c < 2; c++)
        if (n[c] < 2)
            return tm_error(TM_ERR_FORMAT,
                            "coswara split: %d %s participant%s among the %d kept; each class "
                            "needs at least 2 (one for training, one for testing)",
                            n[c], c ? "positive" : "negative", n[c] == 1 ? "" : "s", s->n_rows);
    int *idx = malloc(sizeof(int) * (size_t)s->n_rows);
    if (!idx)
        return tm_error(TM_ERR_NOMEM, "coswara split: out of memory");
    tm_rng r;
    tm_rng_seed(&r, seed);
    for (int c = 0; c < 2; c++) {
        int k = 0;
        for (int i = 0; i < s->n_rows; i++)
            if ((s->rows[i].positive ? 1 : 0) == c)
                idx[k++] = i;
        tm_rng_shuffle(&r, idx, k);
        long take = lround(fraction * k);
        take = take < 1 ? 1 : take > k - 1 ? k - 1 : take;
        for (int j = 0; j < k; j++)
            in_test[idx[j]] = j < take;
    }
    free(idx);
    return TM_OK;
}
