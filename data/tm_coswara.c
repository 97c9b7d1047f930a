#define _XOPEN_SOURCE 700 /* realpath */
#include "tm_coswara.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sndfile.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tm_audio.h"
#include "tm_csv.h"
#include "tm_fault.h"
#include "tm_fs.h"
#include "tm_manifest.h"

const char *const tm_coswara_recordings[TM_COSWARA_N_RECORDINGS] = {
    "cough-heavy",     "cough-shallow", "breathing-deep", "breathing-shallow", "counting-normal",
    "counting-fast",   "vowel-a",       "vowel-e",        "vowel-o"};

static const char *const reason_text[TM_COSWARA_N_REASONS] = {
    "no recordings folder", "missing recording", "empty recording", "unreadable recording"};

int tm_coswara_recording_index(const char *name)
{
    for (int i = 0; name && i < TM_COSWARA_N_RECORDINGS; i++)
        if (!strcmp(name, tm_coswara_recordings[i]))
            return i;
    return -1;
}

const char *tm_coswara_label(const char *st)
{
    if (!st)
        return NULL;
    if (!strcmp(st, "positive_mild") || !strcmp(st, "positive_moderate") ||
        !strcmp(st, "positive_asymp"))
        return "positive";
    if (!strcmp(st, "healthy"))
        return "negative";
    return NULL;
}

static const char valid_list[] = "cough-heavy, cough-shallow, breathing-deep, breathing-shallow, "
                                 "counting-normal, counting-fast, vowel-a, vowel-e, vowel-o";

tm_status tm_coswara_parse_branch(const char *spec, tm_coswara_branch *out)
{
    if (!spec || !out)
        return tm_error(TM_ERR_ARG, "branch: NULL argument");
    memset(out, 0, sizeof *out);
    const char *eq = strchr(spec, '=');
    if (!eq)
        return tm_error(TM_ERR_ARG, "branch '%s': expected NAME=RECORDING[,RECORDING...]", spec);
    size_t nl = (size_t)(eq - spec);
    if (nl == 0 || nl >= TM_NAME_LEN)
        return tm_error(TM_ERR_ARG, "branch '%s': the name must have 1 to %d characters", spec,
                        TM_NAME_LEN - 1);
    for (size_t i = 0; i < nl; i++) {
        char c = spec[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return tm_error(TM_ERR_ARG,
                            "branch '%s': the name may only hold letters, digits, '_' and '-'",
                            spec);
    }
    memcpy(out->name, spec, nl);
    if (!strcmp(out->name, "label") || !strcmp(out->name, "participant"))
        return tm_error(TM_ERR_ARG, "branch '%s': '%s' is a column the manifest already has", spec,
                        out->name);
    const char *p = eq + 1;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char rec[64];
        if (len == 0)
            return tm_error(TM_ERR_ARG, "branch '%s': empty recording name (valid: %s)", spec,
                            valid_list);
        snprintf(rec, sizeof rec, "%.*s", (int)(len < 63 ? len : 63), p);
        int k = len < 63 ? tm_coswara_recording_index(rec) : -1;
        if (k < 0)
            return tm_error(TM_ERR_ARG, "branch '%s': unknown recording '%.*s' (valid: %s)", spec,
                            (int)len, p, valid_list);
        for (int j = 0; j < out->n_choices; j++)
            if (out->choice[j] == k)
                return tm_error(TM_ERR_ARG, "branch '%s': recording '%s' is listed twice", spec,
                                rec);
        out->choice[out->n_choices++] = k;
        if (!end)
            break;
        p = end + 1;
    }
    return TM_OK;
}

/* ---- scanning ------------------------------------------------------------ */

typedef struct folder {
    char *id;
    char *date;
} folder;

typedef struct csv_id {
    const char *id;
    int row;
} csv_id;

static int folder_cmp(const void *a, const void *b)
{
    const folder *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : strcmp(x->date, y->date);
}

