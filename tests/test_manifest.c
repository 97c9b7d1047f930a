/* CSV manifests: quoting, line ends, errors with file:line, path
 * resolution, label mapping, and the real avdigits manifests. */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tm_manifest.h"
#include "tm_test_util.h"

static char *tmp_dir;

static void setup(void) { tmp_dir = tm_test_tmpdir("manifest"); }

static void teardown(void)
{
    DIR *d = opendir(tmp_dir);
    if (d) {
        struct dirent *e;
        char p[4096];
        while ((e = readdir(d)) != NULL)
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                snprintf(p, sizeof p, "%s/%s", tmp_dir, e->d_name);
                unlink(p);
            }
        closedir(d);
    }
    rmdir(tmp_dir);
    free(tmp_dir);
}

/* Writes text (n bytes) to tmp_dir/name; returns the path in a static buffer. */
static const char *write_csv(const char *name, const char *text, size_t n)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s", tmp_dir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    if (n)
        ck_assert_uint_eq(fwrite(text, 1, n, f), n);
    fclose(f);
    return path;
}

#define WRITE_CSV(name, lit) write_csv(name, lit, sizeof(lit) - 1)

static void expect_error(tm_status got, tm_status want, const char *words)
{
    ck_assert_msg(got == want, "got %s, want %s (%s)", tm_status_name(got), tm_status_name(want),
                  tm_last_error());
    ck_assert_msg(strstr(tm_last_error(), words) != NULL, "message lacks '%s': %s", words,
                  tm_last_error());
}

START_TEST(quoted_fields_and_crlf)
{
    const char *p = WRITE_CSV("q.csv", "\xEF\xBB\xBFimage,audio,label,speaker\r\n"
                                       "\"a,b.png\",\"say \"\"hi\"\".wav\",3,\"two\r\nlines\"\r\n"
                                       "plain.png,,\"\",x y\r\n"
                                       "\r\n"
                                       "c.png,d.wav,7,\"\"\"\"\r\n"
                                       "\r\n\r\n  \n");
    tm_manifest m;
    TM_CK(tm_manifest_load(&m, p));
    ck_assert_int_eq(m.n_cols, 4);
    ck_assert_int_eq(m.n_rows, 3);
    ck_assert_str_eq(m.col[0], "image"); /* the byte-order mark is not part of the name */
    ck_assert_int_eq(tm_manifest_column(&m, "image"), 0);
    ck_assert_int_eq(tm_manifest_column(&m, "speaker"), 3);
    ck_assert_int_eq(tm_manifest_column(&m, "Speaker"), -1);
    ck_assert_str_eq(tm_manifest_cell(&m, 0, 0), "a,b.png");
    ck_assert_str_eq(tm_manifest_cell(&m, 0, 1), "say \"hi\".wav");
    ck_assert_str_eq(tm_manifest_cell(&m, 0, 2), "3");
    ck_assert_str_eq(tm_manifest_cell(&m, 0, 3), "two\r\nlines");
    ck_assert_str_eq(tm_manifest_cell(&m, 1, 0), "plain.png");
    ck_assert_str_eq(tm_manifest_cell(&m, 1, 1), "");
    ck_assert_str_eq(tm_manifest_cell(&m, 1, 2), "");
    ck_assert_str_eq(tm_manifest_cell(&m, 1, 3), "x y");
    ck_assert_str_eq(tm_manifest_cell(&m, 2, 3), "\"");
    /* Rows start on lines 2, 4 (after the two-line field) and 6 (after a blank). */
    ck_assert_int_eq(m.line[0], 2);
    ck_assert_int_eq(m.line[1], 4);
    ck_assert_int_eq(m.line[2], 6);
    ck_assert_ptr_null(tm_manifest_cell(&m, 3, 0));
    ck_assert_ptr_null(tm_manifest_cell(&m, 0, 4));
    tm_manifest_free(&m);

    /* No final newline; a trailing empty field still counts. */
    p = WRITE_CSV("nofinal.csv", "a,b\n1,");
    TM_CK(tm_manifest_load(&m, p));
    ck_assert_int_eq(m.n_rows, 1);
    ck_assert_str_eq(tm_manifest_cell(&m, 0, 0), "1");
    ck_assert_str_eq(tm_manifest_cell(&m, 0, 1), "");
    tm_manifest_free(&m);

    /* A header and nothing else is a valid, empty manifest. */
    p = WRITE_CSV("header.csv", "a,b\n");
    TM_CK(tm_manifest_load(&m, p));
    ck_assert_int_eq(m.n_rows, 0);
    tm_manifest_free(&m);
}
END_TEST

