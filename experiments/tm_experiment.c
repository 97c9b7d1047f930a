#include "tm_experiment.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tm_layer_desc.h"
#include "tm_suggest.h"

/* ---- raw INI entries --------------------------------------------------- */

typedef struct {
    char section[128];
    char key[64];
    char value[1024];
    int line;    /* 0 = from --set */
    int sec;     /* index of its section header in raw_ini.s, -1 = before any */
} entry;

typedef struct {
    char name[128];
    int line;
} section;

typedef struct {
    entry *e;
    int n, cap;
    section *s;
    int ns, caps;
    const char *label;
    /* reader state */
    const char *text;
    size_t pos;
    int line;
    int too_long;     /* first line longer than inih's buffer */
    int sec_too_long; /* first section name longer than inih keeps */
    int max_line;     /* inih's line buffer, less the newline and NUL */
    tm_status status;
    /* each section's entries in file order (index_sections) */
    int *first, *next;
} raw_ini;

/* inih's MAX_SECTION (50, with the NUL): a longer name is cut short there. */
#define SECTION_MAX 49

static int grow(void **p, int *cap, int n, size_t elem)
{
    if (n < *cap)
        return 1;
    int c = *cap ? *cap * 2 : 32;
    void *q = realloc(*p, elem * (size_t)c);
    if (!q)
        return 0;
    *p = q;
    *cap = c;
    return 1;
}

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    size_t i = 0;
    while (s[i] == ' ' || s[i] == '\t')
        i++;
    if (i)
        memmove(s, s + i, n - i + 1);
}

static char *read_line(char *str, int num, void *stream)
{
    raw_ini *r = stream;
    if (r->pos == 0 && !strncmp(r->text, "\xEF\xBB\xBF", 3))
        r->pos = 3; /* UTF-8 BOM: editors on Windows write one */
    if (!r->text[r->pos])
        return NULL;
    const char *p = r->text + r->pos;
    size_t len = strcspn(p, "\n");
    r->pos += len + (p[len] == '\n');
    r->line++;
    /* inih would take an indented line for the continuation of the previous
     * value; indentation means nothing here. */
    while (len && (*p == ' ' || *p == '\t')) {
        p++;
        len--;
    }
    /* inih strips only "; ..." after a value: "# ..." is a comment too. */
    if (len && *p != '#' && *p != ';')
        for (size_t i = 1; i < len; i++)
            if (p[i] == '#' && (p[i - 1] == ' ' || p[i - 1] == '\t')) {
                len = i;
                break;
            }
    r->max_line = num - 2;
    if (len + 1 >= (size_t)num && !r->too_long)
        r->too_long = r->line;
    size_t copy = len < (size_t)num - 2 ? len : (size_t)num - 2;
    memcpy(str, p, copy);
    str[copy] = '\n';
    str[copy + 1] = '\0';
    /* inih skips sections with no keys; record every header here. */
    char tmp[128];
    snprintf(tmp, sizeof tmp, "%.*s", (int)(copy < 127 ? copy : 127), str);
    trim(tmp);
    if (tmp[0] == '[') {
        char *end = strchr(tmp, ']');
        if (end && !grow((void **)&r->s, &r->caps, r->ns, sizeof *r->s)) {
            if (r->status == TM_OK)
                r->status = tm_error(TM_ERR_NOMEM, "%s: out of memory", r->label);
        } else if (end) {
            *end = '\0';
            snprintf(r->s[r->ns].name, sizeof r->s[r->ns].name, "%s", tmp + 1);
            trim(r->s[r->ns].name);
            if (strlen(r->s[r->ns].name) > SECTION_MAX && !r->sec_too_long)
                r->sec_too_long = r->line;
            r->s[r->ns].line = r->line;
            r->ns++;
        }
    }
    return str;
}

static int on_key(void *user, const char *sec, const char *key, const char *value)
{
    raw_ini *r = user;
    if (!grow((void **)&r->e, &r->cap, r->n, sizeof *r->e)) {
        r->status = tm_error(TM_ERR_NOMEM, "%s: out of memory", r->label);
        return 0;
    }
    entry *e = &r->e[r->n++];
    e->line = r->line;
    e->sec = r->ns - 1; /* read_line recorded this key's header already */
    /* the header's trimmed name: inih keeps "[ a ]" as " a " */
    snprintf(e->section, sizeof e->section, "%s", e->sec >= 0 ? r->s[e->sec].name : sec);
    snprintf(e->key, sizeof e->key, "%s", key);
    snprintf(e->value, sizeof e->value, "%s", value);
    return 1;
}

static void raw_free(raw_ini *r)
{
    free(r->e);
    free(r->s);
    free(r->first);
    free(r->next);
}

/* FNV-1a over "section\0key" (key may be NULL). */
static size_t hash2(const char *a, const char *b)
{
    size_t h = 2166136261u;
    for (; *a; a++)
        h = (h ^ (unsigned char)*a) * 16777619u;
    h = (h ^ 0xff) * 16777619u;
    for (; b && *b; b++)
        h = (h ^ (unsigned char)*b) * 16777619u;
    return h;
}

/* Links each section's entries in file order (first/next), so that no step
 * scans all entries per section: a file of many keys stays linear. */
static tm_status index_sections(raw_ini *r)
{
    free(r->first);
    free(r->next);
    r->first = malloc(sizeof *r->first * (size_t)(r->ns + 1));
    r->next = malloc(sizeof *r->next * (size_t)(r->n + 1));
    if (!r->first || !r->next)
        return tm_error(TM_ERR_NOMEM, "%s: out of memory", r->label);
    for (int i = 0; i < r->ns; i++)
        r->first[i] = -1;
    for (int i = r->n - 1; i >= 0; i--) {
        int sec = r->e[i].sec;
        r->next[i] = -1;
        if (sec < 0)
            continue;
        r->next[i] = r->first[sec];
        r->first[sec] = i;
    }
    return TM_OK;
}

/* dup[i] = the earlier entry (or section when keys is 0) with the same name,
 * or -1; one pass through a hash table. */