static int csv_id_cmp(const void *a, const void *b)
{
    const csv_id *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : (x->row > y->row) - (x->row < y->row);
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of the sub-folders of dir (hidden ones left out). */
static tm_status list_dirs(const char *dir, char ***names, int *n)
{
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return tm_error(TM_ERR_IO, "%s: cannot open folder: %s", dir, strerror(errno));
    int cap = 0;
    tm_status s = TM_OK;
    struct dirent *e;
    char path[PATH_MAX];
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path || !is_dir(path))
            continue;
        if (*n == cap) {
            int nc = cap ? cap * 2 : 64;
            char **nn = realloc(*names, (size_t)nc * sizeof *nn);
            if (!nn) {
                s = tm_error(TM_ERR_NOMEM, "%s: out of memory listing folders", dir);
                break;
            }
            *names = nn;
            cap = nc;
        }
        if (!((*names)[*n] = strdup(e->d_name))) {
            s = tm_error(TM_ERR_NOMEM, "%s: out of memory listing folders", dir);
            break;
        }
        ++*n;
    }
    closedir(d);
    if (s == TM_OK && *n > 1)
        qsort(*names, (size_t)*n, sizeof **names, name_cmp);
    return s;
}

static void free_names(char **names, int n)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Every Extracted_data/<date>/<id>/ folder, sorted by id then date. */
static tm_status walk_extracted(const char *extracted, folder **out, int *n_out)
{
    *out = NULL;
    *n_out = 0;
    char **dates = NULL;
    int nd = 0, cap = 0, n = 0;
    folder *f = NULL;
    TM_TRY(list_dirs(extracted, &dates, &nd));
    tm_status s = TM_OK;
    char dpath[PATH_MAX];
    for (int i = 0; i < nd && s == TM_OK; i++) {
        if (snprintf(dpath, sizeof dpath, "%s/%s", extracted, dates[i]) >= (int)sizeof dpath) {
            s = tm_error(TM_ERR_ARG, "%s/%s: path too long", extracted, dates[i]);
            break;
        }
        char **ids = NULL;
        int ni = 0;
        if ((s = list_dirs(dpath, &ids, &ni)) != TM_OK)
            break;
        for (int j = 0; j < ni && s == TM_OK; j++) {
            if (n == cap) {
                int nc = cap ? cap * 2 : 1024;
                folder *nf = realloc(f, (size_t)nc * sizeof *nf);
                if (!nf) {
                    s = tm_error(TM_ERR_NOMEM, "%s: out of memory", extracted);
                    break;
                }
                f = nf;
                cap = nc;
            }
            f[n].id = ids[j];
            ids[j] = NULL;
            f[n].date = strdup(dates[i]);
            n++;
            if (!f[n - 1].date)
                s = tm_error(TM_ERR_NOMEM, "%s: out of memory", extracted);
        }
        free_names(ids, ni);
    }
    free_names(dates, nd);
    if (n > 1)
        qsort(f, (size_t)n, sizeof *f, folder_cmp);
    *out = f;
    *n_out = n;
    return s;
}

static void free_folders(folder *f, int n)
{
    for (int i = 0; i < n; i++) {
        free(f[i].id);
        free(f[i].date);
    }
    free(f);
}

static void add_example(char (*ex)[512], int count_before, const char *text)
{
    if (count_before < TM_COSWARA_EXAMPLES)
        snprintf(ex[count_before], 512, "%s", text);
}

static tm_status count_status(tm_coswara_report *r, const char *status)
{
    r->excluded++;
    for (int i = 0; i < r->n_statuses; i++)
        if (!strncmp(r->statuses[i].status, status, TM_NAME_LEN - 1)) {
            r->statuses[i].count++;
            return TM_OK;
        }
    tm_coswara_status_count *ns =
        realloc(r->statuses, (size_t)(r->n_statuses + 1) * sizeof *ns);
    if (!ns)
        return tm_error(TM_ERR_NOMEM, "coswara: out of memory counting statuses");
    r->statuses = ns;
    snprintf(ns[r->n_statuses].status, TM_NAME_LEN, "%s", status);
    ns[r->n_statuses].count = 1;
    r->n_statuses++;
    return TM_OK;
}

static int status_cmp(const void *a, const void *b)
{
    const tm_coswara_status_count *x = a, *y = b;
    if (x->count != y->count)
        return y->count - x->count;
    return strcmp(x->status, y->status);
}

/* Whether one recording file is usable; on failure the reason and a short
 * detail ("" when the reason says it all). */
