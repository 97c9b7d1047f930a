#include "tm_features.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tm_image.h"

int tm_feature_is_audio(const tm_feature_spec *f)
{
    return f->kind == TM_FEATURE_MFCC || f->kind == TM_FEATURE_LOGMEL;
}

int tm_feature_augments(const tm_feature_spec *f)
{
    return f->aug_shift > 0 || f->aug_gain_db > 0 || f->aug_snr_db > 0 || f->aug_noise > 0;
}

tm_status tm_feature_check(const tm_feature_spec *f)
{
    if (tm_feature_is_audio(f)) {
        const char *why = tm_rt_frontend_check(&f->fe);
        if (why)
            return tm_error(TM_ERR_CONFIG, "branch %s: audio front end: %s", f->name, why);
        return TM_OK;
    }
    if (f->kind == TM_FEATURE_IMAGE) {
        if (f->channels != 1 && f->channels != 3)
            return tm_error(TM_ERR_CONFIG, "branch %s: images need 1 or 3 channels, input has %d",
                            f->name, f->channels);
        if (f->height < 1 || f->width < 1)
            return tm_error(TM_ERR_CONFIG, "branch %s: image size must be positive", f->name);
        return TM_OK;
    }
    return tm_error(TM_ERR_CONFIG, "branch %s: no feature kind (set feature = mfcc, logmel or "
                                   "image)",
                    f->name);
}

size_t tm_feature_raw_dim(const tm_feature_spec *f)
{
    if (tm_feature_is_audio(f))
        return (size_t)f->fe.num_samples;
    return (size_t)f->channels * f->height * f->width;
}

void tm_feature_shape(const tm_feature_spec *f, int shape[3])
{
    if (tm_feature_is_audio(f)) {
        shape[0] = 1;
        shape[1] = tm_rt_frontend_coefs(&f->fe);
        shape[2] = (int)tm_rt_frontend_frames(&f->fe);
    } else {
        shape[0] = f->channels;
        shape[1] = f->height;
        shape[2] = f->width;
    }
}

size_t tm_feature_dim(const tm_feature_spec *f)
{
    int s[3];
    tm_feature_shape(f, s);
    return (size_t)s[0] * s[1] * s[2];
}

tm_status tm_feature_decode(const tm_feature_spec *f, const char *path, float *raw)
{
    if (tm_feature_is_audio(f))
        return tm_audio_load(path, f->fe.sample_rate, f->fe.num_samples, f->fit, raw, NULL);
    if (f->kind == TM_FEATURE_IMAGE)
        return tm_image_load(path, f->channels, f->height, f->width, raw);
    return tm_error(TM_ERR_CONFIG, "branch %s: no feature kind", f->name);
}

tm_status tm_featurizer_init(tm_featurizer *z, const tm_feature_spec *f)
{
    memset(z, 0, sizeof *z);
    z->spec = f;
    TM_TRY(tm_feature_check(f));
    z->scratch = malloc(tm_feature_raw_dim(f) * sizeof(float));
    if (!z->scratch)
        return tm_error(TM_ERR_NOMEM, "branch %s: out of memory", f->name);
    if (tm_feature_is_audio(f)) {
        size_t bytes = tm_rt_frontend_workspace_bytes(&f->fe);
        z->workspace = malloc(bytes);
        if (!z->workspace) {
            tm_featurizer_free(z);
            return tm_error(TM_ERR_NOMEM, "branch %s: out of memory", f->name);
        }
        tm_rt_status rs = tm_rt_frontend_init(&z->fe, &f->fe, z->workspace, bytes);
        if (rs != TM_RT_OK) {
            tm_featurizer_free(z);
            return tm_error(TM_ERR_CONFIG, "branch %s: audio front end: %s", f->name,
                            tm_rt_status_name(rs));
        }
    }
    return TM_OK;
}

void tm_featurizer_free(tm_featurizer *z)
{
    free(z->workspace);
    free(z->scratch);
    memset(z, 0, sizeof *z);
}

static void augment_audio(const tm_feature_spec *f, const float *in, float *out, tm_rng *r)
{
    size_t n = (size_t)f->fe.num_samples;
    long shift = 0;
    if (f->aug_shift > 0) {
        long max = (long)(f->aug_shift * f->fe.sample_rate);
        shift = (long)tm_rng_below(r, (uint32_t)(2 * max + 1)) - max;
    }
    float gain = 1.0f;
    if (f->aug_gain_db > 0)
        gain = powf(10.0f, (tm_rng_uniform(r) * 2.0f - 1.0f) * f->aug_gain_db / 20.0f);
    double power = 0.0;
    for (size_t i = 0; i < n; i++) {
        long src = (long)i - shift;
        float v = src >= 0 && src < (long)n ? in[src] * gain : 0.0f;
        out[i] = v;
        power += (double)v * v;
    }
    if (f->aug_snr_db > 0 && power > 0) {
        /* White noise whose power sits snr dB below the signal's. */
        float sigma = (float)sqrt(power / n / pow(10.0, f->aug_snr_db / 10.0));
        for (size_t i = 0; i < n; i++)
            out[i] += sigma * tm_rng_normal(r);
    }
}

static void augment_image(const tm_feature_spec *f, const float *in, float *out, tm_rng *r)
{
    int C = f->channels, H = f->height, W = f->width;
    int dy = 0, dx = 0;
    if (f->aug_shift > 0) {
        int max = (int)f->aug_shift;
        dy = (int)tm_rng_below(r, (uint32_t)(2 * max + 1)) - max;
        dx = (int)tm_rng_below(r, (uint32_t)(2 * max + 1)) - max;
    }
    for (int c = 0; c < C; c++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                int sy = y - dy, sx = x - dx;
                float v = sy >= 0 && sy < H && sx >= 0 && sx < W
                              ? in[((size_t)c * H + sy) * W + sx]
                              : 0.0f;
                if (f->aug_noise > 0)
                    v += f->aug_noise * tm_rng_normal(r);
                out[((size_t)c * H + y) * W + x] = v;
            }
}

tm_status tm_featurize(tm_featurizer *z, const float *raw, float *features, tm_rng *rng)
{
    const tm_feature_spec *f = z->spec;
    if (rng && tm_feature_augments(f)) {
        if (tm_feature_is_audio(f))
            augment_audio(f, raw, z->scratch, rng);
        else
            augment_image(f, raw, z->scratch, rng);
        raw = z->scratch;
    }
    if (tm_feature_is_audio(f)) {
        tm_rt_status rs = tm_rt_frontend_run(&z->fe, raw, features);
        if (rs != TM_RT_OK)
            return tm_error(TM_ERR_INTERNAL, "branch %s: front end: %s", f->name,
                            tm_rt_status_name(rs));
        /* A NaN here would only surface epochs later as a NaN loss naming
         * no file; the caller prefixes the path. */
        int shape[3];
        tm_feature_shape(f, shape);
        size_t dim = tm_feature_dim(f);
        for (size_t i = 0; i < dim; i++)
            if (!isfinite(features[i]))
                return tm_error(TM_ERR_FORMAT,
                                "branch %s: feature %zu of %zu (coefficient %d, frame %d) is %s",
                                f->name, i, dim, (int)(i / (size_t)shape[2]),
                                (int)(i % (size_t)shape[2]), isnan(features[i]) ? "NaN" : "infinite");
        return TM_OK;
    }
    memcpy(features, raw, tm_feature_raw_dim(f) * sizeof(float));
    return TM_OK;
}
