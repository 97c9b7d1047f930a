/* Thin calls into OpenBLAS. Matrices are row-major. Our own pool threads
 * over the batch, so OpenBLAS is pinned to one thread to avoid
 * oversubscribing the cores: tm_sgemm does it on its first call, so every
 * command that reaches BLAS through it is pinned the same way. */
#ifndef TM_BLAS_H
#define TM_BLAS_H

/* Pins OpenBLAS to one thread (once per process; later calls do nothing). */
void tm_blas_init(void);
/* OpenBLAS's thread count now, or -1 when the library cannot tell. */
int tm_blas_threads(void);

/* C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C. */
void tm_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
              int lda, const float *b, int ldb, float beta, float *c, int ldc);

#endif
