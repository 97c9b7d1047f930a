/* Files and folders that are only ever seen whole: mkdir -p, a file written
 * under a temporary name and renamed onto its own, and an output folder
 * whose files change as one unit. Every publishing rename goes through
 * tm_rename (core/tm_fault.h), so the fault tests reach each of them.
 * (Several files in several folders changing as one: core/tm_file_set.h.) */
#ifndef TM_FS_H
#define TM_FS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tm_status.h"

enum { TM_FS_PATH_LEN = 4096 };

/* mkdir -p: dir and its missing parents; an existing folder is fine, an
 * existing file is an error. */
tm_status tm_mkdirs(const char *dir);

/* fsync of a file or folder, best effort (some file systems refuse it on
 * folders). */
void tm_fsync_path(const char *path);
/* tm_fsync_path of the folder holding path. */
void tm_fsync_parent(const char *path);

/* Publishes the finished file tmp as path when s is TM_OK: fsync of tmp,
 * tm_rename, fsync of the folder. On any failure (or s not TM_OK) tmp is
 * removed and path is as it was. Returns s or the failure. */
tm_status tm_publish(const char *tmp, const char *path, tm_status s);

/* A file written whole to PATH.tmp-PID and published as PATH. */
typedef struct tm_atomic_file {
    FILE *f;
    char path[TM_FS_PATH_LEN];
    char tmp[TM_FS_PATH_LEN + 32];
} tm_atomic_file;
/* Opens a->f on the temporary name (mode "w" or "wb"). */
tm_status tm_atomic_open(tm_atomic_file *a, const char *path, const char *mode);
/* Closes a->f and, when s is TM_OK and every write and the close worked,
 * publishes it (tm_publish); otherwise removes the temporary. Returns s or
 * the failure. */
tm_status tm_atomic_close(tm_atomic_file *a, tm_status s);
/* n bytes of data as path, through tm_atomic_open / tm_atomic_close. */
tm_status tm_atomic_write(const char *path, const void *data, size_t n);

/* A file whole, in 4-byte aligned memory (the runtime reads a model file's
 * records in place); an empty file is an error. Caller frees *bytes. */
tm_status tm_read_file_aligned(const char *path, uint8_t **bytes, size_t *n);

/* Calls fn(stale, ctx) for each NAME<sep>PID beside path (NAME is path's
 * last component; seps ends with NULL) whose PID is a dead process: what a
 * killed writer left behind. */
void tm_fs_each_stale(const char *path, const char *const *seps,
                      void (*fn)(const char *stale, void *ctx), void *ctx);
/* Removes them (tm_fs_each_stale with remove(3)). */
void tm_fs_remove_stale(const char *path, const char *const *seps);

/* An output folder whose outputs change as one unit: they are written into
 * stage (DIR.tmp-PID), then tm_outdir_commit swaps it with DIR in one
 * rename (renameat2 RENAME_EXCHANGE), so DIR is wholly old or wholly new.
 * Other files in DIR are kept (hard-linked before the swap; folders moved
 * after it). Begin also recovers and removes stages of dead processes. */
typedef struct {
    char dir[TM_FS_PATH_LEN];
    char stage[TM_FS_PATH_LEN + 48];
    const char *not_kept[4]; /* outputs this run leaves out: their old copies go too */
} tm_outdir;
tm_status tm_outdir_begin(tm_outdir *d, const char *dir);
/* An output of the command that this run does not write (a picture when
 * gnuplot is missing): an old one in DIR is not kept beside the new outputs.
 * name must outlive the commit; at most 4. */
void tm_outdir_not_kept(tm_outdir *d, const char *name);
tm_status tm_outdir_commit(tm_outdir *d);
/* Removes the stage after a failure; DIR is left as it was. */
void tm_outdir_abort(tm_outdir *d);

#endif
