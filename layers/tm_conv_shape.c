#include "tm_ops.h"

int tm_conv_out_size(int in, int k, int stride, tm_padding padding)
{
    if (stride < 1 || k < 1 || in < 1)
        return 0;
    if (padding == TM_PAD_SAME)
        return (in + stride - 1) / stride;
    return in < k ? 0 : (in - k) / stride + 1;
}
