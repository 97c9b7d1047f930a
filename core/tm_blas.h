/* Thin calls into OpenBLAS. Matrices are row-major. Our own pool threads
 * over the batch, so OpenBLAS is pinned to one thread (tm_blas_init) to
 * avoid oversubscribing the cores. */
#ifndef TM_BLAS_H
#define TM_BLAS_H

void tm_blas_init(void);

/* C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C. */
void tm_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
              int lda, const float *b, int ldb, float beta, float *c, int ldc);

#endif