static tm_status find_duplicates(const raw_ini *r, int keys, int **dup)
{
    int n = keys ? r->n : r->ns;
    size_t size = 16;
    while (size < (size_t)n * 2)
        size *= 2;
    int *slot = malloc(sizeof *slot * size);
    *dup = malloc(sizeof **dup * (size_t)(n + 1));
    if (!slot || !*dup) {
        free(slot);
        free(*dup);
        *dup = NULL;
        return tm_error(TM_ERR_NOMEM, "%s: out of memory", r->label);
    }
    for (size_t i = 0; i < size; i++)
        slot[i] = -1;
    for (int i = 0; i < n; i++) {
        const char *a = keys ? r->e[i].section : r->s[i].name;
        const char *b = keys ? r->e[i].key : NULL;
        size_t h = hash2(a, b) & (size - 1);
        (*dup)[i] = -1;
        for (; slot[h] >= 0; h = (h + 1) & (size - 1)) {
            int j = slot[h];
            if (keys ? !strcmp(r->e[j].section, a) && !strcmp(r->e[j].key, b)
                     : !strcmp(r->s[j].name, a)) {
                (*dup)[i] = j;
                break;
            }
        }
        if ((*dup)[i] < 0)
            slot[h] = i;
    }
    free(slot);
    return TM_OK;
}

/* ---- typed values ------------------------------------------------------ */

typedef struct {
    const char *label;
    const entry *at;
} ctx;

static tm_status bad(const ctx *c, const char *fmt, const char *detail)
{
    char where[TM_PATH_LEN + 32];
    if (c->at->line > 0)
        snprintf(where, sizeof where, "%s:%d", c->label, c->at->line);
    else
        snprintf(where, sizeof where, "--set %s.%s", c->at->section, c->at->key);
    char msg[512];
    snprintf(msg, sizeof msg, fmt, detail ? detail : "");
    return tm_error(TM_ERR_CONFIG, "%s: [%s] %s = %s: %s", where, c->at->section, c->at->key,
                    c->at->value, msg);
}

static tm_status get_long(const ctx *c, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(c->at->value, &end, 10);
    if (errno || end == c->at->value || *end)
        return bad(c, "not a whole number", NULL);
    if (v < lo || v > hi) {
        char range[96];
        snprintf(range, sizeof range, "out of range (%ld..%ld)", lo, hi);
        return bad(c, "%s", range);
    }
    *out = v;
    return TM_OK;
}

static tm_status get_int(const ctx *c, int lo, int hi, int *out)
{
    long v;
    TM_TRY(get_long(c, lo, hi, &v));
    *out = (int)v;
    return TM_OK;
}

static tm_status get_float(const ctx *c, double lo, double hi, float *out)
{
    char *end;
    errno = 0;
    double v = strtod(c->at->value, &end);
    if (errno || end == c->at->value || *end || !isfinite(v))
        return bad(c, "not a number", NULL);
    if (v < lo || v > hi) {
        char range[96];
        snprintf(range, sizeof range, "out of range (%g..%g)", lo, hi);
        return bad(c, "%s", range);
    }
    *out = (float)v;
    return TM_OK;
}

static tm_status get_bool(const ctx *c, int *out)
{
    const char *v = c->at->value;
    if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on"))
        *out = 1;
    else if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off"))
        *out = 0;
    else
        return bad(c, "expected 1/0, true/false, yes/no or on/off", NULL);
    return TM_OK;
}

/* options: "a|b|c"; returns the index. */
static tm_status get_choice(const ctx *c, const char *options, int *out)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", options);
    int i = 0;
    for (char *tok = strtok(buf, "|"); tok; tok = strtok(NULL, "|"), i++)
        if (!strcmp(tok, c->at->value)) {
            *out = i;
            return TM_OK;
        }
    char msg[300];
    snprintf(msg, sizeof msg, "expected one of %s", options);
    return bad(c, "%s", msg);
}

static tm_status get_string(const ctx *c, char *dst, size_t n)
{
    if (strlen(c->at->value) >= n)
        return bad(c, "too long", NULL);
    snprintf(dst, n, "%s", c->at->value);
    return TM_OK;
}

#define MAX_SAMPLE_VALUES (1 << 24)

static tm_status get_shape(const ctx *c, int shape[3])
{
    int a, b, d;
    char extra;
    if (sscanf(c->at->value, "%dx%dx%d%c", &a, &b, &d, &extra) != 3 || a < 1 || b < 1 || d < 1 ||
        a > 4096 || b > 65536 || d > 65536)
        return bad(c, "expected CxHxW with positive sizes, e.g. 1x28x28", NULL);
    /* Caught here, with file:line, rather than as a failed allocation of
     * batch x C x H x W floats later on. */
    if ((long long)a * b * d > MAX_SAMPLE_VALUES) {
        char msg[160];
        snprintf(msg, sizeof msg, "%lld values per sample, more than the %d allowed",
                 (long long)a * b * d, MAX_SAMPLE_VALUES);
        return bad(c, "%s", msg);
    }
    shape[0] = a;
    shape[1] = b;
    shape[2] = d;
    return TM_OK;
}

static tm_status unknown_key(const ctx *c, const char *valid)
{
    char where[TM_PATH_LEN + 32];
    if (c->at->line > 0)
        snprintf(where, sizeof where, "%s:%d", c->label, c->at->line);
    else
        snprintf(where, sizeof where, "--set %s.%s", c->at->section, c->at->key);
    char near[64], hint[96] = "";
    if (tm_suggest_in_list(c->at->key, valid, near, sizeof near))
        snprintf(hint, sizeof hint, "; did you mean '%s'?", near);
    return tm_error(TM_ERR_CONFIG, "%s: [%s] unknown key '%s'%s (valid keys: %s)", where,
                    c->at->section, c->at->key, hint, valid);
}

#define KEY(k) (!strcmp(c->at->key, (k)))

/* ---- sections ---------------------------------------------------------- */

static tm_status experiment_key(tm_experiment *e, const ctx *c)
{
    if (KEY("name"))
        return get_string(c, e->name, sizeof e->name);
    if (KEY("seed")) {
        long v;
        TM_TRY(get_long(c, 0, 2147483647L, &v));
        e->seed = (uint64_t)v;
        return TM_OK;
    }
    if (KEY("threads"))
        return get_int(c, 0, 256, &e->threads);
    if (KEY("branch"))
        return get_string(c, e->branch, sizeof e->branch); /* checked once branches are known */
    return unknown_key(c, "name, seed, threads, branch");
}

