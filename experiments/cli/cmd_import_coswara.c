#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tm_cli.h"
#include "tm_coswara.h"

static void help(FILE *f)
{
    fprintf(f,
            "usage: tinym2net import-coswara CSWROOT --out MANIFEST.csv [options]\n\n"
            "Turns the Coswara data (CSWROOT holds combined_data.csv and Extracted_data/)\n"
            "into a manifest: one row per participant, one column per branch, then label\n"
            "(positive: positive_mild, positive_moderate, positive_asymp; negative: healthy;\n"
            "every other covid_status is left out) and participant. See docs/coswara.md.\n\n"
            "options:\n"
            "  --out PATH                    manifest to write (required; its folder must exist)\n"
            "  --branch NAME=REC[,REC...]    a manifest column and the recording it holds; later\n"
            "                                RECs stand in when the first is not usable. Repeat\n"
            "                                for each branch. Default: --branch cough=cough-heavy\n"
            "                                --branch breath=breathing-deep\n"
            "                                recordings: cough-heavy, cough-shallow,\n"
            "                                breathing-deep, breathing-shallow, counting-normal,\n"
            "                                counting-fast, vowel-a, vowel-e, vowel-o\n"
            "  --on-missing skip|fail        a missing, empty or unreadable recording drops the\n"
            "                                participant (skip, default) or stops the import\n"
            "  --no-check-audio              do not decode the chosen files (faster; header-only\n"
            "                                and unreadable WAVs then stay in the manifest and\n"
            "                                fail the training load). By default every chosen\n"
            "                                file is decoded and unreadable or 0-frame ones are\n"
            "                                dropped (--check-audio, still accepted)\n"
            "  --test-fraction F             also write MANIFEST-train.csv and MANIFEST-test.csv\n"
            "                                (MANIFEST = the --out path without .csv) holding out\n"
            "                                about F of each class's participants for testing,\n"
            "                                as the experiments under experiments/coswara/ read\n"
            "  --split-seed N                seed of that split (default 0)\n"
            "  --force                       replace MANIFEST.csv (and the split files) if they\n"
            "                                exist\n"
            "  --help                        this text\n");
}