static int check_file(const char *path, int decode, tm_coswara_reason *why, char *detail,
                      size_t dn)
{
    detail[0] = '\0';
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR) {
            *why = TM_COSWARA_MISSING;
        } else {
            *why = TM_COSWARA_UNREADABLE;
            snprintf(detail, dn, "%s", strerror(errno));
        }
        return 0;
    }
    if (!S_ISREG(st.st_mode)) {
        *why = TM_COSWARA_UNREADABLE;
        snprintf(detail, dn, "not a regular file");
        return 0;
    }
    if (st.st_size == 0) {
        *why = TM_COSWARA_EMPTY;
        snprintf(detail, dn, "0 bytes");
        return 0;
    }
    if (!decode)
        return 1;
    SF_INFO info;
    memset(&info, 0, sizeof info);
    SNDFILE *sf = sf_open(path, SFM_READ, &info);
    if (!sf) {
        *why = TM_COSWARA_UNREADABLE;
        snprintf(detail, dn, "%s", sf_strerror(NULL));
        return 0;
    }
    sf_count_t frames = info.frames;
    sf_close(sf);
    if (frames <= 0) {
        *why = TM_COSWARA_EMPTY;
        snprintf(detail, dn, "0 frames");
        return 0;
    }
    float *x = NULL;
    size_t n = 0;
    if (tm_audio_read_all(path, &x, &n, NULL) != TM_OK) {
        *why = TM_COSWARA_UNREADABLE;
        const char *m = tm_last_error();
        size_t pl = strlen(path);
        /* the decoder's message starts with the path, which the report shows already */
        if (!strncmp(m, path, pl) && m[pl] == ':' && m[pl + 1] == ' ')
            m += pl + 2;
        snprintf(detail, dn, "%s", m);
        return 0;
    }
    free(x);
    return 1;
}

static tm_status add_row(tm_coswara_scan *s, int *cap, const char *id, int positive,
                         char paths[][PATH_MAX])
{
    if (s->n_rows == *cap) {
        int nc = *cap ? *cap * 2 : 256;
        tm_coswara_row *nr = realloc(s->rows, (size_t)nc * sizeof *nr);
        if (!nr)
            return tm_error(TM_ERR_NOMEM, "coswara: out of memory");
        s->rows = nr;
        *cap = nc;
    }
    tm_coswara_row *r = &s->rows[s->n_rows];
    memset(r, 0, sizeof *r);
    s->n_rows++;
    r->positive = positive;
    if (!(r->participant = strdup(id)))
        return tm_error(TM_ERR_NOMEM, "coswara: out of memory");
    for (int b = 0; b < s->n_branches; b++)
        if (!(r->path[b] = strdup(paths[b])))
            return tm_error(TM_ERR_NOMEM, "coswara: out of memory");
    return TM_OK;
}

static tm_status set_branches(tm_coswara_scan *s, const tm_coswara_options *o)
{
    if (!o->branches) {
        TM_TRY(tm_coswara_parse_branch("cough=cough-heavy", &s->branches[0]));
        TM_TRY(tm_coswara_parse_branch("breath=breathing-deep", &s->branches[1]));
        s->n_branches = 2;
        return TM_OK;
    }
    if (o->n_branches < 1 || o->n_branches > TM_COSWARA_MAX_BRANCHES)
        return tm_error(TM_ERR_ARG, "coswara: %d branches given, 1 to %d allowed", o->n_branches,
                        TM_COSWARA_MAX_BRANCHES);
    for (int b = 0; b < o->n_branches; b++) {
        const tm_coswara_branch *x = &o->branches[b];
        if (!x->name[0] || x->n_choices < 1 || x->n_choices > TM_COSWARA_MAX_CHOICES)
            return tm_error(TM_ERR_ARG, "coswara: branch %d has no name or no recording", b + 1);
        for (int k = 0; k < x->n_choices; k++)
            if (x->choice[k] < 0 || x->choice[k] >= TM_COSWARA_N_RECORDINGS)
                return tm_error(TM_ERR_ARG, "coswara: branch '%s' has an unknown recording",
                                x->name);
        for (int c = 0; c < b; c++)
            if (!strcmp(o->branches[c].name, x->name))
                return tm_error(TM_ERR_ARG, "coswara: branch '%s' is given twice", x->name);
        s->branches[b] = *x;
    }
    s->n_branches = o->n_branches;
    return TM_OK;
}