static tm_status data_key(tm_experiment *e, const ctx *c)
{
    tm_data_spec *d = &e->data;
    if (KEY("source")) {
        int v;
        TM_TRY(get_choice(c, "synthetic|manifest", &v));
        d->source = (tm_data_source)v;
        return TM_OK;
    }
    if (KEY("classes"))
        return get_int(c, 4, 32, &d->classes);
    if (KEY("train_samples"))
        return get_int(c, 1, 10000000, &d->train_samples);
    if (KEY("val_samples"))
        return get_int(c, 1, 10000000, &d->val_samples);
    if (KEY("test_samples"))
        return get_int(c, 1, 10000000, &d->test_samples);
    if (KEY("noise"))
        return get_float(c, 0.0, 100.0, &d->noise);
    if (KEY("root"))
        return get_string(c, d->root, sizeof d->root);
    if (KEY("train"))
        return get_string(c, d->train, sizeof d->train);
    if (KEY("val"))
        return get_string(c, d->val, sizeof d->val);
    if (KEY("test"))
        return get_string(c, d->test, sizeof d->test);
    if (KEY("val_fraction"))
        return get_float(c, 0.0, 0.9, &d->val_fraction);
    if (KEY("test_fraction"))
        return get_float(c, 0.0, 0.9, &d->test_fraction);
    if (KEY("label_column"))
        return get_string(c, d->label_column, sizeof d->label_column);
    if (KEY("group_column"))
        return get_string(c, d->group_column, sizeof d->group_column);
    if (KEY("cache"))
        return get_string(c, d->cache, sizeof d->cache);
    if (KEY("skip_bad_rows"))
        return get_bool(c, &d->skip_bad_rows);
    return unknown_key(c, "source, classes, train_samples, val_samples, test_samples, noise, "
                          "root, train, val, test, val_fraction, test_fraction, label_column, "
                          "group_column, "
                          "cache, skip_bad_rows");
}

static tm_status class_weights(tm_train_spec *t, const ctx *c)
{
    if (!strcmp(c->at->value, "none")) {
        t->class_weight_mode = TM_CW_NONE;
        return TM_OK;
    }
    if (!strcmp(c->at->value, "balanced")) {
        t->class_weight_mode = TM_CW_BALANCED;
        return TM_OK;
    }
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", c->at->value);
    t->n_class_weights = 0;
    for (char *tok = strtok(buf, ", "); tok; tok = strtok(NULL, ", ")) {
        char *end;
        double v = strtod(tok, &end);
        if (*end || !(v > 0) || !isfinite(v))
            return bad(c, "expected none, balanced or a comma list of positive weights", NULL);
        if (t->n_class_weights == 64)
            return bad(c, "at most 64 weights", NULL);
        t->class_weights[t->n_class_weights++] = (float)v;
    }
    if (!t->n_class_weights)
        return bad(c, "expected none, balanced or a comma list of positive weights", NULL);
    t->class_weight_mode = TM_CW_LIST;
    return TM_OK;
}

static tm_status train_key(tm_experiment *e, const ctx *c)
{
    tm_train_spec *t = &e->train;
    int v;
    if (KEY("epochs"))
        return get_int(c, 1, 100000, &t->epochs);
    if (KEY("batch_size"))
        return get_int(c, 1, 65536, &t->batch_size);
    if (KEY("optimizer")) {
        TM_TRY(get_choice(c, "sgd|adam|adamw", &v));
        float wd = t->optim.weight_decay, mom = t->optim.momentum;
        int nest = t->optim.nesterov;
        tm_optim_config_default(&t->optim, (tm_optim_kind)v);
        t->optim.weight_decay = wd;
        t->optim.momentum = mom;
        t->optim.nesterov = nest;
        return TM_OK;
    }
    if (KEY("lr"))
        return get_float(c, 0.0, 10.0, &t->schedule.base_lr);
    if (KEY("momentum"))
        return get_float(c, 0.0, 0.999999, &t->optim.momentum);
    if (KEY("nesterov"))
        return get_bool(c, &t->optim.nesterov);
    if (KEY("weight_decay"))
        return get_float(c, 0.0, 1.0, &t->optim.weight_decay);
    if (KEY("beta1"))
        return get_float(c, 0.0, 0.999999, &t->optim.beta1);
    if (KEY("beta2"))
        return get_float(c, 0.0, 0.9999999, &t->optim.beta2);
    if (KEY("eps"))
        return get_float(c, 1e-12, 1.0, &t->optim.eps);
    if (KEY("schedule")) {
        TM_TRY(get_choice(c, "constant|step|cosine", &v));
        t->schedule.kind = (tm_schedule_kind)v;
        return TM_OK;
    }
    if (KEY("step_size"))
        return get_int(c, 1, 100000, &t->schedule.step_size);
    if (KEY("gamma"))
        return get_float(c, 0.0, 1.0, &t->schedule.gamma);
    if (KEY("min_lr"))
        return get_float(c, 0.0, 10.0, &t->schedule.min_lr);
    if (KEY("warmup_epochs"))
        return get_int(c, 0, 100000, &t->schedule.warmup_epochs);
    if (KEY("class_weights"))
        return class_weights(t, c);
    if (KEY("select")) {
        TM_TRY(get_choice(c, "last|best", &v));
        t->keep_best = v;
        return TM_OK;
    }
    if (KEY("init")) {
        TM_TRY(get_choice(c, "auto|he|glorot|torch", &v));
        e->model.init = (tm_init_scheme)v;
        return TM_OK;
    }
    if (KEY("bn_momentum"))
        return get_float(c, 0.0, 1.0, &e->model.bn_momentum);
    if (KEY("bn_eps"))
        return get_float(c, 1e-12, 1.0, &e->model.bn_eps);
    if (KEY("shards"))
        return get_int(c, 1, 4096, &t->shards);
    return unknown_key(c, "epochs, batch_size, optimizer, lr, momentum, nesterov, weight_decay, "
                          "beta1, beta2, eps, schedule, step_size, gamma, min_lr, warmup_epochs, "
                          "class_weights, select, init, bn_momentum, bn_eps, shards");
}