START_TEST(malformed_files_name_file_and_line)
{
    tm_manifest m;
    char want[4200];
    const char *p = WRITE_CSV("count.csv", "image,audio,label,speaker\n"
                                           "a.png,a.wav,1,x\n"
                                           "b.png,b.wav,2\n");
    snprintf(want, sizeof want, "%s:3: 3 fields, header has 4", p);
    expect_error(tm_manifest_load(&m, p), TM_ERR_FORMAT, want);
    ck_assert_ptr_null(m.text); /* nothing left allocated */

    p = WRITE_CSV("toomany.csv", "a,b\r\n1,2\r\n\"x\ny\",2,3\r\n");
    snprintf(want, sizeof want, "%s:3: 3 fields, header has 2", p);
    expect_error(tm_manifest_load(&m, p), TM_ERR_FORMAT, want);

    p = WRITE_CSV("unterminated.csv", "a,b\n1,2\n3,\"oops\n4,5\n");
    snprintf(want, sizeof want, "%s:3: unterminated quoted field", p);
    expect_error(tm_manifest_load(&m, p), TM_ERR_FORMAT, want);

    p = WRITE_CSV("after.csv", "a,b\n\"x\"y,2\n");
    snprintf(want, sizeof want, "%s:2: text after the closing quote", p);
    expect_error(tm_manifest_load(&m, p), TM_ERR_FORMAT, want);

    p = WRITE_CSV("inner.csv", "a,b\n1,2\n5'3\",2\n");
    snprintf(want, sizeof want, "%s:3: quote inside unquoted field", p);
    expect_error(tm_manifest_load(&m, p), TM_ERR_FORMAT, want);

    p = write_csv("nul.csv", "a,b\n1,\0\n", 7);
    snprintf(want, sizeof want, "%s:2: NUL byte", p);
    expect_error(tm_manifest_load(&m, p), TM_ERR_FORMAT, want);

    p = WRITE_CSV("dup.csv", "a,b,a\n1,2,3\n");
    snprintf(want, sizeof want, "%s:1: duplicate column 'a'", p);
    expect_error(tm_manifest_load(&m, p), TM_ERR_FORMAT, want);

    p = WRITE_CSV("empty.csv", "");
    snprintf(want, sizeof want, "%s: empty file", p);
    expect_error(tm_manifest_load(&m, p), TM_ERR_FORMAT, want);

    p = WRITE_CSV("blank.csv", "\n\r\n  \n");
    expect_error(tm_manifest_load(&m, p), TM_ERR_FORMAT, "empty file");

    char missing[4096];
    snprintf(missing, sizeof missing, "%s/none.csv", tmp_dir);
    expect_error(tm_manifest_load(&m, missing), TM_ERR_IO, missing);
    ck_assert_ptr_nonnull(strstr(tm_last_error(), "No such file"));
}
END_TEST

START_TEST(relative_paths_resolve_against_the_folder)
{
    const char *p = WRITE_CSV("paths.csv", "image,audio\n"
                                           "images/1.png,/abs/one.wav\n"
                                           ",b.wav\n");
    tm_manifest m;
    TM_CK(tm_manifest_load(&m, p));
    ck_assert_str_eq(m.dir, tmp_dir);
    char buf[4096], want[4096];
    TM_CK(tm_manifest_path(&m, 0, 0, buf, sizeof buf));
    snprintf(want, sizeof want, "%s/images/1.png", tmp_dir);
    ck_assert_str_eq(buf, want);
    TM_CK(tm_manifest_path(&m, 0, 1, buf, sizeof buf));
    ck_assert_str_eq(buf, "/abs/one.wav");
    snprintf(want, sizeof want, "%s:3: empty path in column 'image'", p);
    expect_error(tm_manifest_path(&m, 1, 0, buf, sizeof buf), TM_ERR_FORMAT, want);
    expect_error(tm_manifest_path(&m, 0, 0, buf, 8), TM_ERR_ARG, "does not fit");
    ck_assert_int_eq(tm_manifest_path(&m, 2, 0, buf, sizeof buf), TM_ERR_ARG);
    tm_manifest_free(&m);

    /* A manifest named without a folder resolves against the working directory. */
    char cwd[4096];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    ck_assert_int_eq(chdir(tmp_dir), 0);
    TM_CK(tm_manifest_load(&m, "paths.csv"));
    ck_assert_int_eq(chdir(cwd), 0);
    TM_CK(tm_manifest_path(&m, 0, 0, buf, sizeof buf));
    ck_assert_str_eq(buf, "images/1.png");
    tm_manifest_free(&m);
}
END_TEST

