/* The processes of one run, through MPI (Open MPI) when the build has it
 * (TM_WITH_MPI) and the program was started by mpirun / srun; otherwise one
 * process, rank 0 of 1, and every call is immediate. A program started
 * without a launcher never initialises MPI, so it behaves exactly as a
 * build without MPI. */
#ifndef TM_RANKS_H
#define TM_RANKS_H

#include <stddef.h>

#include "tm_status.h"

typedef struct tm_ranks {
    int rank, size;
    int mpi; /* MPI initialised by tm_ranks_init */
} tm_ranks;

/* 1 when the environment shows an MPI launcher: mpirun (OMPI_COMM_WORLD_SIZE)
 * or srun with PMI / PMIx (PMI_SIZE, PMIX_RANK). */
int tm_ranks_launched(void);
/* Initialises MPI when launched and the build has it; size 1 otherwise. */
tm_status tm_ranks_init(tm_ranks *r, int *argc, char ***argv);
void tm_ranks_finalize(tm_ranks *r);
/* Ends the run with status rc: alone, finalizes and returns rc; with other
 * ranks (which may wait at a barrier), aborts them all with rc. */
int tm_ranks_exit(tm_ranks *r, int rc);
void tm_ranks_barrier(const tm_ranks *r);
/* In place: rank r's part of buf, counts[r] floats from displs[r], goes to
 * every rank (MPI_Allgatherv; copies bytes, adds nothing). Alone: nothing. */
tm_status tm_ranks_allgather_floats(const tm_ranks *r, float *buf, const int *counts,
                                    const int *displs);
/* Item i of buf (per doubles each, n items) is computed by rank i % size:
 * every rank gets every item. The items a rank does not own must be zero
 * on it; one MPI_Allreduce sum then adds only zeros to each value, so the
 * values arrive exactly. Alone: nothing. */
tm_status tm_ranks_share_doubles(const tm_ranks *r, double *buf, int per, int n);
/* 1 when v is the same on every rank. */
int tm_ranks_agree(const tm_ranks *r, long v);
/* 1 when the build has MPI. */
int tm_ranks_have_mpi(void);

#endif