static tm_status fusion_key(tm_experiment *e, const ctx *c)
{
    (void)e;
    int v;
    if (KEY("type"))
        return get_choice(c, "concat", &v);
    return unknown_key(c, "type");
}

static const char *branch_keys =
    "input, modality, column, feature, sample_rate, duration, window, hop, n_fft, mels, "
    "coefficients, fmin, fmax, window_type, log_floor, fit, standardize, aug_shift, "
    "aug_gain_db, aug_snr_db, aug_noise";

static tm_status branch_key(tm_experiment *e, int b, const ctx *c)
{
    tm_branch_spec *bs = &e->model.branches[b];
    tm_feature_spec *f = &e->features[b];
    tm_rt_frontend_config *fe = &f->fe;
    int v;
    if (KEY("input"))
        return get_shape(c, bs->input);
    if (KEY("modality"))
        return get_string(c, e->modality[b], sizeof e->modality[b]);
    if (KEY("column"))
        return get_string(c, f->column, sizeof f->column);
    if (KEY("feature")) {
        TM_TRY(get_choice(c, "mfcc|logmel|image", &v));
        f->kind = (tm_feature_kind)(v + 1);
        return TM_OK;
    }
    if (KEY("sample_rate"))
        return get_int(c, 1000, 384000, &fe->sample_rate);
    if (KEY("duration"))
        return get_float(c, 0.01, 600.0, &f->duration);
    if (KEY("window"))
        return get_int(c, 2, 65536, &fe->window_length);
    if (KEY("hop"))
        return get_int(c, 1, 65536, &fe->hop_length);
    if (KEY("n_fft"))
        return get_int(c, 0, 65536, &fe->n_fft);
    if (KEY("mels"))
        return get_int(c, 1, 512, &fe->n_mels);
    if (KEY("coefficients"))
        return get_int(c, 1, 512, &fe->n_mfcc);
    if (KEY("fmin"))
        return get_float(c, 0.0, 192000.0, &fe->fmin);
    if (KEY("fmax"))
        return get_float(c, 0.0, 192000.0, &fe->fmax);
    if (KEY("window_type")) {
        TM_TRY(get_choice(c, "hann|hamming", &v));
        fe->window = v;
        return TM_OK;
    }
    if (KEY("log_floor"))
        return get_float(c, 1e-30, 1.0, &fe->log_floor);
    if (KEY("fit")) {
        TM_TRY(get_choice(c, "start|center", &v));
        f->fit = (tm_audio_fit)v;
        return TM_OK;
    }
    if (KEY("standardize"))
        return get_bool(c, &f->standardize);
    if (KEY("aug_shift"))
        return get_float(c, 0.0, 100.0, &f->aug_shift);
    if (KEY("aug_gain_db"))
        return get_float(c, 0.0, 60.0, &f->aug_gain_db);
    if (KEY("aug_snr_db"))
        return get_float(c, 0.0, 100.0, &f->aug_snr_db);
    if (KEY("aug_noise"))
        return get_float(c, 0.0, 10.0, &f->aug_noise);
    return unknown_key(c, branch_keys);
}

static void feature_defaults(tm_feature_spec *f, const char *name)
{
    memset(f, 0, sizeof *f);
    snprintf(f->name, sizeof f->name, "%s", name);
    f->fe.sample_rate = 8000;
    f->duration = 1.0f;
    f->fe.window_length = 256;
    f->fe.hop_length = 128;
    f->fe.n_mels = 40;
    f->fe.n_mfcc = 13;
    f->fe.fmin = 20.0f;
    f->fe.fmax = 0.0f; /* = sample_rate / 2 */
    f->fe.window = TM_RT_WINDOW_HANN;
    f->fe.log_floor = 1e-6f;
    f->standardize = -1; /* audio: on, images: off */
}

/* Derives the front end's sample count and checks that the features'
 * shape is the branch's input. */
static tm_status feature_finish(tm_experiment *e, int b, const char *label)
{
    tm_feature_spec *f = &e->features[b];
    tm_branch_spec *bs = &e->model.branches[b];
    snprintf(f->name, sizeof f->name, "%s", e->modality[b]);
    if (f->kind == TM_FEATURE_NONE) {
        if (e->data.source == TM_DATA_MANIFEST)
            return tm_error(TM_ERR_CONFIG, "%s:%d: [%s] a manifest data set needs feature = "
                                           "mfcc, logmel or image",
                            label, bs->line, bs->name);
        return TM_OK;
    }
    if (tm_feature_is_audio(f)) {
        if (f->fe.fmax == 0.0f)
            f->fe.fmax = f->fe.sample_rate / 2.0f;
        if (f->kind == TM_FEATURE_LOGMEL)
            f->fe.n_mfcc = 0;
        f->fe.num_samples = (int)lround((double)f->duration * f->fe.sample_rate);
        if (f->standardize < 0)
            f->standardize = 1;
    } else {
        f->channels = bs->input[0];
        f->height = bs->input[1];
        f->width = bs->input[2];
        if (f->standardize < 0)
            f->standardize = 0;
    }
    tm_status s = tm_feature_check(f);
    if (s != TM_OK)
        return tm_error_prefix(s, "%s:%d: ", label, bs->line);
    int shape[3];
    tm_feature_shape(f, shape);
    if (shape[0] != bs->input[0] || shape[1] != bs->input[1] || shape[2] != bs->input[2])
        return tm_error(TM_ERR_CONFIG, "%s:%d: [%s] the audio front end gives %dx%dx%d "
                                       "features (coefficients x frames) but input = %dx%dx%d",
                        label, bs->line, bs->name, shape[0], shape[1], shape[2], bs->input[0],
                        bs->input[1], bs->input[2]);
    return TM_OK;
}

/* Which keys each layer type accepts. */
static const char *layer_keys(tm_layer_kind k)
{
    return tm_layer_desc_of(k)->keys;
}

static int key_allowed(const char *list, const char *key)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *tok = strtok(buf, ", "); tok; tok = strtok(NULL, ", "))
        if (!strcmp(tok, key))
            return 1;
    return 0;
}

