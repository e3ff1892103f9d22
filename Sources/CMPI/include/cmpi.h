// The few Open MPI calls arc-pipeline's data-parallel training and evaluation use, reached through
// dlopen/dlsym at run time so the binary never links MPI: a single process needs no MPI library.
// Open MPI 4.x (libmpi.so.40) ABI: MPI_Comm, MPI_Datatype and MPI_Op are pointers to exported
// globals (ompi_mpi_comm_world, ompi_mpi_float, ompi_mpi_op_sum, ...), resolved with dlsym.
#ifndef ARC_CMPI_H
#define ARC_CMPI_H

#include <stddef.h>

/// Element types of the buffers passed below.
enum arc_mpi_type { ARC_MPI_FLOAT = 0, ARC_MPI_INT32 = 1, ARC_MPI_BYTE = 2, ARC_MPI_DOUBLE = 3 };

/// Loads `path` (RTLD_GLOBAL: Open MPI's plugins need its symbols) and resolves every function and
/// constant. Returns 0, or -1 with a one-line reason in `message`.
int arc_mpi_load(const char *path, char *message, size_t message_size);

/// MPI_Init_thread(FUNNELED) with errors returned (MPI_ERRORS_RETURN on MPI_COMM_WORLD), then the
/// rank and size of MPI_COMM_WORLD. Returns an MPI error code (0 = success).
int arc_mpi_init(int *rank, int *size);
int arc_mpi_finalize(void);
void arc_mpi_abort(int code);
/// The MPI library's text for an error code.
void arc_mpi_error_string(int code, char *message, size_t message_size);
/// The library's version line (MPI_Get_library_version), or "" before arc_mpi_load.
void arc_mpi_library_version(char *message, size_t message_size);

int arc_mpi_barrier(void);
int arc_mpi_bcast(void *buffer, int count, int type, int root);
/// In-place sum (type FLOAT, INT32 or DOUBLE) or maximum (is_max != 0) over all ranks.
int arc_mpi_allreduce(void *buffer, int count, int type, int is_max);
int arc_mpi_alltoall(const void *send, void *receive, int count_per_rank, int type);
int arc_mpi_allgather(const void *send, void *receive, int count_per_rank, int type);
int arc_mpi_allgatherv(const void *send, int count, void *receive, const int *counts, const int *displacements, int type);
/// Only the root's counts/displacements/receive are used.
int arc_mpi_gatherv(const void *send, int count, void *receive, const int *counts, const int *displacements, int type, int root);

#endif