tm_status tm_coswara_scan_run(tm_coswara_scan *s, const char *root, const tm_coswara_options *o)
{
    if (!s)
        return tm_error(TM_ERR_ARG, "coswara: NULL scan");
    memset(s, 0, sizeof *s);
    if (!root || !root[0])
        return tm_error(TM_ERR_ARG, "coswara: no root folder given");
    tm_coswara_options defaults = {NULL, 0, TM_COSWARA_SKIP, 1};
    if (!o)
        o = &defaults;
    TM_TRY(set_branches(s, o));
    tm_coswara_report *r = &s->report;
    r->audio_checked = o->check_audio != 0;

    struct stat st;
    if (stat(root, &st) != 0)
        return tm_error(TM_ERR_IO, "Coswara root %s: %s", root, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return tm_error(TM_ERR_IO, "Coswara root %s: not a folder", root);
    char real_root[PATH_MAX], csv_path[PATH_MAX], extracted[PATH_MAX];
    if (!realpath(root, real_root))
        return tm_error(TM_ERR_IO, "Coswara root %s: %s", root, strerror(errno));
    if (snprintf(csv_path, sizeof csv_path, "%s/combined_data.csv", real_root) >= PATH_MAX ||
        snprintf(extracted, sizeof extracted, "%s/Extracted_data", real_root) >= PATH_MAX)
        return tm_error(TM_ERR_ARG, "Coswara root %s: path too long", root);
    if (access(csv_path, F_OK) != 0)
        return tm_error(TM_ERR_IO,
                        "%s: missing (the Coswara root must hold combined_data.csv and "
                        "Extracted_data/)",
                        csv_path);
    if (!is_dir(extracted))
        return tm_error(TM_ERR_IO,
                        "%s: missing (unpack the per-date archives first, see docs/coswara.md)",
                        extracted);

    tm_manifest m;
    memset(&m, 0, sizeof m);
    TM_TRY(tm_manifest_load(&m, csv_path));
    folder *f = NULL;
    csv_id *ids = NULL;
    int nf = 0, cap = 0;
    tm_status rs = TM_OK;
    int c_id = tm_manifest_column(&m, "id");
    int c_st = tm_manifest_column(&m, "covid_status");
    if (c_id < 0 || c_st < 0) {
        rs = tm_error(TM_ERR_FORMAT, "%s: no column '%s' in the header", csv_path,
                      c_id < 0 ? "id" : "covid_status");
        goto done;
    }
    r->participants = m.n_rows;

    /* Duplicate or empty ids would make labels ambiguous. */
    if (m.n_rows > 0 && !(ids = malloc((size_t)m.n_rows * sizeof *ids))) {
        rs = tm_error(TM_ERR_NOMEM, "%s: out of memory", csv_path);
        goto done;
    }
    for (int i = 0; i < m.n_rows; i++) {
        ids[i].id = tm_manifest_cell(&m, i, c_id);
        ids[i].row = i;
        if (!ids[i].id[0]) {
            rs = tm_error(TM_ERR_FORMAT, "%s:%d: empty participant id", csv_path, m.line[i]);
            goto done;
        }
    }
    if (m.n_rows > 1)
        qsort(ids, (size_t)m.n_rows, sizeof *ids, csv_id_cmp);
    for (int i = 1; i < m.n_rows; i++)
        if (!strcmp(ids[i].id, ids[i - 1].id)) {
            rs = tm_error(TM_ERR_FORMAT, "%s:%d: participant '%s' appears again (first at line %d)",
                          csv_path, m.line[ids[i].row], ids[i].id, m.line[ids[i - 1].row]);
            goto done;
        }

    if ((rs = walk_extracted(extracted, &f, &nf)) != TM_OK)
        goto done;
    /* Keep each participant's earliest date folder; count the others. */
    int w = 0, counted = 0;
    for (int i = 0; i < nf; i++) {
        if (w > 0 && !strcmp(f[i].id, f[w - 1].id)) {
            r->duplicate_folders += !counted;
            counted = 1;
            free(f[i].id);
            free(f[i].date);
            continue;
        }
        counted = 0;
        f[w++] = f[i];
    }
    nf = w;
    r->folders = nf;
    for (int i = 0; i < nf; i++) {
        csv_id key = {f[i].id, -1};
        int lo = 0, hi = m.n_rows;
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            if (strcmp(ids[mid].id, key.id) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo >= m.n_rows || strcmp(ids[lo].id, key.id)) {
            char ex[512];
            snprintf(ex, sizeof ex, "Extracted_data/%s/%s", f[i].date, f[i].id);
            add_example(r->orphan_example, r->orphan_folders, ex);
            r->orphan_folders++;
        }
    }

    char paths[TM_COSWARA_MAX_BRANCHES][PATH_MAX];
    for (int i = 0; i < m.n_rows; i++) {
        const char *id = tm_manifest_cell(&m, i, c_id);
        const char *status = tm_manifest_cell(&m, i, c_st);
        const char *label = tm_coswara_label(status);
        if (!label) {
            if ((rs = count_status(r, status)) != TM_OK)
                goto done;
            continue;
        }
        folder key = {(char *)id, NULL};
        int lo = 0, hi = nf;
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            if (strcmp(f[mid].id, key.id) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo >= nf || strcmp(f[lo].id, id)) {
            add_example(r->example[TM_COSWARA_NO_FOLDER], r->dropped[TM_COSWARA_NO_FOLDER], id);
            r->dropped[TM_COSWARA_NO_FOLDER]++;
            continue;
        }
        const folder *pf = &f[lo];
        int ok = 1, fell_back = 0;
        for (int b = 0; b < s->n_branches && ok; b++) {
            const tm_coswara_branch *br = &s->branches[b];
            tm_coswara_reason why0 = TM_COSWARA_MISSING;
            char detail0[400] = "", rel0[300] = "";
            int found = 0;
            for (int k = 0; k < br->n_choices && !found; k++) {
                const char *rec = tm_coswara_recordings[br->choice[k]];
                char rel[300], detail[400];
                tm_coswara_reason why;
                snprintf(rel, sizeof rel, "Extracted_data/%.40s/%.200s/%s.wav", pf->date, pf->id,
                         rec);
                if (snprintf(paths[b], PATH_MAX, "%s/Extracted_data/%s/%s/%s.wav", real_root,
                             pf->date, pf->id, rec) >= PATH_MAX) {
                    rs = tm_error(TM_ERR_ARG, "%s/%s: path too long", real_root, rel);
                    goto done;
                }
                if (check_file(paths[b], o->check_audio, &why, detail, sizeof detail)) {
                    found = 1;
                    fell_back |= k > 0;
                } else if (k == 0) {
                    why0 = why;
                    snprintf(detail0, sizeof detail0, "%s", detail);
                    snprintf(rel0, sizeof rel0, "%s", rel);
                }
            }
            if (found)
                continue;
            ok = 0;
            if (o->on_missing == TM_COSWARA_FAIL) {
                rs = tm_error(why0 == TM_COSWARA_MISSING ? TM_ERR_IO : TM_ERR_FORMAT,
                              "%s/%s: %s%s%s (participant %s, branch %s%s)", real_root, rel0,
                              reason_text[why0], detail0[0] ? ": " : "", detail0, id, br->name,
                              br->n_choices > 1 ? ", and no other listed recording is usable"
                                                : "");
                goto done;
            }
            char ex[512];
            snprintf(ex, sizeof ex, "%s%s%.200s", rel0, detail0[0] ? ": " : "", detail0);
            add_example(r->example[why0], r->dropped[why0], ex);
            r->dropped[why0]++;
        }
        if (!ok)
            continue;
        if ((rs = add_row(s, &cap, id, label[0] == 'p', paths)) != TM_OK)
            goto done;
        r->kept++;
        if (label[0] == 'p')
            r->positive++;
        else
            r->negative++;
        r->fallbacks += fell_back;
    }

done:
    if (r->n_statuses > 1)
        qsort(r->statuses, (size_t)r->n_statuses, sizeof *r->statuses, status_cmp);
    free(ids);
    free_folders(f, nf);
    tm_manifest_free(&m);
    return rs;
}

void tm_coswara_scan_free(tm_coswara_scan *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->n_rows; i++) {
        free(s->rows[i].participant);
        for (int b = 0; b < TM_COSWARA_MAX_BRANCHES; b++)
            free(s->rows[i].path[b]);
    }
    free(s->rows);
    free(s->report.statuses);
    memset(s, 0, sizeof *s);
}