START_TEST(labels_sort_and_map)
{
    /* Numeric labels sort as numbers, not as text. */
    const char *p = WRITE_CSV("num.csv", "x,label\na,10\nb,9\nc,2\nd,2\ne,-1\nf,3.5\n");
    tm_manifest m;
    TM_CK(tm_manifest_load(&m, p));
    int col = tm_manifest_column(&m, "label");
    tm_classes c;
    TM_CK(tm_manifest_classes(&m, col, &c));
    ck_assert_int_eq(c.n, 5);
    const char *want[5] = {"-1", "2", "3.5", "9", "10"};
    for (int i = 0; i < 5; i++)
        ck_assert_str_eq(c.name[i], want[i]);
    int lab[6];
    TM_CK(tm_manifest_labels(&m, col, &c, lab));
    int want_lab[6] = {4, 3, 1, 1, 0, 2};
    for (int i = 0; i < 6; i++)
        ck_assert_int_eq(lab[i], want_lab[i]);
    ck_assert_int_eq(tm_classes_find(&c, "9"), 3);
    ck_assert_int_eq(tm_classes_find(&c, "09"), -1);

    /* The same class list applied to another file: an unknown label is an error. */
    const char *q = WRITE_CSV("other.csv", "x,label\na,2\nb,7\n");
    tm_manifest m2;
    TM_CK(tm_manifest_load(&m2, q));
    char msg[4200];
    snprintf(msg, sizeof msg, "%s:3: unknown label '7' in column 'label'", q);
    expect_error(tm_manifest_labels(&m2, 1, &c, lab), TM_ERR_FORMAT, msg);
    tm_manifest_free(&m2);
    tm_classes_free(&c);
    ck_assert_ptr_null(c.name);
    tm_manifest_free(&m);

    /* Any non-number makes the whole column text, sorted by bytes. */
    p = WRITE_CSV("text.csv", "label\ncat\nDog\nant\ncat\n1\n");
    TM_CK(tm_manifest_load(&m, p));
    TM_CK(tm_manifest_classes(&m, 0, &c));
    ck_assert_int_eq(c.n, 4);
    ck_assert_str_eq(c.name[0], "1");
    ck_assert_str_eq(c.name[1], "Dog");
    ck_assert_str_eq(c.name[2], "ant");
    ck_assert_str_eq(c.name[3], "cat");
    tm_classes_free(&c);
    tm_manifest_free(&m);

    /* Empty labels are refused with their line. */
    p = WRITE_CSV("nolabel.csv", "x,label\na,1\nb,\n");
    TM_CK(tm_manifest_load(&m, p));
    snprintf(msg, sizeof msg, "%s:3: empty label in column 'label'", p);
    expect_error(tm_manifest_classes(&m, 1, &c), TM_ERR_FORMAT, msg);
    ck_assert_int_eq(tm_manifest_classes(&m, 5, &c), TM_ERR_ARG);
    tm_manifest_free(&m);
}
END_TEST

START_TEST(real_avdigits_manifests)
{
    const char *root = tm_test_data_dir();
    if (!root) {
        printf("real_avdigits_manifests: TINYM2NET_DATA unset, skipped\n");
        return;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/avdigits/train.csv", root);
    tm_manifest tr, te;
    TM_CK(tm_manifest_load(&tr, path));
    ck_assert_int_eq(tr.n_rows, 2700);
    ck_assert_int_eq(tr.n_cols, 4);
    ck_assert_int_eq(tm_manifest_column(&tr, "image"), 0);
    ck_assert_int_eq(tm_manifest_column(&tr, "audio"), 1);
    ck_assert_int_eq(tm_manifest_column(&tr, "label"), 2);
    ck_assert_int_eq(tm_manifest_column(&tr, "speaker"), 3);
    int lc = tm_manifest_column(&tr, "label");
    tm_classes c;
    TM_CK(tm_manifest_classes(&tr, lc, &c));
    ck_assert_int_eq(c.n, 10);
    for (int i = 0; i < 10; i++) {
        char d[4];
        snprintf(d, sizeof d, "%d", i);
        ck_assert_str_eq(c.name[i], d);
    }
    int *lab = malloc(sizeof *lab * tr.n_rows);
    TM_CK(tm_manifest_labels(&tr, lc, &c, lab));
    int count[10] = {0};
    for (int r = 0; r < tr.n_rows; r++) {
        ck_assert_int_eq(lab[r], atoi(tm_manifest_cell(&tr, r, lc)));
        count[lab[r]]++;
    }
    for (int i = 0; i < 10; i++)
        ck_assert_int_gt(count[i], 0);
    /* Resolved paths point at files that exist. */
    char f[4096];
    for (int r = 0; r < tr.n_rows; r += 97) {
        TM_CK(tm_manifest_path(&tr, r, 0, f, sizeof f));
        ck_assert_msg(access(f, R_OK) == 0, "missing %s", f);
        TM_CK(tm_manifest_path(&tr, r, 1, f, sizeof f));
        ck_assert_msg(access(f, R_OK) == 0, "missing %s", f);
    }
    free(lab);

    /* The test manifest maps onto the training classes. */
    snprintf(path, sizeof path, "%s/avdigits/test.csv", root);
    TM_CK(tm_manifest_load(&te, path));
    ck_assert_int_eq(te.n_rows, 300);
    int tlab[300];
    TM_CK(tm_manifest_labels(&te, tm_manifest_column(&te, "label"), &c, tlab));
    tm_classes_free(&c);
    tm_manifest_free(&te);
    tm_manifest_free(&tr);
}
END_TEST

static Suite *manifest_suite(void)
{
    Suite *s = suite_create("manifest");
    TCase *t = tcase_create("csv");
    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, quoted_fields_and_crlf);
    tcase_add_test(t, malformed_files_name_file_and_line);
    tcase_add_test(t, relative_paths_resolve_against_the_folder);
    tcase_add_test(t, labels_sort_and_map);
    tcase_add_test(t, real_avdigits_manifests);
    suite_add_tcase(s, t);
    return s;
}

int main(void) { return tm_test_run(manifest_suite()); }
