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
    /* srun sets PMIx or PMI variables for its tasks; a batch script's own
     * SLURM_* variables are not a launch */
    return getenv("PMIX_RANK") != NULL;
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

tm_status tm_ranks_allgather_floats(const tm_ranks *r, float *buf, const int *counts,
                                    const int *displs)
{
#ifdef TM_WITH_MPI
    if (r->size > 1 && MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, counts, displs,
                                      MPI_FLOAT, MPI_COMM_WORLD) != MPI_SUCCESS)
        return tm_error(TM_ERR_IO, "MPI_Allgatherv of %d floats failed", displs[r->size - 1] +
                                                                           counts[r->size - 1]);
#else
    (void)r, (void)buf, (void)counts, (void)displs;
#endif
    return TM_OK;
}

tm_status tm_ranks_share_doubles(const tm_ranks *r, double *buf, int per, int n)
{
#ifdef TM_WITH_MPI
    if (r->size > 1 && per > 0 && n > 0) {
        for (int i = 0; i < n; i++)
            if (i % r->size != r->rank)
                for (int k = 0; k < per; k++)
                    buf[(size_t)i * per + k] = 0.0;
        if (MPI_Allreduce(MPI_IN_PLACE, buf, per * n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD) !=
            MPI_SUCCESS)
            return tm_error(TM_ERR_IO, "MPI_Allreduce of %d doubles failed", per * n);
    }
#else
    (void)r, (void)buf, (void)per, (void)n;
#endif
    return TM_OK;
}

int tm_ranks_agree(const tm_ranks *r, long v)
{
#ifdef TM_WITH_MPI
    if (r->size > 1) {
        long lo = v, hi = v;
        MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_LONG, MPI_MIN, MPI_COMM_WORLD);
        MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_LONG, MPI_MAX, MPI_COMM_WORLD);
        return lo == hi;
    }
#else
    (void)r, (void)v;
#endif
    return 1;
}