static tm_status layer_key(tm_layer_spec *l, const ctx *c)
{
    const char *allowed = layer_keys(l->kind);
    if (!key_allowed(allowed, c->at->key)) {
        char msg[320];
        snprintf(msg, sizeof msg, "%s (for type %s)", allowed, tm_layer_kind_name(l->kind));
        return unknown_key(c, msg);
    }
    int v;
    if (KEY("type"))
        return TM_OK;
    if (KEY("filters"))
        return get_int(c, 1, 65536, &l->filters);
    if (KEY("units")) {
        if (!strcmp(c->at->value, "classes")) {
            l->filters = -1;
            return TM_OK;
        }
        return get_int(c, 1, 1 << 20, &l->filters);
    }
    if (KEY("size")) {
        /* N, or HxW for a kernel of H rows and W columns */
        const char *v = c->at->value, *x = strchr(v, 'x');
        if (!x) {
            l->size_w = 0;
            return get_int(c, 1, 64, &l->size);
        }
        char *end;
        long h = strtol(v, &end, 10), w = end == x ? strtol(x + 1, &end, 10) : 0;
        if (!isdigit((unsigned char)v[0]) || !isdigit((unsigned char)x[1]) || *end || h < 1 ||
            h > 64 || w < 1 || w > 64)
            return bad(c, "not a size: give N, or HxW with each 1..64", NULL);
        l->size = (int)h;
        l->size_w = (int)w == (int)h ? 0 : (int)w;
        return TM_OK;
    }
    if (KEY("stride"))
        return get_int(c, 1, 64, &l->stride);
    if (KEY("padding")) {
        TM_TRY(get_choice(c, "same|valid", &v));
        l->padding = (tm_padding)v;
        return TM_OK;
    }
    if (KEY("batch_norm"))
        return get_bool(c, &l->batch_norm);
    if (KEY("bias"))
        return get_bool(c, &l->bias);
    if (KEY("activation")) {
        TM_TRY(get_choice(c, "none|relu|relu6", &v));
        l->activation = (tm_activation)v;
        return TM_OK;
    }
    if (KEY("rate"))
        return get_float(c, 0.0, 0.99, &l->rate);
    if (KEY("from"))
        return get_string(c, l->from, sizeof l->from);
    if (KEY("bits")) {
        TM_TRY(get_int(c, 4, 8, &l->bits));
        if (l->bits != 4 && l->bits != 8)
            return bad(c, "bits must be 4 or 8", NULL);
        return TM_OK;
    }
    return unknown_key(c, allowed);
}

/* ---- assembling -------------------------------------------------------- */

static void defaults(tm_experiment *e)
{
    e->seed = 0;
    e->threads = 0;
    e->data.source = TM_DATA_SYNTHETIC;
    e->data.classes = 8;
    e->data.train_samples = 2000;
    e->data.val_samples = 400;
    e->data.test_samples = 400;
    e->data.noise = 0.5f;
    e->data.val_fraction = 0.1f;
    e->data.test_fraction = 0.2f;
    snprintf(e->data.label_column, sizeof e->data.label_column, "label");
    e->train.epochs = 10;
    e->train.batch_size = 32;
    e->train.shards = 6;
    tm_optim_config_default(&e->train.optim, TM_OPT_ADAM);
    e->train.schedule.kind = TM_SCHED_CONSTANT;
    e->train.schedule.base_lr = 1e-3f;
    e->train.schedule.step_size = 10;
    e->train.schedule.gamma = 0.1f;
    e->model.bn_momentum = 0.1f;
    e->model.bn_eps = 1e-5f;
}

static tm_status add_layer(tm_layer_spec **arr, int *n, const char *name, int line,
                           tm_layer_kind kind)
{
    tm_layer_spec *p = realloc(*arr, sizeof *p * (size_t)(*n + 1));
    if (!p)
        return tm_error(TM_ERR_NOMEM, "experiment: out of memory");
    *arr = p;
    tm_layer_spec *l = &p[(*n)++];
    memset(l, 0, sizeof *l);
    snprintf(l->name, sizeof l->name, "%s", name);
    l->line = line;
    l->kind = kind;
    l->bias = -1;
    l->size = kind == TM_LAYER_MAXPOOL || kind == TM_LAYER_AVGPOOL ? 2 : 3;
    l->rate = 0.5f;
    return TM_OK;
}

static tm_status apply_override(raw_ini *r, const char *ov)
{
    const char *eq = strchr(ov, '=');
    if (!eq)
        return tm_error(TM_ERR_CONFIG, "--set %s: expected section.key=value", ov);
    char lhs[128];
    if (eq - ov >= (long)sizeof lhs)
        return tm_error(TM_ERR_CONFIG, "--set %s: key too long", ov);
    snprintf(lhs, sizeof lhs, "%.*s", (int)(eq - ov), ov);
    trim(lhs);
    char *dot = strrchr(lhs, '.');
    if (!dot || dot == lhs || !dot[1])
        return tm_error(TM_ERR_CONFIG, "--set %s: expected section.key=value", ov);
    *dot = '\0';
    const char *sec = lhs, *key = dot + 1;
    char value[1024];
    snprintf(value, sizeof value, "%s", eq + 1);
    trim(value);
    for (int i = 0; i < r->n; i++)
        if (!strcmp(r->e[i].section, sec) && !strcmp(r->e[i].key, key)) {
            snprintf(r->e[i].value, sizeof r->e[i].value, "%s", value);
            r->e[i].line = 0;
            return TM_OK;
        }
    int found = -1;
    for (int i = r->ns - 1; i >= 0; i--)
        if (!strcmp(r->s[i].name, sec))
            found = i;
    if (found < 0)
        return tm_error(TM_ERR_CONFIG, "--set %s: %s has no section [%s]", ov, r->label, sec);
    if (!grow((void **)&r->e, &r->cap, r->n, sizeof *r->e))
        return tm_error(TM_ERR_NOMEM, "experiment: out of memory");
    entry *e = &r->e[r->n++];
    snprintf(e->section, sizeof e->section, "%s", sec);
    snprintf(e->key, sizeof e->key, "%s", key);
    snprintf(e->value, sizeof e->value, "%s", value);
    e->line = 0;
    e->sec = found;
    return TM_OK;
}

