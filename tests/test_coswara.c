#define _XOPEN_SOURCE 700 /* realpath */
#include <dirent.h>
#include <ftw.h>
#include <limits.h>
#include <sndfile.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tm_coswara.h"
#include "tm_manifest.h"
#include "tm_test_util.h"

#define SAMPLE_NEG "0zexHIcM7tQDdnFiEj2Eb0v3g212"    /* healthy */
#define SAMPLE_EXPOSED "0Rlzhiz6bybk77wdLjxwy7yLDhg1" /* no_resp_illness_exposed */

/* ---- helpers ----------------------------------------------------------- */

/* snprintf into an array that must not truncate (using the result also
 * tells gcc the truncation is handled). */
#define PATHF(buf, ...) ck_assert(snprintf(buf, sizeof buf, __VA_ARGS__) < (int)sizeof buf)

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

static void write_text(const char *path, const char *text)
{
    write_bytes(path, text, strlen(text));
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    ck_assert_uint_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    b[n] = '\0';
    fclose(f);
    return b;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Removes a test's temporary tree (a failing test leaves it for a look). */
static void remove_tree(char *dir)
{
    ck_assert_int_eq(nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
    free(dir);
}

static void mkdirs(const char *path)
{
    char b[PATH_MAX];
    PATHF(b, "%s", path);
    for (char *p = b + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(b, 0755);
            *p = '/';
        }
    mkdir(b, 0755);
}

/* A good recording: a copy of the sample's recording of that name when the
 * shared data is there, else a short sine written with libsndfile. */
static void good_wav(const char *path, const char *name)
{
    const char *data = tm_test_data_dir();
    if (data) {
        char src[PATH_MAX];
        PATHF(src, "%s/coswara-sample/Extracted_data/20200413/" SAMPLE_NEG "/%s.wav", data, name);
        char *b = NULL;
        FILE *f = fopen(src, "rb");
        ck_assert_msg(f != NULL, "cannot read %s", src);
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        b = malloc((size_t)n);
        ck_assert_uint_eq(fread(b, 1, (size_t)n, f), (size_t)n);
        fclose(f);
        write_bytes(path, b, (size_t)n);
        free(b);
        return;
    }
    SF_INFO si;
    memset(&si, 0, sizeof si);
    si.samplerate = 16000;
    si.channels = 1;
    si.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
    SNDFILE *sf = sf_open(path, SFM_WRITE, &si);
    ck_assert_msg(sf != NULL, "cannot write %s", path);
    float x[1600];
    for (int i = 0; i < 1600; i++)
        x[i] = 0.3f * (float)((i % 40) - 20) / 20.0f;
    ck_assert_int_eq(sf_writef_float(sf, x, 1600), 1600);
    sf_close(sf);
}

/* A WAV header that declares 0 data bytes: opens, but holds no frames. */
static void zero_frame_wav(const char *path)
{
    static const unsigned char h[44] = {
        'R', 'I', 'F', 'F', 36, 0, 0, 0, 'W', 'A', 'V', 'E', 'f', 'm', 't', ' ', 16, 0, 0, 0, 1, 0,
        1, 0, 0x80, 0xBB, 0, 0, 0x00, 0x77, 0x01, 0, 2, 0, 16, 0, 'd', 'a', 't', 'a', 0, 0, 0, 0};
    write_bytes(path, h, sizeof h);
}

/* A WAV whose data chunk claims far more bytes than follow (a cut-off
 * download): libsndfile opens it, the decoder refuses it. */
static void truncated_wav(const char *path)
{
    unsigned char b[44 + 200];
    memset(b, 0, sizeof b);
    zero_frame_wav(path);
    FILE *f = fopen(path, "rb");
    ck_assert_uint_eq(fread(b, 1, 44, f), 44);
    fclose(f);
    b[40] = 0x40; /* data size 0x00010040 bytes, 200 present */
    b[42] = 0x01;
    write_bytes(path, b, sizeof b);
}

enum kind { OK, MISSING, EMPTY, ZERO, GARBAGE, TRUNC };

typedef struct person {
    const char *id, *status, *date;
    enum kind cough, breath;
    const char *date2; /* a second date folder, or NULL */
} person;

static void make_recording(const char *dir, const char *name, enum kind k)
{
    char p[PATH_MAX];
    PATHF(p, "%s/%s.wav", dir, name);
    switch (k) {
    case OK:
        good_wav(p, name);
        break;
    case MISSING:
        break;
    case EMPTY:
        write_text(p, "");
        break;
    case ZERO:
        zero_frame_wav(p);
        break;
    case GARBAGE:
        write_text(p, "this is not audio, only text pretending to be a recording");
        break;
    case TRUNC:
        truncated_wav(p);
        break;
    }
}

/* Builds root/combined_data.csv and root/Extracted_data from people; a
 * person with date NULL has no folder. Every folder also gets a good
 * cough-shallow.wav. */
static void make_tree(const char *root, const person *ps, int n, const char *orphan)
{
    char p[PATH_MAX], dir[PATH_MAX];
    mkdirs(root);
    PATHF(p, "%s/Extracted_data", root);
    mkdirs(p);
    PATHF(p, "%s/combined_data.csv", root);
    FILE *f = fopen(p, "w");
    ck_assert(f != NULL);
    fprintf(f, "id,a,covid_status,record_date,l_l\n");
    for (int i = 0; i < n; i++) {
        fprintf(f, "%s,30,%s,2020-05-01,\"Bengaluru, Urban\"\n", ps[i].id, ps[i].status);
        const char *dates[2] = {ps[i].date, ps[i].date2};
        for (int d = 0; d < 2; d++) {
            if (!dates[d])
                continue;
            PATHF(dir, "%s/Extracted_data/%s/%s", root, dates[d], ps[i].id);
            mkdirs(dir);
            make_recording(dir, "cough-heavy", ps[i].cough);
            make_recording(dir, "breathing-deep", ps[i].breath);
            make_recording(dir, "cough-shallow", OK);
        }
    }
    fclose(f);
    if (orphan) {
        PATHF(dir, "%s/Extracted_data/20200501/%s", root, orphan);
        mkdirs(dir);
        make_recording(dir, "cough-heavy", OK);
    }
}

/* The standard fake data set used by most tests below. */
static const person people[] = {
    {"p_mild", "positive_mild", "20200501", OK, OK, NULL},
    {"p_moderate", "positive_moderate", "20200501", OK, OK, NULL},
    {"p_asymp", "positive_asymp", "20200601", OK, OK, NULL},
    {"p_healthy", "healthy", "20200601", OK, OK, "20200501"},
    {"p_recovered", "recovered_full", "20200501", OK, OK, NULL},
    {"p_validation", "under_validation", "20200501", OK, OK, NULL},
    {"p_blank", "", "20200501", OK, OK, NULL},
    {"p_nofolder", "healthy", NULL, OK, OK, NULL},
    {"p_missing", "healthy", "20200501", OK, MISSING, NULL},
    {"p_empty", "positive_mild", "20200501", EMPTY, OK, NULL},
    {"p_zero", "healthy", "20200501", ZERO, OK, NULL},
    {"p_garbage", "healthy", "20200501", GARBAGE, OK, NULL},
    {"p_trunc", "healthy", "20200601", OK, TRUNC, NULL},
};
#define N_PEOPLE ((int)(sizeof people / sizeof *people))

static int status_count(const tm_coswara_report *r, const char *status)
{
    for (int i = 0; i < r->n_statuses; i++)
        if (!strcmp(r->statuses[i].status, status))
            return r->statuses[i].count;
    return 0;
}

static void check_balance(const tm_coswara_report *r)
{
    int d = 0;
    for (int k = 0; k < TM_COSWARA_N_REASONS; k++)
        d += r->dropped[k];
    ck_assert_int_eq(r->kept + r->excluded + d, r->participants);
    ck_assert_int_eq(r->positive + r->negative, r->kept);
}

static int row_of(const tm_coswara_scan *s, const char *id)
{
    for (int i = 0; i < s->n_rows; i++)
        if (!strcmp(s->rows[i].participant, id))
            return i;
    return -1;
}

static void expect_msg(const char *what)
{
    ck_assert_msg(strstr(tm_last_error(), what) != NULL, "message lacks '%s': %s", what,
                  tm_last_error());
}

/* ---- labels and paths ---------------------------------------------------- */

START_TEST(label_rule)
{
    ck_assert_str_eq(tm_coswara_label("positive_mild"), "positive");
    ck_assert_str_eq(tm_coswara_label("positive_moderate"), "positive");
    ck_assert_str_eq(tm_coswara_label("positive_asymp"), "positive");
    ck_assert_str_eq(tm_coswara_label("healthy"), "negative");
    const char *out[] = {"recovered_full", "resp_illness_not_identified",
                         "no_resp_illness_exposed", "under_validation", "", "Healthy",
                         "positive"};
    for (size_t i = 0; i < sizeof out / sizeof *out; i++)
        ck_assert_msg(tm_coswara_label(out[i]) == NULL, "'%s' must be left out", out[i]);
    ck_assert_int_eq(tm_coswara_recording_index("vowel-o"), 8);
    ck_assert_int_eq(tm_coswara_recording_index("cough"), -1);
}
END_TEST

START_TEST(relative_paths)
{
    char b[256];
    struct {
        const char *dir, *path, *want;
    } c[] = {
        {"/a/b", "/a/c/d.wav", "../c/d.wav"},
        {"/a/b", "/a/b/x.wav", "x.wav"},
        {"/a/b/c", "/a/b/c/d/e.wav", "d/e.wav"},
        {"/a/b/c/d", "/a/x.wav", "../../../x.wav"},
        {"/a/b", "/a/bc/x", "../bc/x"},
        {"/x", "/a/b.wav", "/a/b.wav"},
        {"/ab", "/a/x", "/a/x"},
        {"/", "/a/x", "/a/x"},
    };
    for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
        TM_CK(tm_coswara_relative_path(c[i].dir, c[i].path, b, sizeof b));
        ck_assert_msg(!strcmp(b, c[i].want), "%s from %s: got %s, want %s", c[i].path, c[i].dir,
                      b, c[i].want);
    }
    ck_assert_int_eq(tm_coswara_relative_path("a/b", "/a/x", b, sizeof b), TM_ERR_ARG);
    ck_assert_int_eq(tm_coswara_relative_path("/a/b", "/a/xxxxxxxxxxxxxxxx", b, 8), TM_ERR_ARG);
}
END_TEST

START_TEST(branch_specs)
{
    tm_coswara_branch b;
    TM_CK(tm_coswara_parse_branch("cough=cough-heavy", &b));
    ck_assert_str_eq(b.name, "cough");
    ck_assert_int_eq(b.n_choices, 1);
    ck_assert_int_eq(b.choice[0], 0);
    TM_CK(tm_coswara_parse_branch("speech_1=counting-normal,vowel-a", &b));
    ck_assert_int_eq(b.n_choices, 2);
    ck_assert_int_eq(b.choice[0], 4);
    ck_assert_int_eq(b.choice[1], 6);

    ck_assert_int_eq(tm_coswara_parse_branch("cough=cough-loud", &b), TM_ERR_ARG);
    expect_msg("unknown recording 'cough-loud'");
    expect_msg("cough-heavy, cough-shallow");
    ck_assert_int_eq(tm_coswara_parse_branch("cough=cough-heavy,breath", &b), TM_ERR_ARG);
    expect_msg("'breath'");
    ck_assert_int_eq(tm_coswara_parse_branch("cough", &b), TM_ERR_ARG);
    expect_msg("NAME=RECORDING");
    ck_assert_int_eq(tm_coswara_parse_branch("=vowel-a", &b), TM_ERR_ARG);
    ck_assert_int_eq(tm_coswara_parse_branch("a b=vowel-a", &b), TM_ERR_ARG);
    ck_assert_int_eq(tm_coswara_parse_branch("label=vowel-a", &b), TM_ERR_ARG);
    ck_assert_int_eq(tm_coswara_parse_branch("x=vowel-a,", &b), TM_ERR_ARG);
    ck_assert_int_eq(tm_coswara_parse_branch("x=vowel-a,vowel-a", &b), TM_ERR_ARG);
    expect_msg("twice");

    /* two branches of one name would give two columns of one name */
    tm_coswara_branch two[2];
    TM_CK(tm_coswara_parse_branch("x=vowel-a", &two[0]));
    TM_CK(tm_coswara_parse_branch("x=vowel-e", &two[1]));
    tm_coswara_options o = {two, 2, TM_COSWARA_SKIP, 0};
    tm_coswara_scan s;
    ck_assert_int_eq(tm_coswara_scan_run(&s, "/nonexistent", &o), TM_ERR_ARG);
    expect_msg("'x' is given twice");
    tm_coswara_scan_free(&s);
}
END_TEST

/* ---- the real sample --------------------------------------------------- */

START_TEST(sample_import)
{
    const char *data = tm_test_data_dir();
    if (!data) {
        printf("sample_import: TINYM2NET_DATA unset, skipped\n");
        return;
    }
    char root[PATH_MAX], out[PATH_MAX], want[PATH_MAX], got[PATH_MAX];
    PATHF(root, "%s/coswara-sample", data);
    for (int check = 0; check < 2; check++) {
        tm_coswara_options o = {NULL, 0, TM_COSWARA_FAIL, check};
        tm_coswara_scan s;
        TM_CK(tm_coswara_scan_run(&s, root, &o));
        const tm_coswara_report *r = &s.report;
        /* combined_data.csv: 2,746 participants; 2,114 healthy or positive */
        ck_assert_int_eq(r->participants, 2746);
        ck_assert_int_eq(r->folders, 2);
        ck_assert_int_eq(r->orphan_folders, 0);
        ck_assert_int_eq(r->excluded, 632);
        ck_assert_int_eq(status_count(r, "no_resp_illness_exposed"), 248);
        ck_assert_int_eq(status_count(r, "resp_illness_not_identified"), 157);
        ck_assert_int_eq(status_count(r, "recovered_full"), 146);
        ck_assert_int_eq(status_count(r, "under_validation"), 81);
        ck_assert_int_eq(r->n_statuses, 4);
        ck_assert_int_eq(r->statuses[0].count, 248); /* most frequent first */
        /* of the two sample participants, one is healthy and one exposed */
        ck_assert_int_eq(r->kept, 1);
        ck_assert_int_eq(r->negative, 1);
        ck_assert_int_eq(r->dropped[TM_COSWARA_NO_FOLDER], 2113);
        ck_assert_int_eq(r->dropped[TM_COSWARA_MISSING], 0);
        check_balance(r);
        ck_assert_int_eq(s.n_rows, 1);
        ck_assert_str_eq(s.rows[0].participant, SAMPLE_NEG);

        char *tmp = tm_test_tmpdir("coswara-sample");
        PATHF(out, "%s/manifest.csv", tmp);
        TM_CK(tm_coswara_write_manifest(&s, out, 0));
        tm_manifest m;
        TM_CK(tm_manifest_load(&m, out));
        ck_assert_int_eq(m.n_cols, 4);
        ck_assert_int_eq(m.n_rows, 1);
        ck_assert_int_eq(tm_manifest_column(&m, "cough"), 0);
        ck_assert_int_eq(tm_manifest_column(&m, "breath"), 1);
        ck_assert_str_eq(tm_manifest_cell(&m, 0, 2), "negative");
        ck_assert_str_eq(tm_manifest_cell(&m, 0, 3), SAMPLE_NEG);
        const char *rec[2] = {"cough-heavy", "breathing-deep"};
        for (int b = 0; b < 2; b++) {
            char p[PATH_MAX];
            TM_CK(tm_manifest_path(&m, 0, b, p, sizeof p));
            PATHF(want, "%s/Extracted_data/20200413/" SAMPLE_NEG "/%s.wav", root,
                     rec[b]);
            ck_assert_msg(realpath(p, got) != NULL, "%s does not resolve", p);
            char wr[PATH_MAX];
            ck_assert(realpath(want, wr) != NULL);
            ck_assert_str_eq(got, wr);
        }
        tm_manifest_free(&m);
        tm_coswara_scan_free(&s);
        unlink(out);
        rmdir(tmp);
        free(tmp);
    }
}
END_TEST

/* ---- a fake tree: each policy and count ------------------------------------ */

START_TEST(skip_policy_counts)
{
    char *tmp = tm_test_tmpdir("coswara-skip");
    char root[PATH_MAX], outdir[PATH_MAX], out[PATH_MAX];
    PATHF(root, "%s/Coswara-Data", tmp);
    make_tree(root, people, N_PEOPLE, "p_orphan");
    tm_coswara_scan s;
    /* NULL options decode every file; this test looks at the scan without */
    const tm_coswara_options nocheck = {NULL, 0, TM_COSWARA_SKIP, 0};
    TM_CK(tm_coswara_scan_run(&s, root, &nocheck));
    const tm_coswara_report *r = &s.report;
    ck_assert_int_eq(r->participants, 13);
    ck_assert_int_eq(r->excluded, 3);
    ck_assert_int_eq(status_count(r, "recovered_full"), 1);
    ck_assert_int_eq(status_count(r, "under_validation"), 1);
    ck_assert_int_eq(status_count(r, ""), 1);
    ck_assert_int_eq(r->dropped[TM_COSWARA_NO_FOLDER], 1);
    ck_assert_str_eq(r->example[TM_COSWARA_NO_FOLDER][0], "p_nofolder");
    ck_assert_int_eq(r->dropped[TM_COSWARA_MISSING], 1);
    ck_assert_str_eq(r->example[TM_COSWARA_MISSING][0],
                     "Extracted_data/20200501/p_missing/breathing-deep.wav");
    ck_assert_int_eq(r->dropped[TM_COSWARA_EMPTY], 1);
    ck_assert_msg(strstr(r->example[TM_COSWARA_EMPTY][0], "p_empty/cough-heavy.wav: 0 bytes"),
                  "%s", r->example[TM_COSWARA_EMPTY][0]);
    ck_assert_int_eq(r->dropped[TM_COSWARA_UNREADABLE], 0); /* not decoded without check */
    /* zero-frame, garbage and truncated files pass when audio is not checked */
    ck_assert_int_eq(r->kept, 7);
    ck_assert_int_eq(r->positive, 3);
    ck_assert_int_eq(r->negative, 4);
    ck_assert_int_eq(r->folders, 13); /* 12 participants with folders + the orphan */
    ck_assert_int_eq(r->orphan_folders, 1);
    ck_assert_str_eq(r->orphan_example[0], "Extracted_data/20200501/p_orphan");
    ck_assert_int_eq(r->duplicate_folders, 1);
    ck_assert_int_eq(r->fallbacks, 0);
    check_balance(r);

    /* rows in combined_data.csv order; the earliest date folder wins */
    const char *order[] = {"p_mild", "p_moderate", "p_asymp", "p_healthy",
                           "p_zero", "p_garbage",  "p_trunc"};
    ck_assert_int_eq(s.n_rows, 7);
    for (int i = 0; i < 7; i++)
        ck_assert_str_eq(s.rows[i].participant, order[i]);
    ck_assert_msg(strstr(s.rows[3].path[0], "/Extracted_data/20200501/p_healthy/cough-heavy.wav"),
                  "%s", s.rows[3].path[0]);

    /* the report names every count */
    char rp[PATH_MAX];
    PATHF(rp, "%s/report.txt", tmp);
    FILE *f = fopen(rp, "w");
    tm_coswara_print_report(&s, f);
    fclose(f);
    char *text = read_text(rp);
    const char *lines[] = {"participants read (combined_data.csv): 13",
                           "kept: 7 (positive 3, negative 4)",
                           "left out by covid_status: 3",
                           "(empty)",
                           "no recordings folder           1",
                           "Extracted_data/20200501/p_missing/breathing-deep.wav",
                           "unreadable recording           not checked",
                           "folders with no row in combined_data.csv: 1",
                           "several dates (earliest used): 1"};
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++)
        ck_assert_msg(strstr(text, lines[i]) != NULL, "report lacks '%s':\n%s", lines[i], text);
    free(text);

    /* manifest in a sibling folder: relative paths that resolve */
    PATHF(outdir, "%s/lists", tmp);
    mkdirs(outdir);
    PATHF(out, "%s/coswara.csv", outdir);
    TM_CK(tm_coswara_write_manifest(&s, out, 0));
    tm_manifest m;
    TM_CK(tm_manifest_load(&m, out));
    ck_assert_int_eq(m.n_rows, 7);
    ck_assert_str_eq(m.col[0], "cough");
    ck_assert_str_eq(m.col[1], "breath");
    ck_assert_str_eq(m.col[2], "label");
    ck_assert_str_eq(m.col[3], "participant");
    ck_assert_str_eq(tm_manifest_cell(&m, 0, 0),
                     "../Coswara-Data/Extracted_data/20200501/p_mild/cough-heavy.wav");
    ck_assert_str_eq(tm_manifest_cell(&m, 2, 1),
                     "../Coswara-Data/Extracted_data/20200601/p_asymp/breathing-deep.wav");
    const char *labels[] = {"positive", "positive", "positive", "negative",
                            "negative", "negative", "negative"};
    for (int i = 0; i < 7; i++) {
        ck_assert_str_eq(tm_manifest_cell(&m, i, 2), labels[i]);
        ck_assert_str_eq(tm_manifest_cell(&m, i, 3), order[i]);
        for (int b = 0; b < 2; b++) {
            char p[PATH_MAX];
            TM_CK(tm_manifest_path(&m, i, b, p, sizeof p));
            ck_assert_msg(access(p, R_OK) == 0, "%s does not resolve", p);
        }
    }
    tm_manifest_free(&m);
    tm_coswara_scan_free(&s);
    remove_tree(tmp);
}
END_TEST