/* ---- writing -------------------------------------------------------------- */

tm_status tm_coswara_relative_path(const char *dir, const char *path, char *buf, size_t n)
{
    if (!dir || !path || dir[0] != '/' || path[0] != '/')
        return tm_error(TM_ERR_ARG, "relative path: '%s' and '%s' must both be absolute",
                        dir ? dir : "(null)", path ? path : "(null)");
    /* Walk both paths component by component to find the shared folders. */
    const char *a = dir, *b = path;
    const char *rest_a = dir, *rest_b = path;
    int shared = 0;
    for (;;) {
        while (*a == '/')
            a++;
        while (*b == '/')
            b++;
        size_t la = strcspn(a, "/"), lb = strcspn(b, "/");
        if (la == 0 || la != lb || memcmp(a, b, la) || b[lb] == '\0')
            break;
        a += la;
        b += lb;
        rest_a = a;
        rest_b = b;
        shared++;
    }
    if (shared == 0) {
        if ((size_t)snprintf(buf, n, "%s", path) >= n)
            return tm_error(TM_ERR_ARG, "%s: path too long", path);
        return TM_OK;
    }
    size_t used = 0;
    buf[0] = '\0';
    for (const char *p = rest_a;;) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        if (used + 3 >= n)
            return tm_error(TM_ERR_ARG, "%s: relative path too long", path);
        memcpy(buf + used, "../", 3);
        used += 3;
        buf[used] = '\0';
        p += strcspn(p, "/");
    }
    while (*rest_b == '/')
        rest_b++;
    if ((size_t)snprintf(buf + used, n - used, "%s", rest_b) >= n - used)
        return tm_error(TM_ERR_ARG, "%s: relative path too long", path);
    return TM_OK;
}