/* The effective text: every section in order with its keys after --set. */
static tm_status render(const raw_ini *r, char **out)
{
    size_t cap = 256;
    for (int i = 0; i < r->n; i++)
        cap += strlen(r->e[i].section) + strlen(r->e[i].key) + strlen(r->e[i].value) + 8;
    for (int i = 0; i < r->ns; i++)
        cap += strlen(r->s[i].name) + 4;
    char *t = malloc(cap);
    if (!t)
        return tm_error(TM_ERR_NOMEM, "experiment: out of memory");
    size_t used = 0;
    for (int i = 0; i < r->ns; i++) {
        used += (size_t)snprintf(t + used, cap - used, "%s[%s]\n", i ? "\n" : "", r->s[i].name);
        for (int j = r->first[i]; j >= 0; j = r->next[j])
            used += (size_t)snprintf(t + used, cap - used, "%s = %s\n", r->e[j].key,
                                     r->e[j].value);
    }
    *out = t;
    return TM_OK;
}

static tm_status section_error(const char *label, const section *s, const char *why)
{
    return tm_error(TM_ERR_CONFIG, "%s:%d: [%s]: %s", label, s->line, s->name, why);
}

static int find_branch(const tm_experiment *e, const char *name)
{
    for (int b = 0; b < e->model.n_branches; b++)
        if (!strcmp(e->model.branches[b].name, name))
            return b;
    return -1;
}

/* [experiment] branch = <name>: the model, modality[] and features[] keep
 * that branch alone (the whole file was checked first, so an ablation's text
 * stays a valid fused experiment too). */
static tm_status keep_only_branch(tm_experiment *e, const raw_ini *r)
{
    int b = find_branch(e, e->branch);
    if (b < 0) {
        const entry *at = NULL;
        for (int i = 0; i < r->n; i++)
            if (!strcmp(r->e[i].section, "experiment") && !strcmp(r->e[i].key, "branch"))
                at = &r->e[i];
        char msg[400];
        snprintf(msg, sizeof msg, "no branch [%s] to keep (the branches are:", e->branch);
        for (int i = 0; i < e->model.n_branches; i++) {
            strncat(msg, i ? ", " : " ", sizeof msg - strlen(msg) - 1);
            strncat(msg, e->model.branches[i].name, sizeof msg - strlen(msg) - 1);
        }
        strncat(msg, ")", sizeof msg - strlen(msg) - 1);
        ctx c = {r->label, at};
        return bad(&c, "%s", msg);
    }
    tm_model_spec single;
    TM_TRY(tm_model_spec_single_branch(&single, &e->model, e->branch));
    tm_model_spec_free(&e->model);
    e->model = single;
    char modality[TM_LAYER_NAME];
    memcpy(modality, e->modality[b], sizeof modality);
    tm_feature_spec f = e->features[b];
    memset(e->modality, 0, sizeof e->modality);
    memset(e->features, 0, sizeof e->features);
    memcpy(e->modality[0], modality, sizeof modality);
    e->features[0] = f;
    return TM_OK;
}

static tm_status interpret_sections(tm_experiment *e, raw_ini *r, const int *dup_sec,
                                    const int *dup_key);

/* A key that the branch's feature never reads is a mistake, not a no-op. */
static tm_status branch_unused_keys(const tm_feature_spec *f, const raw_ini *r, int si)
{
    static const char *audio_only = "sample_rate, duration, fit, window, hop, n_fft, mels, "
                                    "coefficients, fmin, fmax, window_type, log_floor, "
                                    "aug_gain_db, aug_snr_db";
    for (int j = r->first[si]; j >= 0; j = r->next[j]) {
        const char *key = r->e[j].key, *why = NULL;
        if (f->kind == TM_FEATURE_LOGMEL && !strcmp(key, "coefficients"))
            why = "has no effect with feature = logmel (coefficients are for mfcc; the "
                  "features are mels x frames)";
        else if (f->kind == TM_FEATURE_IMAGE && key_allowed(audio_only, key))
            why = "has no effect with feature = image (audio front-end key)";
        else if (tm_feature_is_audio(f) && !strcmp(key, "aug_noise"))
            why = "has no effect with an audio feature (images only; audio noise is "
                  "aug_snr_db)";
        if (why) {
            ctx c = {r->label, &r->e[j]};
            return bad(&c, "%s", why);
        }
    }
    return TM_OK;
}

/* Sections, then each one's keys, in file order: the first mistake in the
 * file is the one reported. */
static tm_status interpret(tm_experiment *e, raw_ini *r)
{
    int *dup_sec = NULL, *dup_key = NULL;
    tm_status st = find_duplicates(r, 0, &dup_sec);
    if (st == TM_OK)
        st = find_duplicates(r, 1, &dup_key);
    if (st == TM_OK)
        st = interpret_sections(e, r, dup_sec, dup_key);
    free(dup_sec);
    free(dup_key);
    return st;
}

/* An add's `from` names an earlier layer of its branch (or of the head):
 * its section name or the part after the dot. */
static tm_status check_from(const raw_ini *r, int si, const tm_layer_spec *l,
                            const tm_layer_spec *before, int n)
{
    const entry *at = NULL;
    for (int j = r->first[si]; j >= 0; j = r->next[j])
        if (!strcmp(r->e[j].key, "from"))
            at = &r->e[j];
    if (!at)
        return section_error(r->label, &r->s[si],
                             "an add needs from = <an earlier layer of the same branch>");
    char earlier[300] = "";
    for (int i = 0; i < n; i++) {
        const char *dot = strchr(before[i].name, '.');
        if (!strcmp(before[i].name, l->from) || (dot && !strcmp(dot + 1, l->from)))
            return TM_OK;
        strncat(earlier, i ? ", " : "", sizeof earlier - strlen(earlier) - 1);
        strncat(earlier, dot ? dot + 1 : before[i].name, sizeof earlier - strlen(earlier) - 1);
    }
    ctx c = {r->label, at};
    char msg[440];
    snprintf(msg, sizeof msg, "no earlier layer of this branch is called '%s' (%s%s)", l->from,
             n ? "the earlier ones: " : "this is the branch's first layer", earlier);
    return bad(&c, "%s", msg);
}

