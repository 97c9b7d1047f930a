/* Coswara COVID-19 data (github.com/iiscleap/Coswara-Data) to a training
 * manifest: combined_data.csv gives each participant's covid_status, the
 * recordings are Extracted_data/<date>/<id>/<recording>.wav. The label rule
 * and the missing-file policy are written down in docs/coswara.md. */
#ifndef TM_COSWARA_H
#define TM_COSWARA_H

#include <stdint.h>
#include <stdio.h>

#include "tm_dataset.h"
#include "tm_status.h"

/* The nine recordings of every participant, in the data set's order. */
#define TM_COSWARA_N_RECORDINGS 9
extern const char *const tm_coswara_recordings[TM_COSWARA_N_RECORDINGS];

#define TM_COSWARA_MAX_BRANCHES TM_MAX_MODALITIES
/* Recordings one branch may fall back on, in order of preference. */
#define TM_COSWARA_MAX_CHOICES TM_COSWARA_N_RECORDINGS
/* Example file names kept per drop reason for the report. */
#define TM_COSWARA_EXAMPLES 3

/* One manifest column: its name and the recording(s) it holds. With more
 * than one recording the first usable one is taken (cough-heavy, else
 * cough-shallow, ...). */
typedef struct tm_coswara_branch {
    char name[TM_NAME_LEN];
    int n_choices;
    int choice[TM_COSWARA_MAX_CHOICES]; /* indices into tm_coswara_recordings */
} tm_coswara_branch;

typedef enum tm_coswara_policy {
    TM_COSWARA_SKIP = 0, /* drop the participant, count it in the report */
    TM_COSWARA_FAIL      /* stop with an error naming the file and the reason */
} tm_coswara_policy;

typedef struct tm_coswara_options {
    const tm_coswara_branch *branches; /* NULL = cough=cough-heavy, breath=breathing-deep */
    int n_branches;
    tm_coswara_policy on_missing;
    int check_audio; /* open and decode every chosen file with libsndfile (the
                        default of NULL options and of the command line) */
} tm_coswara_options;

/* Why a participant with a usable label did not make it into the manifest. */
typedef enum tm_coswara_reason {
    TM_COSWARA_NO_FOLDER = 0, /* no Extracted_data/<date>/<id>/ folder */
    TM_COSWARA_MISSING,       /* a branch's recording file does not exist */
    TM_COSWARA_EMPTY,         /* 0 bytes, or (with check_audio) 0 frames */
    TM_COSWARA_UNREADABLE,    /* (check_audio) libsndfile cannot open or decode it */
    TM_COSWARA_N_REASONS
} tm_coswara_reason;

typedef struct tm_coswara_status_count {
    char status[TM_NAME_LEN]; /* covid_status text; "" for an empty cell */
    int count;
} tm_coswara_status_count;

typedef struct tm_coswara_report {
    int participants;   /* data rows of combined_data.csv */
    int kept, positive, negative;
    int excluded;       /* left out by status, all statuses together */
    int n_statuses;
    tm_coswara_status_count *statuses; /* per excluded status, most frequent first; owned */
    int dropped[TM_COSWARA_N_REASONS];
    /* First few files (participant ids for NO_FOLDER), relative to the
     * Coswara root, with the reason's detail for unreadable files. */
    char example[TM_COSWARA_N_REASONS][TM_COSWARA_EXAMPLES][512];
    int folders;          /* participant folders found under Extracted_data */
    int orphan_folders;   /* folders with no row in combined_data.csv */
    char orphan_example[TM_COSWARA_EXAMPLES][512];
    int duplicate_folders; /* participants with folders under several dates (earliest used) */
    int fallbacks;         /* kept participants that used a later recording choice */
    int audio_checked;     /* check_audio was on: unreadable files were looked for */
} tm_coswara_report;

/* One manifest row: absolute, symlink-free paths of the chosen recordings. */
typedef struct tm_coswara_row {
    char *participant;                       /* owned */
    int positive;                            /* 1 positive, 0 negative */
    char *path[TM_COSWARA_MAX_BRANCHES];     /* owned */
} tm_coswara_row;

typedef struct tm_coswara_scan {
    int n_branches;
    tm_coswara_branch branches[TM_COSWARA_MAX_BRANCHES];
    int n_rows;
    tm_coswara_row *rows; /* in combined_data.csv order; owned */
    tm_coswara_report report;
} tm_coswara_scan;

/* Index of a recording name in tm_coswara_recordings, or -1. */
int tm_coswara_recording_index(const char *name);

/* "positive" for positive_mild, positive_moderate and positive_asymp,
 * "negative" for healthy, NULL for every other status. */
const char *tm_coswara_label(const char *covid_status);

/* Parses "NAME=RECORDING[,RECORDING...]". NAME is 1-63 of [A-Za-z0-9_-],
 * not "label" or "participant"; an unknown recording is TM_ERR_ARG naming
 * it and listing the valid ones. */
tm_status tm_coswara_parse_branch(const char *spec, tm_coswara_branch *out);

/* Reads root/combined_data.csv, walks root/Extracted_data/<date>/<id>/ and
 * keeps every participant with a positive/negative label whose branches all
 * have a usable recording. Errors: TM_ERR_IO (missing root, CSV or
 * Extracted_data; with TM_COSWARA_FAIL a missing recording), TM_ERR_FORMAT
 * (bad CSV, no id or covid_status column, duplicate or empty id; with
 * TM_COSWARA_FAIL an empty or unreadable recording), TM_ERR_ARG (bad
 * branches). The report is filled as far as the scan got, even on error;
 * call tm_coswara_scan_free either way. */
tm_status tm_coswara_scan_run(tm_coswara_scan *s, const char *root, const tm_coswara_options *o);
void tm_coswara_scan_free(tm_coswara_scan *s);

/* Writes the manifest: header "<branch>,...,label,participant", one row per
 * kept participant. Paths are relative to the manifest's folder when it
 * shares a top-level folder with the recordings, else absolute. The file is
 * written to a temporary name in the same folder and renamed into place; an
 * existing file is an error (TM_ERR_IO) unless force. An empty scan (no
 * participant kept) is TM_ERR_FORMAT and nothing is written. */
tm_status tm_coswara_write_manifest(const tm_coswara_scan *s, const char *path, int force);
/* The same for the rows i with keep[i] == want only (keep NULL = all). */
tm_status tm_coswara_write_rows(const tm_coswara_scan *s, const char *path, int force,
                                const unsigned char *keep, int want);

/* Marks about fraction of each class's participants in_test[i] = 1 (the
 * rest 0), seeded; n_rows entries. Both sets keep both classes: a class with
 * fewer than 2 participants is TM_ERR_FORMAT, a fraction outside (0, 1)
 * TM_ERR_ARG. */
tm_status tm_coswara_split(const tm_coswara_scan *s, double fraction, uint64_t seed,
                           unsigned char *in_test);

/* Writes the report as plain text lines to f. */
void tm_coswara_print_report(const tm_coswara_scan *s, FILE *f);

/* path relative to the folder dir (both absolute, normalised): "a/b.wav",
 * "../x/b.wav"; the absolute path when they share no top-level folder. */
tm_status tm_coswara_relative_path(const char *dir, const char *path, char *buf, size_t n);

#endif
