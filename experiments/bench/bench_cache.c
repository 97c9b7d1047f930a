/* Feature cache speed-up: one pass over a manifest's samples decoded from
 * the files (libsndfile, libsamplerate, libpng, front end) against the same
 * pass read from the HDF5 feature cache, in one run, as a ratio.
 *
 *   build/bench_cache [--cfg FILE] [--threads N]
 * Needs TINYM2NET_DATA (or [data] root) for the manifest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tm_data_load.h"
#include "tm_manifest_data.h"
#include "tm_progress.h"

#ifndef TM_SOURCE_DIR
#define TM_SOURCE_DIR "."
#endif

static int load(const tm_experiment *e, const char *path, const char *cache, tm_pool *pool,
                double *seconds, int *from_cache, int *n)
{
    tm_manifest_options o;
    memset(&o, 0, sizeof o);
    o.specs = e->features;
    o.n_specs = e->model.n_branches;
    o.label_column = e->data.label_column;
    o.pool = pool;
    o.cache_dir = cache;
    tm_manifest_set s;
    double t0 = tm_now_seconds();
    if (tm_manifest_set_load(&s, path, &o) != TM_OK) {
        fprintf(stderr, "bench_cache: %s\n", tm_last_error());
        return 1;
    }
    *seconds = tm_now_seconds() - t0;
    *from_cache = s.from_cache;
    *n = s.data.n;
    tm_manifest_set_free(&s);
    return 0;
}

int main(int argc, char **argv)
{
    const char *cfg = TM_SOURCE_DIR "/experiments/avdigits/fused-compressed.cfg";
    int threads = 2;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--cfg") && i + 1 < argc)
            cfg = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_cache [--cfg FILE] [--threads N]\n");
            return 2;
        }
    }
    tm_experiment e;
    if (tm_experiment_load(&e, cfg, NULL, 0) != TM_OK) {
        fprintf(stderr, "bench_cache: %s\n", tm_last_error());
        return 1;
    }
    char root[TM_PATH_LEN], path[2 * TM_PATH_LEN];
    if (tm_data_root(&e, root, sizeof root) != TM_OK) {
        fprintf(stderr, "bench_cache: %s\n", tm_last_error());
        return 1;
    }
    snprintf(path, sizeof path, "%s/%s", root, e.data.train);
    char cache[] = "/tmp/tm-bench-cache-XXXXXX";
    if (!mkdtemp(cache)) {
        perror("bench_cache: mkdtemp");
        return 1;
    }
    tm_pool *pool = NULL;
    if (tm_pool_new(&pool, threads) != TM_OK)
        return 1;
    double t_decode, t_write, t_cache;
    int fc1, fc_w, fc2, n;
    /* decode only; decode and write the cache; read the cache */
    if (load(&e, path, NULL, pool, &t_decode, &fc1, &n) ||
        load(&e, path, cache, pool, &t_write, &fc_w, &n) ||
        load(&e, path, cache, pool, &t_cache, &fc2, &n))
        return 1;
    printf("manifest: %s (%d samples, %d threads)\n", path, n, threads);
    printf("decode_seconds %.3f (from cache: %s)\n", t_decode, fc1 ? "yes" : "no");
    printf("decode_and_write_cache_seconds %.3f\n", t_write);
    printf("cache_seconds %.3f (from cache: %s)\n", t_cache, fc2 ? "yes" : "no");
    printf("speed-up cache / decode = %.1fx\n", t_decode / t_cache);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", cache);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_cache: could not remove %s\n", cache);
    tm_pool_free(pool);
    tm_experiment_free(&e);
    return fc1 == 0 && fc2 == 1 ? 0 : 1;
}
