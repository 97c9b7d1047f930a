/* An outside tool built against the installed training libraries
 * (find_package(TinyM2Net) or pkg-config tinym2net): the exporter's size
 * accounting of a model file, which `tinym2net export` prints too.
 *
 *   trainer_stats MODEL   -> "flash,<bytes>" "arena,<bytes>" "macs,<n>" */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "tm_export.h"
#include "tm_rt_model.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: trainer_stats MODEL\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        fprintf(stderr, "trainer_stats: %s: cannot open\n", argv[1]);
        return 1;
    }
    static uint32_t file[1 << 20]; /* 4 MB, 4-byte aligned */
    size_t n = fread(file, 1, sizeof file, f);
    fclose(f);
    tm_rt_model m;
    if (tm_rt_model_open(&m, file, n) != TM_RT_OK) {
        fprintf(stderr, "trainer_stats: %s: %s\n", argv[1], tm_rt_model_error(&m));
        return 1;
    }
    tm_export_stats s;
    tm_export_stats_of(&m, &s);
    printf("flash,%zu\narena,%lu\nmacs,%llu\n", s.file_bytes, (unsigned long)s.arena_bytes,
           (unsigned long long)s.macs);
    return 0;
}