int tm_cmd_import_coswara(int argc, char **argv)
{
    const char *root = NULL, *out = NULL, *fraction = NULL, *on_missing = "skip";
    const char *branch_v[TM_COSWARA_MAX_BRANCHES];
    tm_cli_list branch_list = {branch_v, 0, TM_COSWARA_MAX_BRANCHES};
    static const char *const policies[] = {"skip", "fail", NULL};
    int force = 0, check_audio = 0, no_check_audio = 0;
    long split_seed = 0;
    const tm_cli_option opts[] = {
        TM_CLI_STRING("--out", NULL, &out),
        TM_CLI_LIST("--branch", &branch_list),
        TM_CLI_CHOICE("--on-missing", &on_missing, policies),
        TM_CLI_STRING("--test-fraction", NULL, &fraction),
        TM_CLI_LONG("--split-seed", &split_seed, 0, LONG_MAX),
        TM_CLI_FLAG("--check-audio", NULL, &check_audio),
        TM_CLI_FLAG("--no-check-audio", NULL, &no_check_audio),
        TM_CLI_FLAG("--force", NULL, &force),
        {0}};
    int rc = tm_cli_parse("import-coswara", help, opts, argc, argv, &root, 1);
    if (rc)
        return rc == TM_CLI_HELP ? 0 : rc;
    if (!out) {
        fprintf(stderr, "tinym2net import-coswara: --out MANIFEST.csv is required\n\n");
        help(stderr);
        return 2;
    }
    if (check_audio && no_check_audio) {
        fprintf(stderr, "tinym2net import-coswara: --check-audio and --no-check-audio "
                        "contradict each other\n");
        return 2;
    }
    /* A header-only WAV kept here fails the training load much later. */
    check_audio = !no_check_audio;
    double test_fraction = 0.0;
    if (fraction) {
        char *end;
        test_fraction = strtod(fraction, &end);
        if (end == fraction || *end || !(test_fraction > 0.0 && test_fraction < 1.0)) {
            fprintf(stderr, "tinym2net import-coswara: --test-fraction must be a number between "
                            "0 and 1, not '%s'\n",
                    fraction);
            return 2;
        }
    }
    tm_coswara_branch branches[TM_COSWARA_MAX_BRANCHES];
    int n_branches = branch_list.n;
    for (int k = 0; k < n_branches; k++)
        if (tm_coswara_parse_branch(branch_v[k], &branches[k]) != TM_OK) {
            fprintf(stderr, "tinym2net import-coswara: error: %s\n", tm_last_error());
            return 2;
        }
    tm_coswara_options o = {NULL, 0, TM_COSWARA_SKIP, check_audio};
    o.on_missing = !strcmp(on_missing, "fail") ? TM_COSWARA_FAIL : TM_COSWARA_SKIP;
    if (n_branches) {
        o.branches = branches;
        o.n_branches = n_branches;
    }
    char split_path[2][4200];
    size_t stem = strlen(out);
    if (stem > 4 && !strcmp(out + stem - 4, ".csv"))
        stem -= 4;
    snprintf(split_path[0], sizeof split_path[0], "%.*s-train.csv", (int)stem, out);
    snprintf(split_path[1], sizeof split_path[1], "%.*s-test.csv", (int)stem, out);
    /* Refuse before a long scan; the writes themselves check again atomically. */
    struct stat st;
    for (int k = 0; k < (test_fraction > 0 ? 3 : 1); k++) {
        const char *p = k ? split_path[k - 1] : out;
        if (!force && lstat(p, &st) == 0) {
            fprintf(stderr,
                    "tinym2net import-coswara: error: %s already exists (--force replaces it)\n",
                    p);
            return 1;
        }
    }
    tm_coswara_scan s;
    unsigned char *in_test = NULL;
    tm_status rs = tm_coswara_scan_run(&s, root, &o);
    if (rs == TM_OK) {
        tm_coswara_print_report(&s, stdout);
        if (test_fraction > 0) {
            in_test = calloc((size_t)s.n_rows + 1, 1);
            rs = in_test ? tm_coswara_split(&s, test_fraction, split_seed, in_test)
                         : tm_error(TM_ERR_NOMEM, "import-coswara: out of memory");
        }
    }
    if (rs == TM_OK)
        rs = tm_coswara_write_manifest(&s, out, force);
    for (int k = 0; in_test && rs == TM_OK && k < 2; k++)
        rs = tm_coswara_write_rows(&s, split_path[k], force, in_test, k);
    if (rs != TM_OK) {
        fflush(stdout);
        free(in_test);
        tm_coswara_scan_free(&s);
        return tm_cli_fail("import-coswara");
    }
    printf("wrote %s: %d rows, columns ", out, s.n_rows);
    for (int b = 0; b < s.n_branches; b++) {
        printf("%s (", s.branches[b].name);
        for (int k = 0; k < s.branches[b].n_choices; k++)
            printf("%s%s", k ? ", else " : "", tm_coswara_recordings[s.branches[b].choice[k]]);
        printf("), ");
    }
    printf("label, participant\n");
    if (in_test) {
        int n_test[2] = {0, 0}, n_all[2] = {0, 0};
        for (int i = 0; i < s.n_rows; i++) {
            n_all[s.rows[i].positive]++;
            n_test[s.rows[i].positive] += in_test[i];
        }
        printf("wrote %s: %d rows (%d positive)\nwrote %s: %d rows (%d positive); split seed "
               "%ld, test fraction %g per class\n",
               split_path[0], s.n_rows - n_test[0] - n_test[1], n_all[1] - n_test[1],
               split_path[1], n_test[0] + n_test[1], n_test[1], split_seed, test_fraction);
    }
    free(in_test);
    tm_coswara_scan_free(&s);
    return 0;
}
