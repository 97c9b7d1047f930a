/* Float32 tensors.
 *
 * Layout: always contiguous, row-major, at most 4 dimensions. Images and
 * feature maps are NCHW (batch, channels, height, width); vectors are (N, F).
 * Strides are implied by the shape (tm_tensor_stride). A tensor either owns
 * its buffers (made by tm_tensor_new, freed by tm_tensor_free) or borrows them
 * from an arena (tm_arena_tensor) that the caller resets or frees. */
#ifndef TM_TENSOR_H
#define TM_TENSOR_H

#include <stddef.h>

#include "tm_status.h"

#define TM_MAX_DIMS 4

typedef struct tm_tensor {
    float *data;
    float *grad;       /* same size as data, or NULL when no gradient is kept */
    size_t size;       /* product of shape */
    int ndim;
    int shape[TM_MAX_DIMS];
    int requires_grad; /* gradients flow into grad during backward */
    int owns;          /* data and grad are heap buffers freed with the tensor */
} tm_tensor;

/* Heap tensor, zero-filled; grad allocated (zeroed) when requires_grad. */
tm_status tm_tensor_new(tm_tensor **out, int ndim, const int *shape, int requires_grad);
void tm_tensor_free(tm_tensor *t);

size_t tm_shape_size(int ndim, const int *shape);
size_t tm_tensor_stride(const tm_tensor *t, int dim);
int tm_tensor_same_shape(const tm_tensor *a, const tm_tensor *b);
/* "2x16x28x28" into buf; returns buf. */
const char *tm_shape_str(int ndim, const int *shape, char *buf, size_t n);

void tm_tensor_zero_grad(tm_tensor *t);
/* TM_ERR_NUMERIC naming `what` if any element is NaN or infinite. */
tm_status tm_check_finite(const float *x, size_t n, const char *what);

#endif
