/* Files replaced as one unit, wherever they live (a model file and its C
 * array may sit in different folders, so one folder swap cannot do it).
 *
 * The caller writes each new file completely to its own temporary name
 * (tm_file_set_tmp_name) and then calls tm_file_set_commit, which
 *   1. hard-links each old file to DST.prev-PID (for a rollback),
 *   2. publishes a journal DST0.commit naming every (temporary, final) pair:
 *      the commit point,
 *   3. renames each temporary file onto its final name,
 *   4. removes the journal and the .prev links.
 * A failure in 3 rolls the renamed ones back from .prev: wholly old. A kill
 * after 2 leaves the journal; tm_file_set_recover (called by the next writer
 * and reader of DST0) finishes the renames: wholly new. A kill before 2
 * leaves only temporaries, which recover removes once their writer is dead. */
#ifndef TM_FILE_SET_H
#define TM_FILE_SET_H

#include <stddef.h>

#include "tm_status.h"

enum { TM_FILE_SET_MAX = 8 };

/* "DST.tmp-PID" into buf (cap bytes); TM_ERR_ARG when it does not fit. */
tm_status tm_file_set_tmp_name(const char *dst, char *buf, size_t cap);
/* Publishes tmp[i] as dst[i] for i < n (n <= TM_FILE_SET_MAX). On failure
 * every dst is as it was and every tmp is removed. */
tm_status tm_file_set_commit(const char *const *tmp, const char *const *dst, int n);
/* Finishes an interrupted commit whose journal is dst[0].commit, and removes
 * temporaries and .prev links of dead writers for dst[0..n-1]. *finished
 * (may be NULL) is set to 1 when a journal was completed. A journal of a
 * live process is an error (another writer is at work). */
tm_status tm_file_set_recover(const char *const *dst, int n, int *finished);

#endif
