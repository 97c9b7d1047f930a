/* libFuzzer target: PNG decoding through libpng (tm_image_read, then
 * tm_image_resize) on arbitrary bytes. The size parity picks grey or colour
 * output. A decoded map must hold values in [0, 1] as tm_image.h promises. */
#include <math.h>
#include <stdint.h>

#include "fuzz_tmpfile.h"
#include "tm_image.h"
#include "tm_status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const float *x, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (!(x[i] >= 0.0f && x[i] <= 1.0f)) {
            fprintf(stderr, "%s: value %zu is %g\n", what, i, (double)x[i]);
            abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_tmp(".png", data, size);
    int channels = (size & 1) ? 3 : 1;
    float *px = NULL;
    int h = 0, w = 0;
    if (tm_image_read(path, channels, &px, &h, &w) != TM_OK)
        return 0;
    check(px, (size_t)channels * h * w, "decoded");
    float out[3 * 7 * 5];
    if (tm_image_resize(px, channels, h, w, out, 7, 5) == TM_OK)
        check(out, (size_t)channels * 7 * 5, "resized");
    free(px);
    return 0;
}