START_TEST(check_audio_finds_bad_files)
{
    char *tmp = tm_test_tmpdir("coswara-check");
    char root[PATH_MAX];
    PATHF(root, "%s/cs", tmp);
    make_tree(root, people, N_PEOPLE, NULL);
    tm_coswara_options o = {NULL, 0, TM_COSWARA_SKIP, 1};
    tm_coswara_scan s;
    TM_CK(tm_coswara_scan_run(&s, root, &o));
    const tm_coswara_report *r = &s.report;
    ck_assert_int_eq(r->kept, 4);
    ck_assert_int_eq(r->positive, 3);
    ck_assert_int_eq(r->negative, 1);
    ck_assert_int_eq(r->dropped[TM_COSWARA_MISSING], 1);
    ck_assert_int_eq(r->dropped[TM_COSWARA_EMPTY], 2); /* 0 bytes and 0 frames */
    ck_assert_msg(strstr(r->example[TM_COSWARA_EMPTY][1], "p_zero/cough-heavy.wav: 0 frames"),
                  "%s", r->example[TM_COSWARA_EMPTY][1]);
    ck_assert_int_eq(r->dropped[TM_COSWARA_UNREADABLE], 2);
    ck_assert_msg(strstr(r->example[TM_COSWARA_UNREADABLE][0], "p_garbage/cough-heavy.wav: "),
                  "%s", r->example[TM_COSWARA_UNREADABLE][0]);
    ck_assert_msg(strstr(r->example[TM_COSWARA_UNREADABLE][1], "p_trunc/breathing-deep.wav: ") &&
                      strstr(r->example[TM_COSWARA_UNREADABLE][1], "truncated"),
                  "%s", r->example[TM_COSWARA_UNREADABLE][1]);
    ck_assert_int_eq(r->audio_checked, 1);
    check_balance(r);
    ck_assert_int_lt(row_of(&s, "p_zero"), 0);
    ck_assert_int_ge(row_of(&s, "p_healthy"), 0);
    tm_coswara_scan_free(&s);
    remove_tree(tmp);
}
END_TEST