static tm_status write_rows(const tm_coswara_scan *s, FILE *f, const char *dir, const char *tmp,
                            const unsigned char *keep, int want)
{
    tm_csv w;
    tm_csv_init(&w, f);
    for (int b = 0; b < s->n_branches; b++)
        tm_csv_str(&w, s->branches[b].name);
    tm_csv_str(&w, "label");
    tm_csv_str(&w, "participant");
    tm_csv_end(&w);
    char rel[PATH_MAX];
    for (int i = 0; i < s->n_rows && !tm_csv_failed(&w); i++) {
        const tm_coswara_row *r = &s->rows[i];
        if (keep && keep[i] != want)
            continue;
        for (int b = 0; b < s->n_branches; b++) {
            TM_TRY(tm_coswara_relative_path(dir, r->path[b], rel, sizeof rel));
            tm_csv_str(&w, rel);
        }
        tm_csv_str(&w, r->positive ? "positive" : "negative");
        tm_csv_str(&w, r->participant);
        tm_csv_end(&w);
    }
    if (tm_csv_failed(&w) || fflush(f) != 0)
        return tm_error(TM_ERR_IO, "%s: write failed: %s", tmp, strerror(errno));
    if (fsync(fileno(f)) != 0)
        return tm_error(TM_ERR_IO, "%s: fsync failed: %s", tmp, strerror(errno));
    return TM_OK;
}

tm_status tm_coswara_write_manifest(const tm_coswara_scan *s, const char *path, int force)
{
    return tm_coswara_write_rows(s, path, force, NULL, 0);
}

