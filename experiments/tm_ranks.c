#include "tm_ranks.h"

#include <stdlib.h>
#include <string.h>

#ifdef TM_WITH_MPI
#include <mpi.h>
#endif

int tm_ranks_have_mpi(void)
{
#ifdef TM_WITH_MPI
    return 1;
#else
    return 0;
#endif
}

int tm_ranks_launched(void)
{
    const char *v;
    if ((v = getenv("OMPI_COMM_WORLD_SIZE")) || (v = getenv("PMI_SIZE")))
        return atoi(v) >= 1;
    if (getenv("PMIX_RANK"))
        return 1;
    const char *nt = getenv("SLURM_NTASKS");
    return getenv("SLURM_PROCID") && nt && atoi(nt) > 1;
}

tm_status tm_ranks_init(tm_ranks *r, int *argc, char ***argv)
{
    memset(r, 0, sizeof *r);
    r->size = 1;
#ifdef TM_WITH_MPI
    if (!tm_ranks_launched())
        return TM_OK;
    int done = 0;
    MPI_Initialized(&done);
    if (!done && MPI_Init(argc, argv) != MPI_SUCCESS)
        return tm_error(TM_ERR_IO, "MPI_Init failed");
    r->mpi = !done;
    MPI_Comm_rank(MPI_COMM_WORLD, &r->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &r->size);
#else
    (void)argc, (void)argv;
#endif
    return TM_OK;
}

void tm_ranks_finalize(tm_ranks *r)
{
#ifdef TM_WITH_MPI
    if (r->mpi)
        MPI_Finalize();
#endif
    r->mpi = 0;
}

int tm_ranks_exit(tm_ranks *r, int rc)
{
#ifdef TM_WITH_MPI
    if (r->size > 1 && rc != 0)
        MPI_Abort(MPI_COMM_WORLD, rc);
#endif
    tm_ranks_finalize(r);
    return rc;
}

void tm_ranks_barrier(const tm_ranks *r)
{
#ifdef TM_WITH_MPI
    if (r->size > 1)
        MPI_Barrier(MPI_COMM_WORLD);
#else
    (void)r;
#endif
}

void tm_ranks_bcast_long(const tm_ranks *r, long *v, int n)
{
#ifdef TM_WITH_MPI
    if (r->size > 1)
        MPI_Bcast(v, n, MPI_LONG, 0, MPI_COMM_WORLD);
#else
    (void)r, (void)v, (void)n;
#endif
}

tm_status tm_ranks_sum_ordered(const tm_ranks *r, float *x, size_t n)
{
    if (r->size <= 1 || n == 0)
        return TM_OK;
#ifdef TM_WITH_MPI
    /* Gather every rank's vector on every rank, then add in rank order. */
    if (n > (size_t)(1 << 30) / (size_t)r->size)
        return tm_error(TM_ERR_ARG, "distributed sum: %zu values on %d ranks is too many", n,
                        r->size);
    float *all = malloc(sizeof(float) * n * (size_t)r->size);
    if (!all)
        return tm_error(TM_ERR_NOMEM, "distributed sum: out of memory for %zu values", n);
    if (MPI_Allgather(x, (int)n, MPI_FLOAT, all, (int)n, MPI_FLOAT, MPI_COMM_WORLD) !=
        MPI_SUCCESS) {
        free(all);
        return tm_error(TM_ERR_IO, "distributed sum: MPI_Allgather failed");
    }
    memcpy(x, all, sizeof(float) * n);
    for (int k = 1; k < r->size; k++) {
        const float *y = all + (size_t)k * n;
        for (size_t i = 0; i < n; i++)
            x[i] += y[i];
    }
    free(all);
    return TM_OK;
#else
    return tm_error(TM_ERR_INTERNAL, "distributed sum without MPI");
#endif
}
