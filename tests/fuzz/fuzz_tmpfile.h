/* The file decoders take paths, so each input is written to one per-process
 * file first (in $TMPDIR, default /tmp), reused for every input. */
#ifndef FUZZ_TMPFILE_H
#define FUZZ_TMPFILE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static const char *fuzz_write_tmp(const char *ext, const uint8_t *data, size_t size)
{
    static char path[512];
    if (!path[0]) {
        const char *dir = getenv("TMPDIR");
        snprintf(path, sizeof path, "%s/tm-fuzz-%ld%s", dir && *dir ? dir : "/tmp", (long)getpid(),
                 ext);
    }
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        abort();
    }
    if (size && fwrite(data, 1, size, f) != size) {
        perror(path);
        abort();
    }
    fclose(f);
    return path;
}

#endif