START_TEST(fail_policy_names_file_and_reason)
{
    char *tmp = tm_test_tmpdir("coswara-fail");
    char root[PATH_MAX];
    PATHF(root, "%s/cs", tmp);
    make_tree(root, people, N_PEOPLE, NULL);
    tm_coswara_scan s;

    /* the first bad file in combined_data.csv order is p_missing's breath */
    tm_coswara_options o = {NULL, 0, TM_COSWARA_FAIL, 0};
    ck_assert_int_eq(tm_coswara_scan_run(&s, root, &o), TM_ERR_IO);
    expect_msg("/Extracted_data/20200501/p_missing/breathing-deep.wav: missing recording");
    expect_msg("participant p_missing");
    tm_coswara_scan_free(&s);

    /* cough only: the empty file comes first */
    tm_coswara_branch cough;
    TM_CK(tm_coswara_parse_branch("cough=cough-heavy", &cough));
    tm_coswara_options oc = {&cough, 1, TM_COSWARA_FAIL, 0};
    ck_assert_int_eq(tm_coswara_scan_run(&s, root, &oc), TM_ERR_FORMAT);
    expect_msg("p_empty/cough-heavy.wav: empty recording: 0 bytes");
    tm_coswara_scan_free(&s);

    /* no folder is counted, never fatal: it is not a file problem */
    const person only[] = {{"a", "healthy", "20200501", OK, OK, NULL},
                           {"b", "healthy", NULL, OK, OK, NULL},
                           {"c", "positive_mild", "20200501", OK, GARBAGE, NULL}};
    char root2[PATH_MAX];
    PATHF(root2, "%s/cs2", tmp);
    make_tree(root2, only, 3, NULL);
    TM_CK(tm_coswara_scan_run(&s, root2, &o)); /* garbage passes unchecked */
    ck_assert_int_eq(s.report.kept, 2);
    ck_assert_int_eq(s.report.dropped[TM_COSWARA_NO_FOLDER], 1);
    tm_coswara_scan_free(&s);
    o.check_audio = 1;
    ck_assert_int_eq(tm_coswara_scan_run(&s, root2, &o), TM_ERR_FORMAT);
    expect_msg("/Extracted_data/20200501/c/breathing-deep.wav: unreadable recording: ");
    tm_coswara_scan_free(&s);
    remove_tree(tmp);
}
END_TEST

