/* PNG decoding to float feature maps (CxHxW, values 0..1).
 * Any PNG colour type and bit depth is accepted (grey, grey+alpha, RGB,
 * RGBA, palette, 1..16 bits, interlaced). Sample values are taken as stored
 * (no gamma or colour-profile correction, like PIL and most training code):
 * value / (2^bit_depth - 1). Alpha is composited onto black (value * alpha).
 * Grey from colour is ITU-R BT.601 luma, 0.299 R + 0.587 G + 0.114 B, on the
 * stored values; colour from grey repeats the grey value. Resizing is
 * separable per axis: area averaging (box filter) when an axis shrinks,
 * bilinear with pixel centres aligned (align_corners = false) when it
 * grows or keeps its size. See docs/data.md. */
#ifndef TM_IMAGE_H
#define TM_IMAGE_H

#include "tm_status.h"

/* Largest width or height, and width x height, a PNG header may claim;
 * bigger headers are refused before any allocation (4096 x 4096 decodes
 * into at most 128 MiB of rows and 192 MiB of floats). */
#define TM_IMAGE_MAX_SIDE 16384
#define TM_IMAGE_MAX_PIXELS (1L << 24)

/* Decodes path into out (channels x height x width floats, channels 1 or 3),
 * resizing when the file's size differs. Errors name the file: TM_ERR_IO when
 * it cannot be opened or read, TM_ERR_FORMAT when it is empty, not a PNG,
 * truncated, corrupt, of zero size or over the limits above. */
tm_status tm_image_load(const char *path, int channels, int height, int width, float *out);

/* Decodes path at its own size: *pixels (channels x *height x *width floats)
 * is malloc'ed and owned by the caller. */
tm_status tm_image_read(const char *path, int channels, float **pixels, int *height, int *width);

/* Resizes a channels x in_h x in_w map into channels x out_h x out_w by the
 * rule above. in and out must not overlap. */
tm_status tm_image_resize(const float *in, int channels, int in_h, int in_w, float *out, int out_h,
                          int out_w);

#endif
