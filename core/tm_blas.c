#include "tm_blas.h"

#include <cblas.h>

#ifdef TM_HAVE_OPENBLAS_SET_NUM_THREADS
void openblas_set_num_threads(int);
#endif

void tm_blas_init(void)
{
#ifdef TM_HAVE_OPENBLAS_SET_NUM_THREADS
    openblas_set_num_threads(1);
#endif
}

void tm_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
              int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c,
                ldc);
}