START_TEST(later_choices_stand_in)
{
    char *tmp = tm_test_tmpdir("coswara-fallback");
    char root[PATH_MAX];
    PATHF(root, "%s/cs", tmp);
    make_tree(root, people, N_PEOPLE, NULL);
    tm_coswara_branch b[2];
    TM_CK(tm_coswara_parse_branch("cough=cough-heavy,cough-shallow", &b[0]));
    TM_CK(tm_coswara_parse_branch("breath=breathing-deep", &b[1]));
    tm_coswara_options o = {b, 2, TM_COSWARA_SKIP, 1};
    tm_coswara_scan s;
    TM_CK(tm_coswara_scan_run(&s, root, &o));
    /* p_empty, p_zero and p_garbage fall back on their good cough-shallow */
    ck_assert_int_eq(s.report.fallbacks, 3);
    ck_assert_int_eq(s.report.kept, 7);
    ck_assert_int_eq(s.report.dropped[TM_COSWARA_EMPTY], 0);
    ck_assert_int_eq(s.report.dropped[TM_COSWARA_UNREADABLE], 1); /* p_trunc's breath */
    int i = row_of(&s, "p_empty");
    ck_assert_int_ge(i, 0);
    ck_assert_msg(strstr(s.rows[i].path[0], "/p_empty/cough-shallow.wav"), "%s",
                  s.rows[i].path[0]);
    i = row_of(&s, "p_mild");
    ck_assert_msg(strstr(s.rows[i].path[0], "/p_mild/cough-heavy.wav"), "%s", s.rows[i].path[0]);
    check_balance(&s.report);
    tm_coswara_scan_free(&s);
    remove_tree(tmp);
}
END_TEST

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

