#include "tm_file_set.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tm_fault.h"
#include "tm_fs.h"

enum { NAME_CAP = 4400 };
static const char MAGIC[] = "tinym2net file set 1";

tm_status tm_file_set_tmp_name(const char *dst, char *buf, size_t cap)
{
    int k = snprintf(buf, cap, "%s.tmp-%ld", dst, (long)getpid());
    if (k < 0 || (size_t)k >= cap)
        return tm_error(TM_ERR_ARG, "%s: path too long", dst);
    return TM_OK;
}

static int exists(const char *p)
{
    struct stat st;
    return lstat(p, &st) == 0;
}

static int alive(long pid)
{
    return pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH;
}

static void prev_name(const char *dst, long pid, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s.prev-%ld", dst, pid);
}

static tm_status write_journal(const char *journal, const char *const *tmp,
                               const char *const *dst, int n)
{
    char jtmp[NAME_CAP];
    TM_TRY(tm_file_set_tmp_name(journal, jtmp, sizeof jtmp));
    FILE *f = fopen(jtmp, "w");
    if (!f)
        return tm_error(TM_ERR_IO, "%s: cannot write: %s", jtmp, strerror(errno));
    fprintf(f, "%s\npid %ld\n", MAGIC, (long)getpid());
    /* absolute paths: the next reader may run from another folder */
    char cwd[NAME_CAP];
    if (!getcwd(cwd, sizeof cwd))
        cwd[0] = '\0';
    for (int i = 0; i < n; i++)
        fprintf(f, "%s%s%s\t%s%s%s\n", tmp[i][0] == '/' ? "" : cwd, tmp[i][0] == '/' ? "" : "/",
                tmp[i], dst[i][0] == '/' ? "" : cwd, dst[i][0] == '/' ? "" : "/", dst[i]);
    int bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
    int err = errno;
    bad |= fclose(f) != 0;
    if (bad) {
        remove(jtmp);
        return tm_error(TM_ERR_IO, "%s: write failed: %s", jtmp, strerror(err ? err : errno));
    }
    if (tm_rename(jtmp, journal) != 0) {
        tm_status s = tm_error(TM_ERR_IO, "%s: cannot rename to %s: %s", jtmp, journal,
                               strerror(errno));
        remove(jtmp);
        return s;
    }
    tm_fsync_parent(journal);
    return TM_OK;
}

tm_status tm_file_set_commit(const char *const *tmp, const char *const *dst, int n)
{
    if (n < 1 || n > TM_FILE_SET_MAX)
        return tm_error(TM_ERR_ARG, "tm_file_set_commit: %d files (1 to %d)", n,
                        TM_FILE_SET_MAX);
    tm_status s = TM_OK;
    for (int i = 0; i < n && s == TM_OK; i++)
        if (strlen(dst[i]) + 32 > NAME_CAP || strpbrk(tmp[i], "\t\n") ||
            strpbrk(dst[i], "\t\n"))
            s = tm_error(TM_ERR_ARG, "%s: a path with a tab or line break, or too long", dst[i]);
    if (s != TM_OK || n == 1) {
        if (s == TM_OK && tm_rename(tmp[0], dst[0]) != 0)
            s = tm_error(TM_ERR_IO, "%s: cannot rename to %s: %s", tmp[0], dst[0],
                         strerror(errno));
        if (s != TM_OK)
            for (int i = 0; i < n; i++)
                remove(tmp[i]);
        else
            tm_fsync_parent(dst[0]);
        return s;
    }
    long pid = (long)getpid();
    char prev[TM_FILE_SET_MAX][NAME_CAP], journal[NAME_CAP];
    int have_prev[TM_FILE_SET_MAX] = {0};
    snprintf(journal, sizeof journal, "%s.commit", dst[0]);
    for (int i = 0; i < n && s == TM_OK; i++) {
        prev_name(dst[i], pid, prev[i], sizeof prev[i]);
        remove(prev[i]);
        if (!exists(dst[i]))
            continue;
        if (link(dst[i], prev[i]) != 0)
            s = tm_error(TM_ERR_IO, "%s: cannot keep the old file for a rollback (link to %s): %s",
                         dst[i], prev[i], strerror(errno));
        else
            have_prev[i] = 1;
    }
    if (s == TM_OK)
        s = write_journal(journal, tmp, dst, n);
    int done = 0;
    for (; s == TM_OK && done < n; done++)
        if (tm_rename(tmp[done], dst[done]) != 0)
            s = tm_error(TM_ERR_IO, "%s: cannot rename to %s: %s", tmp[done], dst[done],
                         strerror(errno));
    if (s != TM_OK) {
        /* back to the old files: the ones renamed so far come back from .prev;
         * one that cannot is kept as DST.old, which no clean-up removes */
        for (int i = 0; i < done - 1; i++) {
            if (!have_prev[i]) {
                remove(dst[i]);
                continue;
            }
            if (rename(prev[i], dst[i]) == 0) {
                have_prev[i] = 0;
                continue;
            }
            char kept[NAME_CAP + 8];
            snprintf(kept, sizeof kept, "%s.old", dst[i]);
            int e = errno;
            if (link(prev[i], kept) == 0)
                s = tm_error(TM_ERR_IO, "%s: the new files could not all be put in place, and "
                                        "the old %s could not be restored (%s): it is kept as %s",
                             dst[0], dst[i], strerror(e), kept);
            else
                have_prev[i] = 0; /* keep the .prev link itself: nothing is lost */
        }
        for (int i = 0; i < n; i++)
            remove(tmp[i]);
    }
    for (int i = 0; i < n; i++) {
        tm_fsync_parent(dst[i]);
        if (have_prev[i])
            remove(prev[i]);
    }
    remove(journal);
    tm_fsync_parent(journal);
    return s;
}

