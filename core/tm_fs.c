#define _GNU_SOURCE /* renameat2 */
#include "tm_fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tm_fault.h"

#define TM_PATH_LEN TM_FS_PATH_LEN

tm_status tm_mkdirs(const char *dir)
{
    char p[TM_PATH_LEN];
    if (!dir || !*dir)
        return tm_error(TM_ERR_ARG, "an empty folder name");
    if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p)
        return tm_error(TM_ERR_ARG, "%s: path too long", dir);
    for (char *c = p + 1; *c; c++)
        if (*c == '/') {
            *c = '\0';
            mkdir(p, 0777); /* parents: a failure shows up below */
            *c = '/';
        }
    if (mkdir(p, 0777) == 0 || errno == EEXIST) {
        struct stat st;
        if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
            return TM_OK;
        return tm_error(TM_ERR_IO, "%s: exists and is not a folder", dir);
    }
    return tm_error(TM_ERR_IO, "%s: cannot create folder: %s", dir, strerror(errno));
}

void tm_fsync_path(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
        (void)fsync(fd); /* best effort: some file systems refuse it on folders */
        close(fd);
    }
}

void tm_fsync_parent(const char *path)
{
    char d[TM_PATH_LEN + 512];
    snprintf(d, sizeof d, "%s", path);
    char *slash = strrchr(d, '/');
    if (slash == d)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        snprintf(d, sizeof d, ".");
    tm_fsync_path(d);
}

