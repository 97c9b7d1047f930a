#include "tm_blas.h"

#include <cblas.h>
#include <pthread.h>

#ifdef TM_HAVE_OPENBLAS_SET_NUM_THREADS
void openblas_set_num_threads(int);
int openblas_get_num_threads(void);
#endif

static pthread_once_t tm_blas_once = PTHREAD_ONCE_INIT;

static void tm_blas_pin(void)
{
#ifdef TM_HAVE_OPENBLAS_SET_NUM_THREADS
    openblas_set_num_threads(1);
#endif
}

void tm_blas_init(void)
{
    pthread_once(&tm_blas_once, tm_blas_pin);
}

int tm_blas_threads(void)
{
#ifdef TM_HAVE_OPENBLAS_SET_NUM_THREADS
    return openblas_get_num_threads();
#else
    return -1;
#endif
}

void tm_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
              int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    /* Pinned here, not by each command: a command that forgot (quantize did)
     * ran OpenBLAS's own threads on top of our pool, 3.7x slower. */
    tm_blas_init();
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c,
                ldc);
}