/* Removes NAME.tmp-PID and NAME.prev-PID beside dst whose PID is dead. */
static void remove_stale(const char *dst)
{
    static const char *const seps[] = {".tmp-", ".prev-", NULL};
    tm_fs_remove_stale(dst, seps);
}

static tm_status finish_journal(const char *journal, int *finished)
{
    FILE *f = fopen(journal, "r");
    if (!f)
        return errno == ENOENT ? TM_OK
                               : tm_error(TM_ERR_IO, "%s: cannot read: %s", journal,
                                          strerror(errno));
    char line[2 * NAME_CAP + 8];
    long pid = 0;
    tm_status s = TM_OK;
    if (!fgets(line, sizeof line, f) || strncmp(line, MAGIC, strlen(MAGIC)) ||
        !fgets(line, sizeof line, f) || sscanf(line, "pid %ld", &pid) != 1 || pid <= 0)
        s = tm_error(TM_ERR_FORMAT, "%s: not a file-set journal (remove it by hand if no "
                                    "export is running)",
                     journal);
    else if (alive(pid) && pid != (long)getpid())
        s = tm_error(TM_ERR_IO, "%s: another process (pid %ld) is replacing these files", journal,
                     pid);
    while (s == TM_OK && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *tab = strchr(line, '\t');
        if (!tab) {
            s = tm_error(TM_ERR_FORMAT, "%s: a line without a tab", journal);
            break;
        }
        *tab = '\0';
        if (exists(line) && rename(line, tab + 1) != 0)
            s = tm_error(TM_ERR_IO, "%s: cannot finish the interrupted replacement (rename %s "
                                    "to %s): %s",
                         journal, line, tab + 1, strerror(errno));
        else
            tm_fsync_parent(tab + 1);
    }
    fclose(f);
    if (s == TM_OK) {
        remove(journal);
        tm_fsync_parent(journal);
        if (finished)
            *finished = 1;
    }
    return s;
}

tm_status tm_file_set_recover(const char *const *dst, int n, int *finished)
{
    if (finished)
        *finished = 0;
    if (n < 1)
        return TM_OK;
    char journal[NAME_CAP];
    if (snprintf(journal, sizeof journal, "%s.commit", dst[0]) >= (int)sizeof journal)
        return tm_error(TM_ERR_ARG, "%s: path too long", dst[0]);
    TM_TRY(finish_journal(journal, finished));
    remove_stale(journal);
    for (int i = 0; i < n; i++)
        remove_stale(dst[i]);
    return TM_OK;
}