static tm_status interpret_sections(tm_experiment *e, raw_ini *r, const int *dup_sec,
                                    const int *dup_key)
{
    int saw_fusion = 0;
    for (int si = 0; si < r->ns; si++) {
        const section *s = &r->s[si];
        if (dup_sec[si] >= 0) {
            char why[200];
            snprintf(why, sizeof why, "declared twice (first at line %d)",
                     r->s[dup_sec[si]].line);
            return section_error(r->label, s, why);
        }
        const char *name = s->name;
        const char *dot = strchr(name, '.');
        int branch = -1;
        tm_layer_spec *layer = NULL;
        const tm_layer_spec *layers_before = NULL; /* the chain's layers before `layer` */
        int n_before = 0;
        enum { S_EXP, S_DATA, S_TRAIN, S_FUSION, S_BRANCH, S_LAYER } kind;
        if (!strcmp(name, "experiment"))
            kind = S_EXP;
        else if (!strcmp(name, "data"))
            kind = S_DATA;
        else if (!strcmp(name, "train"))
            kind = S_TRAIN;
        else if (!strcmp(name, "fusion")) {
            kind = S_FUSION;
            saw_fusion = 1;
        } else if (!dot) {
            if (!strcmp(name, "head"))
                return section_error(r->label, s, "head layers are sections [head.<name>]");
            if (!name[0] || strlen(name) >= TM_LAYER_NAME - 16)
                return section_error(r->label, s, "a branch needs a short non-empty name");
            if (e->model.n_branches == TM_MAX_BRANCHES)
                return section_error(r->label, s, "too many branches (at most 4)");
            kind = S_BRANCH;
            branch = e->model.n_branches++;
            tm_branch_spec *bs = &e->model.branches[branch];
            snprintf(bs->name, sizeof bs->name, "%s", name);
            snprintf(e->modality[branch], sizeof e->modality[branch], "%s", name);
            feature_defaults(&e->features[branch], name);
            bs->line = s->line;
        } else {
            kind = S_LAYER;
            char owner[128];
            snprintf(owner, sizeof owner, "%.*s", (int)(dot - name), name);
            if (strlen(name) >= TM_LAYER_NAME)
                return section_error(r->label, s, "layer name too long");
            /* The layer's type decides which keys it takes: read it first. */
            const entry *type = NULL;
            for (int j = r->first[si]; j >= 0; j = r->next[j])
                if (!strcmp(r->e[j].key, "type"))
                    type = &r->e[j];
            const char *types = tm_layer_kind_list();
            if (!type) {
                char why[320];
                snprintf(why, sizeof why, "a layer needs a type (%s)", types);
                return section_error(r->label, s, why);
            }
            int k = tm_layer_kind_parse(type->value);
            if (k < 0) {
                ctx c = {r->label, type};
                char near[64], hint[96] = "";
                if (tm_suggest_in_list(type->value, types, near, sizeof near))
                    snprintf(hint, sizeof hint, "did you mean '%s'? ", near);
                char msg[256];
                snprintf(msg, sizeof msg, "unknown layer type (%s%s)", hint, types);
                return bad(&c, "%s", msg);
            }
            if (!strcmp(owner, "head")) {
                if (!saw_fusion && e->model.n_branches > 1)
                    return section_error(r->label, s, "head layers come after [fusion]");
                TM_TRY(add_layer(&e->model.head, &e->model.n_head, name, s->line, k));
                layer = &e->model.head[e->model.n_head - 1];
                layers_before = e->model.head;
                n_before = e->model.n_head - 1;
            } else {
                int b = find_branch(e, owner);
                if (b < 0) {
                    char why[300];
                    snprintf(why, sizeof why, "no branch [%s] declared before this layer", owner);
                    return section_error(r->label, s, why);
                }
                tm_branch_spec *bs = &e->model.branches[b];
                TM_TRY(add_layer(&bs->layers, &bs->n_layers, name, s->line, k));
                layer = &bs->layers[bs->n_layers - 1];
                layers_before = bs->layers;
                n_before = bs->n_layers - 1;
            }
        }
        int saw_input = 0;
        for (int j = r->first[si]; j >= 0; j = r->next[j]) {
            if (dup_key[j] >= 0)
                return tm_error(TM_ERR_CONFIG, "%s:%d: [%s] key '%s' given twice (first at line "
                                               "%d)",
                                r->label, r->e[j].line, r->e[j].section, r->e[j].key,
                                r->e[dup_key[j]].line);
            ctx c = {r->label, &r->e[j]};
            switch (kind) {
            case S_EXP: TM_TRY(experiment_key(e, &c)); break;
            case S_DATA: TM_TRY(data_key(e, &c)); break;
            case S_TRAIN: TM_TRY(train_key(e, &c)); break;
            case S_FUSION: TM_TRY(fusion_key(e, &c)); break;
            case S_BRANCH:
                saw_input |= !strcmp(r->e[j].key, "input");
                TM_TRY(branch_key(e, branch, &c));
                break;
            case S_LAYER: TM_TRY(layer_key(layer, &c)); break;
            }
        }
        if (kind == S_BRANCH && !saw_input)
            return section_error(r->label, s, "a branch needs input = CxHxW");
        if (kind == S_BRANCH)
            TM_TRY(branch_unused_keys(&e->features[branch], r, si));
        if (layer && layer->kind == TM_LAYER_ADD)
            TM_TRY(check_from(r, si, layer, layers_before, n_before));
        if (layer && (layer->kind == TM_LAYER_CONV || layer->kind == TM_LAYER_SEPARABLE ||
                      layer->kind == TM_LAYER_DENSE) &&
            layer->filters == 0)
            return section_error(r->label, s,
                                 layer->kind == TM_LAYER_DENSE ? "dense needs units"
                                                               : "needs filters");
    }
    for (int b = 0; b < e->model.n_branches; b++)
        TM_TRY(feature_finish(e, b, r->label));
    e->train.schedule.total_epochs = e->train.epochs;
    tm_status ss = tm_schedule_check(&e->train.schedule);
    if (ss != TM_OK)
        return tm_error_prefix(ss, "%s: [train] ", r->label);
    if (e->model.n_branches == 0)
        return tm_error(TM_ERR_CONFIG, "%s: no branch declared (a section such as [image] with "
                                       "input = 1x28x28)",
                        r->label);
    if (e->model.n_branches > 1 && !saw_fusion)
        return tm_error(TM_ERR_CONFIG, "%s: %d branches but no [fusion] section", r->label,
                        e->model.n_branches);
    if (e->model.n_head == 0)
        return tm_error(TM_ERR_CONFIG, "%s: no head layers (add e.g. [head.out] type = dense, "
                                       "units = classes)",
                        r->label);
    return e->branch[0] ? keep_only_branch(e, r) : TM_OK;
}

