#include "tm_audio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <samplerate.h>
#include <sndfile.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* libsndfile silently shortens a WAV whose data chunk runs past the end of
 * the file; a cut-off download must not load as a shorter recording. */
static tm_status wav_check_truncated(int fd, off_t file_size, const char *path)
{
    unsigned char h[12];
    if (file_size < 12 || pread(fd, h, 12, 0) != 12)
        return TM_OK;
    if (memcmp(h, "RIFF", 4) != 0 || memcmp(h + 8, "WAVE", 4) != 0)
        return TM_OK;
    off_t pos = 12;
    for (int chunks = 0; chunks < 4096 && pos + 8 <= file_size; chunks++) {
        unsigned char c[8];
        if (pread(fd, c, 8, pos) != 8)
            return TM_OK;
        uint32_t size = le32(c + 4);
        if (memcmp(c, "data", 4) == 0) {
            /* 0 and 0xFFFFFFFF mark streams whose writer never came back
             * to fill in the length; libsndfile then reads to the end. */
            off_t avail = file_size - (pos + 8);
            if (size != 0 && size != 0xFFFFFFFFu && (off_t)size > avail)
                return tm_error(TM_ERR_FORMAT,
                                "%s: truncated WAV file: the data chunk declares %lu bytes "
                                "but only %lld follow",
                                path, (unsigned long)size, (long long)avail);
            return TM_OK;
        }
        pos += 8 + (off_t)size + (size & 1);
    }
    return TM_OK;
}