START_TEST(never_overwrites_without_force)
{
    char *tmp = tm_test_tmpdir("coswara-force");
    char root[PATH_MAX], outdir[PATH_MAX], out[PATH_MAX];
    PATHF(root, "%s/cs", tmp);
    make_tree(root, people, 4, NULL);
    PATHF(outdir, "%s/out", tmp);
    mkdirs(outdir);
    PATHF(out, "%s/m.csv", outdir);
    write_bytes(out, "precious\n", 9);
    tm_coswara_scan s;
    TM_CK(tm_coswara_scan_run(&s, root, NULL));
    ck_assert_int_eq(tm_coswara_write_manifest(&s, out, 0), TM_ERR_IO);
    expect_msg(out);
    expect_msg("already exists");
    char *text = read_text(out);
    ck_assert_str_eq(text, "precious\n");
    free(text);
    ck_assert_int_eq(count_entries(outdir), 1); /* no temporary file left */
    TM_CK(tm_coswara_write_manifest(&s, out, 1));
    text = read_text(out);
    ck_assert_msg(!strncmp(text, "cough,breath,label,participant\n", 31), "%s", text);
    free(text);
    ck_assert_int_eq(count_entries(outdir), 1);
    struct stat st;
    ck_assert_int_eq(stat(out, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0644);

    /* a missing output folder and an empty result are errors, nothing written */
    char bad[PATH_MAX];
    PATHF(bad, "%s/nofolder/m.csv", tmp);
    ck_assert_int_eq(tm_coswara_write_manifest(&s, bad, 0), TM_ERR_IO);
    expect_msg("nofolder");
    tm_coswara_scan_free(&s);
    const person none[] = {{"r", "recovered_full", "20200501", OK, OK, NULL}};
    char root2[PATH_MAX], out2[PATH_MAX];
    PATHF(root2, "%s/cs2", tmp);
    make_tree(root2, none, 1, NULL);
    TM_CK(tm_coswara_scan_run(&s, root2, NULL));
    PATHF(out2, "%s/empty.csv", outdir);
    ck_assert_int_eq(tm_coswara_write_manifest(&s, out2, 0), TM_ERR_FORMAT);
    expect_msg("no participant");
    ck_assert_int_ne(access(out2, F_OK), 0);
    tm_coswara_scan_free(&s);
    remove_tree(tmp);
}
END_TEST

START_TEST(layout_errors_name_file_and_column)
{
    char *tmp = tm_test_tmpdir("coswara-errors");
    char root[PATH_MAX], p[PATH_MAX];
    tm_coswara_scan s;

    PATHF(root, "%s/none", tmp);
    ck_assert_int_eq(tm_coswara_scan_run(&s, root, NULL), TM_ERR_IO);
    expect_msg(root);
    tm_coswara_scan_free(&s);

    PATHF(root, "%s/r", tmp);
    PATHF(p, "%s/Extracted_data", root);
    mkdirs(p);
    ck_assert_int_eq(tm_coswara_scan_run(&s, root, NULL), TM_ERR_IO);
    expect_msg("combined_data.csv: missing");
    tm_coswara_scan_free(&s);

    PATHF(p, "%s/combined_data.csv", root);
    write_text(p, "id,a,status\nx,3,healthy\n");
    ck_assert_int_eq(tm_coswara_scan_run(&s, root, NULL), TM_ERR_FORMAT);
    expect_msg("combined_data.csv: no column 'covid_status'");
    tm_coswara_scan_free(&s);

    write_text(p, "uid,covid_status\nx,healthy\n");
    ck_assert_int_eq(tm_coswara_scan_run(&s, root, NULL), TM_ERR_FORMAT);
    expect_msg("combined_data.csv: no column 'id'");
    tm_coswara_scan_free(&s);

    write_text(p, "id,covid_status\nx,healthy\ny,healthy\nx,positive_mild\n");
    ck_assert_int_eq(tm_coswara_scan_run(&s, root, NULL), TM_ERR_FORMAT);
    expect_msg("combined_data.csv:4: participant 'x' appears again (first at line 2)");
    tm_coswara_scan_free(&s);

    write_text(p, "id,covid_status\n\"x,healthy\n");
    ck_assert_int_eq(tm_coswara_scan_run(&s, root, NULL), TM_ERR_FORMAT);
    expect_msg("combined_data.csv:2");
    tm_coswara_scan_free(&s);

    PATHF(root, "%s/noextract", tmp);
    mkdirs(root);
    PATHF(p, "%s/combined_data.csv", root);
    write_text(p, "id,covid_status\nx,healthy\n");
    ck_assert_int_eq(tm_coswara_scan_run(&s, root, NULL), TM_ERR_IO);
    expect_msg("Extracted_data: missing");
    tm_coswara_scan_free(&s);
    remove_tree(tmp);
}
END_TEST

/* ---- the command-line program ---------------------------------------------- */

static int run(const char *cmd, const char *log, char **text)
{
    char full[5 * PATH_MAX];
    PATHF(full, "%s >'%s' 2>&1", cmd, log);
    int rc = system(full);
    *text = read_text(log);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

START_TEST(cli_end_to_end)
{
    const char *build = getenv("TM_BUILD_DIR");
    if (!build) {
        printf("cli_end_to_end: TM_BUILD_DIR not set (run through ctest), skipped\n");
        return;
    }
    char *tmp = tm_test_tmpdir("coswara-cli");
    char root[PATH_MAX], out[PATH_MAX], log[PATH_MAX], cmd[4 * PATH_MAX], exe[PATH_MAX];
    PATHF(exe, "%s/tinym2net", build);
    PATHF(root, "%s/Coswara-Data", tmp);
    PATHF(out, "%s/manifest.csv", tmp);
    PATHF(log, "%s/log.txt", tmp);
    make_tree(root, people, N_PEOPLE, "p_orphan");
    char *text = NULL;

    PATHF(cmd,
             "'%s' import-coswara '%s' --out '%s' --branch c=cough-heavy --branch "
             "b=breathing-deep --check-audio",
             exe, root, out);
    ck_assert_msg(run(cmd, log, &text) == 0, "%s\n%s", cmd, text);
    ck_assert_msg(strstr(text, "kept: 4 (positive 3, negative 1)"), "%s", text);
    ck_assert_msg(strstr(text, "unreadable recording           2"), "%s", text);
    ck_assert_msg(strstr(text, "wrote "), "%s", text);
    free(text);
    tm_manifest m;
    TM_CK(tm_manifest_load(&m, out));
    ck_assert_int_eq(m.n_rows, 4);
    ck_assert_str_eq(m.col[0], "c");
    ck_assert_str_eq(tm_manifest_cell(&m, 3, 3), "p_healthy");
    ck_assert_str_eq(tm_manifest_cell(&m, 3, 0),
                     "Coswara-Data/Extracted_data/20200501/p_healthy/cough-heavy.wav");
    tm_manifest_free(&m);

    /* again without --force: refused, file untouched */
    char *before = read_text(out);
    ck_assert_int_eq(run(cmd, log, &text), 1);
    ck_assert_msg(strstr(text, "already exists"), "%s", text);
    free(text);
    char *after = read_text(out);
    ck_assert_str_eq(before, after);
    free(before);
    free(after);

    /* --force with the defaults replaces it; the defaults decode every file,
     * so the header-only, garbage and truncated recordings are dropped */
    PATHF(cmd, "'%s' import-coswara '%s' --out '%s' --force", exe, root, out);
    ck_assert_msg(run(cmd, log, &text) == 0, "%s", text);
    ck_assert_msg(strstr(text, "kept: 4 (positive 3, negative 1)"), "%s", text);
    ck_assert_msg(strstr(text, "unreadable recording           2"), "%s", text);
    free(text);
    TM_CK(tm_manifest_load(&m, out));
    ck_assert_int_eq(m.n_rows, 4);
    ck_assert_str_eq(m.col[0], "cough");
    tm_manifest_free(&m);
    /* --no-check-audio keeps them (only 0-byte files are dropped) */
    PATHF(cmd, "'%s' import-coswara '%s' --out '%s' --force --no-check-audio", exe, root, out);
    ck_assert_msg(run(cmd, log, &text) == 0, "%s", text);
    ck_assert_msg(strstr(text, "unreadable recording           not checked"), "%s", text);
    free(text);
    TM_CK(tm_manifest_load(&m, out));
    ck_assert_int_eq(m.n_rows, 7);
    tm_manifest_free(&m);
    PATHF(cmd, "'%s' import-coswara '%s' --out '%s' --force --no-check-audio --check-audio",
          exe, root, out);
    ck_assert_int_eq(run(cmd, log, &text), 2);
    ck_assert_msg(strstr(text, "contradict"), "%s", text);
    free(text);

    /* a bad recording name, a bad policy, the fail policy */
    PATHF(cmd, "'%s' import-coswara '%s' --out '%s/x.csv' --branch cough=coughing",
             exe, root, tmp);
    ck_assert_int_eq(run(cmd, log, &text), 2);
    ck_assert_msg(strstr(text, "unknown recording 'coughing'") && strstr(text, "vowel-o"), "%s",
                  text);
    free(text);
    PATHF(cmd, "'%s' import-coswara '%s' --out '%s/x.csv' --on-missing ignore",
             exe, root, tmp);
    ck_assert_int_eq(run(cmd, log, &text), 2);
    ck_assert_msg(strstr(text, "skip or fail"), "%s", text);
    free(text);
    PATHF(cmd, "'%s' import-coswara '%s' --out '%s/x.csv' --on-missing fail", exe,
             root, tmp);
    ck_assert_int_eq(run(cmd, log, &text), 1);
    ck_assert_msg(strstr(text, "p_missing/breathing-deep.wav: missing recording"), "%s", text);
    free(text);
    PATHF(out, "%s/x.csv", tmp);
    ck_assert_int_ne(access(out, F_OK), 0);

    /* the real sample, if present */
    const char *data = tm_test_data_dir();
    if (data) {
        PATHF(cmd,
                 "'%s' import-coswara '%s/coswara-sample' --out '%s/sample.csv' --check-audio",
                 exe, data, tmp);
        ck_assert_msg(run(cmd, log, &text) == 0, "%s", text);
        ck_assert_msg(strstr(text, "kept: 1 (positive 0, negative 1)"), "%s", text);
        ck_assert_msg(strstr(text, "no_resp_illness_exposed        248"), "%s", text);
        free(text);
    }
    remove_tree(tmp);
}
END_TEST


/* ---- held-out test split ------------------------------------------------- */

/* A scan of n_pos positive and n_neg negative participants (no files: the
 * split reads only the labels). */
static void fake_scan(tm_coswara_scan *s, int n_pos, int n_neg)
{
    memset(s, 0, sizeof *s);
    s->n_rows = n_pos + n_neg;
    s->rows = calloc((size_t)s->n_rows, sizeof *s->rows);
    ck_assert_ptr_nonnull(s->rows);
    for (int i = 0; i < s->n_rows; i++) {
        char id[32];
        snprintf(id, sizeof id, "id%d", i);
        s->rows[i].participant = strdup(id);
        s->rows[i].positive = i % 4 == 1 && n_pos-- > 0; /* spread positives through */
    }
    for (int i = 0; i < s->n_rows && n_pos > 0; i++)
        if (!s->rows[i].positive)
            s->rows[i].positive = 1, n_pos--;
}

START_TEST(split_is_stratified_and_seeded)
{
    tm_coswara_scan s;
    fake_scan(&s, 8, 32);
    unsigned char a[40], b[40], c[40];
    TM_CK(tm_coswara_split(&s, 0.25, 3, a));
    int test[2] = {0, 0};
    for (int i = 0; i < 40; i++)
        test[s.rows[i].positive] += a[i];
    ck_assert_int_eq(test[1], 2); /* a quarter of each class */
    ck_assert_int_eq(test[0], 8);
    TM_CK(tm_coswara_split(&s, 0.25, 3, b));
    ck_assert_mem_eq(a, b, sizeof a);
    TM_CK(tm_coswara_split(&s, 0.25, 4, c));
    ck_assert_msg(memcmp(a, c, sizeof a) != 0, "seeds 3 and 4 gave the same split");
    /* a tiny fraction still tests one of each class, a large one trains one */
    TM_CK(tm_coswara_split(&s, 0.01, 3, a));
    test[0] = test[1] = 0;
    for (int i = 0; i < 40; i++)
        test[s.rows[i].positive] += a[i];
    ck_assert(test[0] == 1 && test[1] == 1);
    TM_CK(tm_coswara_split(&s, 0.99, 3, a));
    test[0] = test[1] = 0;
    for (int i = 0; i < 40; i++)
        test[s.rows[i].positive] += a[i];
    ck_assert(test[0] == 31 && test[1] == 7);
    ck_assert_int_eq(tm_coswara_split(&s, 0.0, 3, a), TM_ERR_ARG);
    ck_assert_int_eq(tm_coswara_split(&s, 1.0, 3, a), TM_ERR_ARG);
    tm_coswara_scan_free(&s);

    fake_scan(&s, 1, 10);
    ck_assert_int_eq(tm_coswara_split(&s, 0.2, 0, a), TM_ERR_FORMAT);
    expect_msg("1 positive participant among the 11 kept");
    tm_coswara_scan_free(&s);
}
END_TEST

/* Six positive and six negative participants with real recordings. */
static const person dozen[] = {
    {"q1", "positive_mild", "20200501", OK, OK, NULL},
    {"q2", "positive_moderate", "20200501", OK, OK, NULL},
    {"q3", "positive_asymp", "20200501", OK, OK, NULL},
    {"q4", "positive_mild", "20200601", OK, OK, NULL},
    {"q5", "positive_mild", "20200601", OK, OK, NULL},
    {"q6", "positive_asymp", "20200601", OK, OK, NULL},
    {"h1", "healthy", "20200501", OK, OK, NULL},
    {"h2", "healthy", "20200501", OK, OK, NULL},
    {"h3", "healthy", "20200501", OK, OK, NULL},
    {"h4", "healthy", "20200601", OK, OK, NULL},
    {"h5", "healthy", "20200601", OK, OK, NULL},
    {"h6", "healthy", "20200601", OK, OK, NULL},
};
#define N_DOZEN ((int)(sizeof dozen / sizeof *dozen))

START_TEST(cli_split_writes_disjoint_sets)
{
    const char *build = getenv("TM_BUILD_DIR");
    if (!build) {
        printf("cli_split_writes_disjoint_sets: TM_BUILD_DIR not set, skipped\n");
        return;
    }
    char *tmp = tm_test_tmpdir("coswara-split");
    char root[PATH_MAX], out[PATH_MAX], log[PATH_MAX], cmd[4 * PATH_MAX], exe[PATH_MAX];
    PATHF(exe, "%s/tinym2net", build);
    PATHF(root, "%s/Coswara-Data", tmp);
    PATHF(out, "%s/manifest.csv", tmp);
    PATHF(log, "%s/log.txt", tmp);
    make_tree(root, dozen, N_DOZEN, NULL);
    char *text = NULL;
    PATHF(cmd, "'%s' import-coswara '%s' --out '%s' --test-fraction 0.25 --split-seed 5", exe,
          root, out);
    ck_assert_msg(run(cmd, log, &text) == 0, "%s\n%s", cmd, text);
    ck_assert_msg(strstr(text, "manifest-train.csv: 8 rows (4 positive)") &&
                      strstr(text, "manifest-test.csv: 4 rows (2 positive)"),
                  "%s", text);
    free(text);
    tm_manifest all, tr, te;
    TM_CK(tm_manifest_load(&all, out));
    PATHF(out, "%s/manifest-train.csv", tmp);
    TM_CK(tm_manifest_load(&tr, out));
    PATHF(out, "%s/manifest-test.csv", tmp);
    TM_CK(tm_manifest_load(&te, out));
    ck_assert_int_eq(tr.n_rows + te.n_rows, all.n_rows);
    /* every participant in exactly one set, with the same row as the full manifest */
    for (int i = 0; i < all.n_rows; i++) {
        const char *id = tm_manifest_cell(&all, i, 3);
        int in = 0;
        for (int k = 0; k < 2; k++) {
            const tm_manifest *m = k ? &te : &tr;
            for (int j = 0; j < m->n_rows; j++)
                if (!strcmp(tm_manifest_cell(m, j, 3), id)) {
                    in++;
                    for (int c = 0; c < 3; c++)
                        ck_assert_str_eq(tm_manifest_cell(m, j, c), tm_manifest_cell(&all, i, c));
                }
        }
        ck_assert_msg(in == 1, "%s is in %d sets", id, in);
    }
    tm_manifest_free(&all);
    tm_manifest_free(&tr);
    tm_manifest_free(&te);
    /* a split file in the way is refused before anything is written */
    PATHF(out, "%s/other.csv", tmp);
    PATHF(log, "%s/other-test.csv", tmp);
    write_text(log, "keep me\n");
    PATHF(cmd, "'%s' import-coswara '%s' --out '%s' --test-fraction 0.25 >'%s/log.txt' 2>&1",
          exe, root, out, tmp);
    ck_assert_int_eq(WEXITSTATUS(system(cmd)), 1);
    PATHF(out, "%s/log.txt", tmp);
    text = read_text(out);
    ck_assert_msg(strstr(text, "other-test.csv already exists"), "%s", text);
    free(text);
    text = read_text(log);
    ck_assert_str_eq(text, "keep me\n");
    free(text);
    PATHF(out, "%s/other.csv", tmp);
    ck_assert_int_ne(access(out, F_OK), 0);
    PATHF(log, "%s/log.txt", tmp);
    PATHF(cmd, "'%s' import-coswara '%s' --out '%s/x.csv' --test-fraction 1.5", exe, root, tmp);
    ck_assert_int_eq(run(cmd, log, &text), 2);
    ck_assert_msg(strstr(text, "--test-fraction must be a number between 0 and 1"), "%s", text);
    free(text);
    remove_tree(tmp);
}
END_TEST

/* `tinym2net reproduce --coswara` end to end: import with the held-out
 * split, then the five models trained, quantised, searched, exported and
 * run by the runtime (a tree of the sample's real recordings; no accuracy
 * claim). The shared sample itself has one labelled participant: refused
 * with the reason. */
START_TEST(reproduce_coswara_end_to_end)
{
    const char *build = getenv("TM_BUILD_DIR");
    const char *data = tm_test_data_dir();
    if (!build || !data) {
        printf("reproduce_coswara_end_to_end: needs TM_BUILD_DIR and TINYM2NET_DATA, skipped\n");
        return;
    }
    char *tmp = tm_test_tmpdir("coswara-reproduce");
    char root[PATH_MAX], log[PATH_MAX], cmd[6 * PATH_MAX], exe[PATH_MAX], res[PATH_MAX];
    PATHF(exe, "%s/tinym2net", build);
    PATHF(root, "%s/Coswara-Data", tmp);
    PATHF(log, "%s/log.txt", tmp);
    PATHF(res, "%s/results.md", tmp);
    make_tree(root, dozen, N_DOZEN, NULL);
    char *text = NULL;
    /* XDG_CACHE_HOME: the feature cache stays in the test's folder. */
    PATHF(cmd,
          "cd '%s' && XDG_CACHE_HOME='%s/cache' '%s' reproduce --quick --data coswara "
          "--coswara '%s' --out '%s/out' --results '%s' --threads 1",
          tm_test_source_dir(), tmp, exe, root, tmp, res);
    ck_assert_msg(run(cmd, log, &text) == 0, "%s\n%s", cmd, text);
    ck_assert_msg(strstr(text, "(equal)") && !strstr(text, "DISAGREE"), "%s", text);
    free(text);
    text = read_text(res);
    ck_assert_ptr_nonnull(text);
    static const char *rows[] = {"| breath only (standard conv) | ", "| cough only (standard conv) | ",
                                 "| fused (standard conv) | ",
                                 "| fused compressed (separable, paper 8/4-bit) | "};
    for (int i = 0; i < 4; i++) {
        const char *r = strstr(text, rows[i]);
        ck_assert_msg(r && strchr(r + strlen(rows[i]), '%'), "row %s missing:\n%s", rows[i],
                      text);
    }
    ck_assert_msg(strstr(text, "## coswara") && strstr(text, "88.4 %, +14.5 (COVID-19)"), "%s",
                  text);
    free(text);

    /* the shared sample: one labelled participant, so no split */
    char before[64];
    PATHF(before, "%s", "unchanged");
    write_text(res, before);
    PATHF(cmd,
          "cd '%s' && XDG_CACHE_HOME='%s/cache' '%s' reproduce --quick --data coswara "
          "--coswara '%s/coswara-sample' --out '%s/out2' --results '%s'",
          tm_test_source_dir(), tmp, exe, data, tmp, res);
    ck_assert_int_eq(run(cmd, log, &text), 1);
    ck_assert_msg(strstr(text, "the Coswara import of") &&
                      strstr(text, "1 negative participant among the 1 kept"),
                  "%s", text);
    free(text);
    text = read_text(res);
    ck_assert_str_eq(text, "unchanged"); /* the results page is left as it was */
    free(text);
    remove_tree(tmp);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("coswara");
    TCase *t = tcase_create("coswara");
    tcase_set_timeout(t, 120);
    tcase_add_test(t, label_rule);
    tcase_add_test(t, relative_paths);
    tcase_add_test(t, branch_specs);
    tcase_add_test(t, sample_import);
    tcase_add_test(t, skip_policy_counts);
    tcase_add_test(t, check_audio_finds_bad_files);
    tcase_add_test(t, fail_policy_names_file_and_reason);
    tcase_add_test(t, later_choices_stand_in);
    tcase_add_test(t, never_overwrites_without_force);
    tcase_add_test(t, layout_errors_name_file_and_column);
    tcase_add_test(t, cli_end_to_end);
    tcase_add_test(t, split_is_stratified_and_seeded);
    tcase_add_test(t, cli_split_writes_disjoint_sets);
    tcase_add_test(t, reproduce_coswara_end_to_end);
    suite_add_tcase(s, t);
    return tm_test_run(s);
}