tm_status tm_publish(const char *tmp, const char *path, tm_status s)
{
    if (s == TM_OK) {
        /* the data on disk before the rename makes it the file */
        int fd = open(tmp, O_RDONLY);
        if (fd < 0 || fsync(fd) != 0)
            s = tm_error(TM_ERR_IO, "%s: fsync of %s failed: %s", path, tmp, strerror(errno));
        if (fd >= 0)
            close(fd);
    }
    if (s == TM_OK && tm_rename(tmp, path) != 0)
        s = tm_error(TM_ERR_IO, "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
    if (s != TM_OK) {
        remove(tmp);
        return s;
    }
    tm_fsync_parent(path);
    return TM_OK;
}

tm_status tm_read_file_aligned(const char *path, uint8_t **bytes, size_t *n)
{
    *bytes = NULL;
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return tm_error(TM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    long len = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        len = ftell(f);
    if (len <= 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return tm_error(TM_ERR_FORMAT, "%s: %s", path,
                        len == 0 ? "the file is empty" : "cannot size the file");
    }
    uint32_t *buf = malloc(((size_t)len + 3) / 4 * 4 + 4);
    if (!buf) {
        fclose(f);
        return tm_error(TM_ERR_NOMEM, "%s: out of memory for %ld bytes", path, len);
    }
    size_t got = fread(buf, 1, (size_t)len, f);
    fclose(f);
    if (got != (size_t)len) {
        free(buf);
        return tm_error(TM_ERR_IO, "%s: short read (%zu of %ld bytes)", path, got, len);
    }
    *bytes = (uint8_t *)buf;
    *n = got;
    return TM_OK;
}

void tm_fs_each_stale(const char *path, const char *const *seps,
                      void (*fn)(const char *stale, void *ctx), void *ctx)
{
    char dir[TM_PATH_LEN];
    if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir)
        return;
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        dir[--n] = '\0';
    char *slash = strrchr(dir, '/');
    const char *base = slash ? slash + 1 : path;
    char base_buf[TM_PATH_LEN];
    snprintf(base_buf, sizeof base_buf, "%s", base);
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    DIR *dp = opendir(dir);
    if (!dp)
        return;
    size_t bl = strlen(base_buf);
    struct dirent *de;
    while ((de = readdir(dp))) {
        if (strncmp(de->d_name, base_buf, bl))
            continue;
        const char *rest = de->d_name + bl;
        for (const char *const *sep = seps; *sep; sep++) {
            size_t sl = strlen(*sep);
            if (strncmp(rest, *sep, sl))
                continue;
            char *end;
            long pid = strtol(rest + sl, &end, 10);
            if (*end || pid <= 0 || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
                break;
            char p[2 * TM_PATH_LEN + 2];
            snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
            fn(p, ctx);
            break;
        }
    }
    closedir(dp);
}

static void remove_one(const char *p, void *ctx)
{
    (void)ctx;
    (void)remove(p);
}

void tm_fs_remove_stale(const char *path, const char *const *seps)
{
    tm_fs_each_stale(path, seps, remove_one, NULL);
}

tm_status tm_atomic_open(tm_atomic_file *a, const char *path, const char *mode)
{
    a->f = NULL;
    if (snprintf(a->path, sizeof a->path, "%s", path) >= (int)sizeof a->path)
        return tm_error(TM_ERR_ARG, "%s: path too long", path);
    /* the process id: two writers of one path never share a temporary */
    snprintf(a->tmp, sizeof a->tmp, "%s.tmp-%ld", path, (long)getpid());
    if (!(a->f = fopen(a->tmp, mode)))
        return tm_error(TM_ERR_IO, "%s: cannot write: %s", a->tmp, strerror(errno));
    return TM_OK;
}

tm_status tm_atomic_close(tm_atomic_file *a, tm_status s)
{
    if (!a->f)
        return s;
    int bad = ferror(a->f);
    if ((fclose(a->f) != 0 || bad) && s == TM_OK)
        s = tm_error(TM_ERR_IO, "%s: write failed: %s", a->tmp, strerror(errno));
    a->f = NULL;
    return tm_publish(a->tmp, a->path, s);
}

tm_status tm_atomic_write(const char *path, const void *data, size_t n)
{
    tm_atomic_file a;
    TM_TRY(tm_atomic_open(&a, path, "wb"));
    tm_status s = TM_OK;
    if (fwrite(data, 1, n, a.f) != n)
        s = tm_error(TM_ERR_IO, "%s: write failed: %s", a.tmp, strerror(errno));
    return tm_atomic_close(&a, s);
}

/* ---- output folders that change as one unit ---------------------------- */

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *f)
{
    (void)st, (void)flag, (void)f;
    return remove(p) != 0 && errno != ENOENT;
}

static void rm_tree(const char *p)
{
    nftw(p, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static const char STAGE_MARK[] = ".tm-stage";

/* The entries of from that to lacks, moved into to (link_files 0: a
 * user's files left in the old folder by a kill after the swap) or, files
 * only, hard-linked (1: kept before the swap; subfolders only from has are
 * moved after it); through subfolders both hold. */
/* skip: names at this level not to bring across (NULL-terminated, or NULL). */
static tm_status merge_missing(const char *from, const char *to, int link_files,
                               const char *const *skip)
{
    DIR *dp = opendir(from);
    if (!dp)
        return TM_OK;
    tm_status s = TM_OK;
    struct dirent *de;
    while (s == TM_OK && (de = readdir(dp))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
            !strcmp(de->d_name, STAGE_MARK))
            continue;
        int skipped = 0;
        for (int i = 0; skip && skip[i]; i++)
            skipped |= !strcmp(de->d_name, skip[i]);
        if (skipped)
            continue;
        char a[2 * TM_PATH_LEN], b[2 * TM_PATH_LEN];
        struct stat sa, sb;
        snprintf(a, sizeof a, "%s/%s", from, de->d_name);
        snprintf(b, sizeof b, "%s/%s", to, de->d_name);
        int have_b = lstat(b, &sb) == 0, missing = !have_b && errno == ENOENT;
        if (lstat(a, &sa) != 0)
            continue;
        if (have_b) {
            if (S_ISDIR(sa.st_mode) && S_ISDIR(sb.st_mode))
                s = merge_missing(a, b, link_files, NULL);
        } else if (!link_files) {
            if (missing)
                (void)rename(a, b);
        } else if (!S_ISDIR(sa.st_mode) && link(a, b) != 0) {
            s = tm_error(TM_ERR_IO, "%s: cannot keep it in the new folder (link to %s): %s", a,
                         b, strerror(errno));
        }
    }
    closedir(dp);
    return s;
}

/* DIR.tmp-PID of a dead PID: a stage (has the mark) is dropped; an old
 * folder swapped out (no mark) first gives back what the new one lacks. */
static void drop_stale(const char *p, void *ctx)
{
    const tm_outdir *d = ctx;
    char mark[2 * TM_PATH_LEN + 16];
    struct stat st;
    snprintf(mark, sizeof mark, "%s/%s", p, STAGE_MARK);
    if (lstat(mark, &st) != 0)
        (void)merge_missing(p, d->dir, 0, NULL);
    rm_tree(p);
}

static void clean_stale(tm_outdir *d)
{
    static const char *const seps[] = {".tmp-", NULL};
    tm_fs_each_stale(d->dir, seps, drop_stale, d);
    char mark[TM_PATH_LEN + 16];
    snprintf(mark, sizeof mark, "%s/%s", d->dir, STAGE_MARK);
    (void)remove(mark); /* a kill right after the swap left it */
}

tm_status tm_outdir_begin(tm_outdir *d, const char *dir)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    if (n >= sizeof d->dir)
        return tm_error(TM_ERR_ARG, "%s: path too long", dir);
    memcpy(d->dir, dir, n);
    d->dir[n] = '\0';
    memset(d->not_kept, 0, sizeof d->not_kept);
    snprintf(d->stage, sizeof d->stage, "%s.tmp-%ld", d->dir, (long)getpid());
    TM_TRY(tm_mkdirs(d->dir)); /* also the parent folders */
    clean_stale(d);
    rm_tree(d->stage);
    if (mkdir(d->stage, 0777) != 0)
        return tm_error(TM_ERR_IO, "%s: cannot create folder: %s", d->stage, strerror(errno));
    char mark[sizeof d->stage + 16];
    snprintf(mark, sizeof mark, "%s/%s", d->stage, STAGE_MARK);
    FILE *f = fopen(mark, "w");
    if (!f || fclose(f) != 0) {
        tm_status s = tm_error(TM_ERR_IO, "%s: cannot write: %s", mark, strerror(errno));
        tm_outdir_abort(d);
        return s;
    }
    return TM_OK;
}

void tm_outdir_abort(tm_outdir *d)
{
    if (d->stage[0])
        rm_tree(d->stage);
    d->stage[0] = '\0';
}

void tm_outdir_not_kept(tm_outdir *d, const char *name)
{
    for (int i = 0; i < 4; i++)
        if (!d->not_kept[i]) {
            d->not_kept[i] = name;
            return;
        }
}

tm_status tm_outdir_commit(tm_outdir *d)
{
    /* The user's files in DIR, as hard links, so the swap keeps them. */
    const char *skip[5] = {d->not_kept[0], d->not_kept[1], d->not_kept[2], d->not_kept[3], NULL};
    tm_status s = merge_missing(d->dir, d->stage, 1, skip);
    if (s == TM_OK) {
        tm_fsync_path(d->stage);
        if (tm_fault_rename())
            s = tm_error(TM_ERR_IO, "%s: cannot swap in %s: %s (injected)", d->dir, d->stage,
                         strerror(EIO));
        else if (renameat2(AT_FDCWD, d->stage, AT_FDCWD, d->dir, RENAME_EXCHANGE) != 0)
            s = tm_error(TM_ERR_IO, "%s: cannot swap in %s: %s", d->dir, d->stage,
                         strerror(errno));
    }
    if (s != TM_OK) {
        tm_outdir_abort(d);
        return s;
    }
    /* d->stage now holds the old folder: its subfolders move across, the rest goes. */
    char mark[sizeof d->dir + 16], parent[sizeof d->dir + 4];
    snprintf(mark, sizeof mark, "%s/%s", d->dir, STAGE_MARK);
    (void)remove(mark);
    (void)merge_missing(d->stage, d->dir, 0, skip);
    snprintf(parent, sizeof parent, "%s/..", d->dir);
    tm_fsync_path(d->dir);
    tm_fsync_path(parent);
    tm_outdir_abort(d);
    return TM_OK;
}