/* Adds an empty section at the front, so that a key can be set in it. */
static tm_status add_section_first(raw_ini *r, const char *name)
{
    for (int i = 0; i < r->ns; i++)
        if (!strcmp(r->s[i].name, name))
            return TM_OK;
    if (!grow((void **)&r->s, &r->caps, r->ns, sizeof *r->s))
        return tm_error(TM_ERR_NOMEM, "experiment: out of memory");
    memmove(r->s + 1, r->s, sizeof *r->s * (size_t)r->ns);
    r->ns++;
    for (int i = 0; i < r->n; i++)
        r->e[i].sec += r->e[i].sec >= 0;
    snprintf(r->s[0].name, sizeof r->s[0].name, "%s", name);
    r->s[0].line = 0;
    return TM_OK;
}

/* branch: NULL, or the [experiment] branch to set after the overrides. */
static tm_status parse(tm_experiment *e, const char *text, const char *label,
                       const char *const *overrides, int n_overrides, const char *branch)
{
    memset(e, 0, sizeof *e);
    defaults(e);
    snprintf(e->path, sizeof e->path, "%s", label);
    snprintf(e->model.source, sizeof e->model.source, "%s", label);
    const char *base = strrchr(label, '/');
    base = base ? base + 1 : label;
    snprintf(e->name, sizeof e->name, "%.*s", (int)strcspn(base, "."), base);
    raw_ini r;
    memset(&r, 0, sizeof r);
    r.label = label;
    r.text = text;
    int rc = ini_parse_stream(read_line, &r, on_key, &r);
    tm_status s = TM_OK;
    /* the first of the lines inih cannot read, in file order */
    int at = 0;
    if (r.too_long)
        at = r.too_long;
    if (r.sec_too_long && (!at || r.sec_too_long < at))
        at = r.sec_too_long;
    if (rc > 0 && (!at || rc < at))
        at = rc;
    if (r.status != TM_OK)
        s = r.status;
    else if (rc < 0)
        s = tm_error(TM_ERR_NOMEM, "%s: out of memory while parsing", label);
    else if (at && at == r.sec_too_long)
        s = tm_error(TM_ERR_CONFIG, "%s:%d: section name too long (max %d characters)", label,
                     at, SECTION_MAX);
    else if (at && at == r.too_long)
        s = tm_error(TM_ERR_CONFIG, "%s:%d: line too long (max %d characters)", label, at,
                     r.max_line);
    else if (at)
        s = tm_error(TM_ERR_CONFIG, "%s:%d: not valid INI syntax (expected [section] or key = "
                                    "value)",
                     label, at);
    for (int i = 0; s == TM_OK && i < r.n; i++)
        if (r.e[i].sec < 0)
            s = tm_error(TM_ERR_CONFIG, "%s:%d: key '%s' outside of any section", label,
                         r.e[i].line, r.e[i].key);
    for (int i = 0; s == TM_OK && i < n_overrides; i++)
        s = apply_override(&r, overrides[i]);
    if (s == TM_OK && branch) {
        char ov[TM_LAYER_NAME + 32];
        snprintf(ov, sizeof ov, "experiment.branch=%s", branch);
        s = add_section_first(&r, "experiment");
        if (s == TM_OK)
            s = apply_override(&r, ov);
    }
    if (s == TM_OK)
        s = index_sections(&r);
    if (s == TM_OK)
        s = interpret(e, &r);
    if (s == TM_OK)
        s = render(&r, &e->text);
    raw_free(&r);
    if (s != TM_OK)
        tm_experiment_free(e);
    return s;
}

tm_status tm_experiment_parse(tm_experiment *e, const char *text, const char *label,
                              const char *const *overrides, int n_overrides)
{
    return parse(e, text, label, overrides, n_overrides, NULL);
}

tm_status tm_experiment_single_branch(tm_experiment *dst, const tm_experiment *src,
                                      const char *branch)
{
    if (!src->text)
        return tm_error(TM_ERR_ARG, "%s: no experiment text to derive the '%s' ablation from",
                        src->path, branch);
    return parse(dst, src->text, src->path, NULL, 0, branch);
}

tm_status tm_experiment_load(tm_experiment *e, const char *path, const char *const *overrides,
                             int n_overrides)
{
    memset(e, 0, sizeof *e);
    FILE *f = fopen(path, "rb");
    if (!f)
        return tm_error(TM_ERR_IO, "%s: cannot open experiment file: %s", path, strerror(errno));
    char *text = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (cap - n < 4096) {
            cap = cap ? cap * 2 : 8192;
            if (cap > (size_t)16 << 20) {
                free(text);
                fclose(f);
                return tm_error(TM_ERR_FORMAT, "%s: larger than 16 MiB, not an experiment file",
                                path);
            }
            char *p = realloc(text, cap);
            if (!p) {
                free(text);
                fclose(f);
                return tm_error(TM_ERR_NOMEM, "%s: out of memory", path);
            }
            text = p;
        }
        size_t got = fread(text + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(text);
        return tm_error(TM_ERR_IO, "%s: read error", path);
    }
    text[n] = '\0';
    if (strlen(text) != n) {
        free(text);
        return tm_error(TM_ERR_FORMAT, "%s: contains a NUL byte, not a text experiment file",
                        path);
    }
    tm_status s = tm_experiment_parse(e, text, path, overrides, n_overrides);
    free(text);
    return s;
}

void tm_experiment_free(tm_experiment *e)
{
    free(e->text);
    e->text = NULL;
    tm_model_spec_free(&e->model);
}

void tm_experiment_set_classes(tm_experiment *e, int n_classes)
{
    e->model.n_classes = n_classes;
    for (int b = 0; b < e->model.n_branches; b++)
        for (int i = 0; i < e->model.branches[b].n_layers; i++)
            if (e->model.branches[b].layers[i].filters == -1)
                e->model.branches[b].layers[i].filters = n_classes;
    for (int i = 0; i < e->model.n_head; i++)
        if (e->model.head[i].filters == -1)
            e->model.head[i].filters = n_classes;
}