tm_status tm_coswara_write_rows(const tm_coswara_scan *s, const char *path, int force,
                                const unsigned char *keep, int want)
{
    if (!s || !path || !path[0])
        return tm_error(TM_ERR_ARG, "coswara manifest: no output path");
    int rows = 0;
    for (int i = 0; i < s->n_rows; i++)
        rows += !keep || keep[i] == want;
    if (s->n_rows == 0)
        return tm_error(TM_ERR_FORMAT,
                        "%s: not written: no participant has a positive/negative status and "
                        "usable recordings",
                        path);
    if (rows == 0)
        return tm_error(TM_ERR_FORMAT, "%s: not written: no participant falls in this set", path);
    char dir[PATH_MAX], real_dir[PATH_MAX], tmp[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    const char *base = slash ? slash + 1 : path;
    if (!base[0])
        return tm_error(TM_ERR_ARG, "%s: the output must be a file name, not a folder", path);
    if (!realpath(dir, real_dir))
        return tm_error(TM_ERR_IO, "%s: output folder %s: %s", path, dir, strerror(errno));
    if (!is_dir(real_dir))
        return tm_error(TM_ERR_IO, "%s: output folder %s: not a folder", path, dir);
    struct stat st;
    if (!force && lstat(path, &st) == 0)
        return tm_error(TM_ERR_IO, "%s: already exists; not overwritten without force", path);
    if (force && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return tm_error(TM_ERR_IO, "%s: is a folder", path);
    if (snprintf(tmp, sizeof tmp, "%s/.%s.tmp-XXXXXX", dir, base) >= (int)sizeof tmp)
        return tm_error(TM_ERR_ARG, "%s: path too long", path);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return tm_error(TM_ERR_IO, "%s: cannot create a temporary file in %s: %s", path, dir,
                        strerror(errno));
    (void)fchmod(fd, 0644);
    FILE *f = fdopen(fd, "w");
    if (!f) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return tm_error(TM_ERR_IO, "%s: %s", tmp, strerror(e));
    }
    tm_status rs = write_rows(s, f, real_dir, tmp, keep, want);
    if (fclose(f) != 0 && rs == TM_OK)
        rs = tm_error(TM_ERR_IO, "%s: close failed: %s", tmp, strerror(errno));
    if (rs == TM_OK) {
        if (force) {
            if (tm_rename(tmp, path) != 0)
                rs = tm_error(TM_ERR_IO, "%s: cannot rename %s into place: %s", path, tmp,
                              strerror(errno));
        } else if (link(tmp, path) != 0) {
            /* link() never replaces a file, so a file that appeared since
             * the check above is not lost either. */
            int e = errno;
            if (e == EEXIST)
                rs = tm_error(TM_ERR_IO, "%s: already exists; not overwritten without force", path);
            else if ((e == EPERM || e == ENOTSUP || e == ENOSYS || e == EXDEV) &&
                     lstat(path, &st) != 0) {
                if (tm_rename(tmp, path) != 0)
                    rs = tm_error(TM_ERR_IO, "%s: cannot rename %s into place: %s", path, tmp,
                                  strerror(errno));
            } else {
                rs = tm_error(TM_ERR_IO, "%s: cannot move %s into place: %s", path, tmp,
                              strerror(e));
            }
        }
    }
    unlink(tmp); /* after link() both names exist; after rename() this is a no-op */
    if (rs == TM_OK)
        tm_fsync_path(real_dir);
    return rs;
}

/* ---- report ---------------------------------------------------------------- */

void tm_coswara_print_report(const tm_coswara_scan *s, FILE *f)
{
    if (!s || !f)
        return;
    const tm_coswara_report *r = &s->report;
    fprintf(f, "participants read (combined_data.csv): %d\n", r->participants);
    fprintf(f, "recording folders (Extracted_data/<date>/<id>): %d\n", r->folders);
    fprintf(f, "kept: %d (positive %d, negative %d)\n", r->kept, r->positive, r->negative);
    if (r->fallbacks)
        fprintf(f, "  %d of them with a later recording choice of a branch\n", r->fallbacks);
    fprintf(f, "left out by covid_status: %d\n", r->excluded);
    for (int i = 0; i < r->n_statuses; i++)
        fprintf(f, "  %-30s %d\n", r->statuses[i].status[0] ? r->statuses[i].status : "(empty)",
                r->statuses[i].count);
    int total = 0;
    for (int k = 0; k < TM_COSWARA_N_REASONS; k++)
        total += r->dropped[k];
    fprintf(f, "dropped (labelled, but no usable recordings): %d\n", total);
    for (int k = 0; k < TM_COSWARA_N_REASONS; k++) {
        if (k == TM_COSWARA_UNREADABLE && !r->audio_checked) {
            fprintf(f, "  %-30s not checked (decoding turned off, --no-check-audio)\n",
                    reason_text[k]);
            continue;
        }
        fprintf(f, "  %-30s %d\n", reason_text[k], r->dropped[k]);
        for (int e = 0; e < r->dropped[k] && e < TM_COSWARA_EXAMPLES; e++)
            fprintf(f, "      %s\n", r->example[k][e]);
        if (r->dropped[k] > TM_COSWARA_EXAMPLES)
            fprintf(f, "      ... and %d more\n", r->dropped[k] - TM_COSWARA_EXAMPLES);
    }
    fprintf(f, "folders with no row in combined_data.csv: %d\n", r->orphan_folders);
    for (int e = 0; e < r->orphan_folders && e < TM_COSWARA_EXAMPLES; e++)
        fprintf(f, "      %s\n", r->orphan_example[e]);
    if (r->orphan_folders > TM_COSWARA_EXAMPLES)
        fprintf(f, "      ... and %d more\n", r->orphan_folders - TM_COSWARA_EXAMPLES);
    if (r->duplicate_folders)
        fprintf(f, "participants with folders under several dates (earliest used): %d\n",
                r->duplicate_folders);
}
