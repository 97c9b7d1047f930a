/* libFuzzer target: audio decoding through libsndfile (tm_audio_read_all,
 * then tm_audio_resample) on arbitrary bytes. A decoded signal must keep
 * tm_audio.h's promise: finite samples within TM_AUDIO_MAX_ABS. */
#include <math.h>
#include <stdint.h>

#include "fuzz_tmpfile.h"
#include "tm_audio.h"
#include "tm_status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const float *x, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]) || fabsf(x[i]) > TM_AUDIO_MAX_ABS * 1.01f) {
            fprintf(stderr, "%s: sample %zu is %g\n", what, i, (double)x[i]);
            abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_tmp(".wav", data, size);
    float *x = NULL;
    size_t n = 0;
    tm_audio_info info;
    if (tm_audio_read_all(path, &x, &n, &info) != TM_OK)
        return 0;
    check(x, n, "decoded");
    /* Resampling is the slow part: only short signals, to keep the rate up. */
    if (n <= 16384 && info.rate != 16000) {
        float *y = NULL;
        size_t ny = 0;
        if (tm_audio_resample(x, n, info.rate, 16000, &y, &ny) == TM_OK) {
            free(y);
        }
    }
    free(x);
    return 0;
}