tm_status tm_audio_read_all(const char *path, float **samples, size_t *n, tm_audio_info *info)
{
    if (!samples || !n)
        return tm_error(TM_ERR_ARG, "audio: NULL output pointer");
    *samples = NULL;
    *n = 0;
    if (!path)
        return tm_error(TM_ERR_ARG, "audio: NULL path");

    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return tm_error(TM_ERR_IO, "%s: cannot open audio file: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return tm_error(TM_ERR_IO, "%s: cannot stat audio file: %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return tm_error(TM_ERR_IO, "%s: is a directory, not an audio file", path);
    }
    if (st.st_size == 0) {
        close(fd);
        return tm_error(TM_ERR_FORMAT, "%s: empty file, no audio samples", path);
    }
    tm_status s = wav_check_truncated(fd, st.st_size, path);
    if (s != TM_OK) {
        close(fd);
        return s;
    }

    SF_INFO sfi;
    memset(&sfi, 0, sizeof sfi);
    /* fd stays ours (close_desc 0) so that every path closes it exactly
     * once, whether or not libsndfile accepts the file. */
    SNDFILE *sf = sf_open_fd(fd, SFM_READ, &sfi, 0);
    if (!sf) {
        close(fd);
        return tm_error(TM_ERR_FORMAT, "%s: not a readable audio file: %s", path,
                        sf_strerror(NULL));
    }
    if (info) {
        info->rate = sfi.samplerate;
        info->channels = sfi.channels;
        info->frames = (long long)sfi.frames;
    }
    float *buf = NULL;
    if (sfi.channels < 1 || sfi.samplerate < 1) {
        s = tm_error(TM_ERR_FORMAT, "%s: header gives %d channels at %d Hz", path, sfi.channels,
                     sfi.samplerate);
        goto done;
    }
    if (sfi.frames <= 0) {
        s = tm_error(TM_ERR_FORMAT, "%s: no audio samples", path);
        goto done;
    }
    if (sfi.channels > TM_AUDIO_MAX_CHANNELS || sfi.samplerate > TM_AUDIO_MAX_RATE ||
        (long long)sfi.frames > TM_AUDIO_MAX_SAMPLES / sfi.channels) {
        s = tm_error(TM_ERR_FORMAT,
                     "%s: header claims %lld frames x %d channels at %d Hz, over the limit of "
                     "%lld samples, %d channels, %d Hz (TM_AUDIO_MAX_* in tm_audio.h)",
                     path, (long long)sfi.frames, sfi.channels, sfi.samplerate,
                     (long long)TM_AUDIO_MAX_SAMPLES, TM_AUDIO_MAX_CHANNELS, TM_AUDIO_MAX_RATE);
        goto done;
    }
    size_t frames = (size_t)sfi.frames, ch = (size_t)sfi.channels;
    buf = malloc(frames * ch * sizeof *buf);
    if (!buf) {
        s = tm_error(TM_ERR_NOMEM, "%s: out of memory for %zu frames", path, frames);
        goto done;
    }
    size_t got = 0;
    while (got < frames) {
        sf_count_t r = sf_readf_float(sf, buf + got * ch, (sf_count_t)(frames - got));
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    if (got < frames) {
        int e = sf_error(sf);
        s = tm_error(TM_ERR_FORMAT, "%s: truncated or corrupt audio: read %zu of %zu frames (%s)",
                     path, got, frames, e ? sf_strerror(sf) : "unexpected end of data");
        goto done;
    }
    /* Mixdown is the mean of the channels, so full scale stays full scale. */
    if (ch > 1) {
        for (size_t i = 0; i < frames; i++) {
            double acc = 0;
            for (size_t c = 0; c < ch; c++)
                acc += buf[i * ch + c];
            buf[i] = (float)(acc / (double)ch);
        }
        float *shrunk = realloc(buf, frames * sizeof *buf);
        if (shrunk)
            buf = shrunk;
    }
    for (size_t i = 0; i < frames; i++) {
        if (!isfinite(buf[i])) {
            s = tm_error(TM_ERR_FORMAT, "%s: sample %zu is %s", path, i,
                         isnan(buf[i]) ? "NaN" : "infinite");
            goto done;
        }
        if (fabsf(buf[i]) > TM_AUDIO_MAX_ABS) {
            s = tm_error(TM_ERR_FORMAT, "%s: sample %zu is %g, over the limit of |x| <= %g",
                         path, i, (double)buf[i], (double)TM_AUDIO_MAX_ABS);
            goto done;
        }
    }
    *samples = buf;
    *n = frames;
    buf = NULL;
    s = TM_OK;
done:
    free(buf);
    sf_close(sf);
    close(fd);
    return s;
}

tm_status tm_audio_resample(const float *in, size_t n_in, int rate_in, int rate_out, float **out,
                            size_t *n_out)
{
    if (!out || !n_out)
        return tm_error(TM_ERR_ARG, "resample: NULL output pointer");
    *out = NULL;
    *n_out = 0;
    if (!in || n_in == 0)
        return tm_error(TM_ERR_ARG, "resample: empty input");
    if (rate_in <= 0 || rate_out <= 0)
        return tm_error(TM_ERR_ARG, "resample: rates %d -> %d Hz must be positive", rate_in,
                        rate_out);
    if (n_in > (size_t)TM_AUDIO_MAX_SAMPLES)
        return tm_error(TM_ERR_ARG, "resample: %zu samples, over the limit of %lld", n_in,
                        (long long)TM_AUDIO_MAX_SAMPLES);
    double ratio = (double)rate_out / (double)rate_in;
    unsigned long long want =
        ((unsigned long long)n_in * (unsigned long long)rate_out + (unsigned long long)rate_in / 2) /
        (unsigned long long)rate_in;
    if (want == 0)
        want = 1;
    if (want > (unsigned long long)TM_AUDIO_MAX_SAMPLES)
        return tm_error(TM_ERR_FORMAT, "resample %d -> %d Hz: %llu output samples, over the "
                        "limit of %lld",
                        rate_in, rate_out, want, (long long)TM_AUDIO_MAX_SAMPLES);
    if (rate_in != rate_out && !src_is_valid_ratio(ratio))
        return tm_error(TM_ERR_ARG, "resample: ratio %d -> %d Hz is outside libsamplerate's range",
                        rate_in, rate_out);
    /* A little slack: libsamplerate may give one sample more than the
     * rounded length, which is then dropped. */
    size_t cap = (size_t)want + 16;
    float *y = calloc(cap, sizeof *y);
    if (!y)
        return tm_error(TM_ERR_NOMEM, "resample: out of memory for %llu samples", want);
    if (rate_in == rate_out) {
        memcpy(y, in, n_in * sizeof *y);
    } else {
        SRC_DATA d;
        memset(&d, 0, sizeof d);
        d.data_in = in;
        d.input_frames = (long)n_in;
        d.data_out = y;
        d.output_frames = (long)cap;
        d.src_ratio = ratio;
        d.end_of_input = 1;
        int e = src_simple(&d, SRC_SINC_MEDIUM_QUALITY, 1);
        if (e != 0) {
            free(y);
            return tm_error(TM_ERR_INTERNAL, "resample %d -> %d Hz: %s", rate_in, rate_out,
                            src_strerror(e));
        }
        /* Anything short of the rounded length (at most a sample or two)
         * stays zero from calloc. */
    }
    *out = y;
    *n_out = (size_t)want;
    return TM_OK;
}

void tm_audio_fit_length(const float *in, size_t n, float *out, size_t num_samples,
                         tm_audio_fit fit)
{
    size_t src = 0, dst = 0, len = n < num_samples ? n : num_samples;
    if (fit == TM_AUDIO_FIT_CENTER) {
        if (n > num_samples)
            src = (n - num_samples) / 2;
        else
            dst = (num_samples - n) / 2;
    }
    memset(out, 0, dst * sizeof *out);
    if (len)
        memcpy(out + dst, in + src, len * sizeof *out);
    memset(out + dst + len, 0, (num_samples - dst - len) * sizeof *out);
}

tm_status tm_audio_load(const char *path, int target_rate, int num_samples, tm_audio_fit fit,
                        float *out, tm_audio_info *info)
{
    if (!out || num_samples <= 0)
        return tm_error(TM_ERR_ARG, "%s: audio load needs an output of at least one sample",
                        path ? path : "(null)");
    memset(out, 0, (size_t)num_samples * sizeof *out);
    if (target_rate <= 0)
        return tm_error(TM_ERR_ARG, "%s: target rate %d Hz must be positive",
                        path ? path : "(null)", target_rate);
    if (fit != TM_AUDIO_FIT_START && fit != TM_AUDIO_FIT_CENTER)
        return tm_error(TM_ERR_ARG, "%s: unknown fit rule %d", path ? path : "(null)", (int)fit);
    tm_audio_info local;
    if (!info)
        info = &local;
    float *x = NULL;
    size_t n = 0;
    TM_TRY(tm_audio_read_all(path, &x, &n, info));
    if (info->rate != target_rate) {
        float *y = NULL;
        size_t ny = 0;
        tm_status s = tm_audio_resample(x, n, info->rate, target_rate, &y, &ny);
        free(x);
        if (s != TM_OK)
            return tm_error_prefix(s, "%s: ", path);
        x = y;
        n = ny;
    }
    tm_audio_fit_length(x, n, out, (size_t)num_samples, fit);
    free(x);
    return TM_OK;
}
