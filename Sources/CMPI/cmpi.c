// Run-time binding of the Open MPI 4.x calls declared in cmpi.h (dlopen/dlsym; no link-time MPI).
#include "cmpi.h"
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

typedef void *MPI_Comm;
typedef void *MPI_Datatype;
typedef void *MPI_Op;
typedef void *MPI_Errhandler;
#define ARC_MPI_THREAD_FUNNELED 1  /* Open MPI's MPI_THREAD_FUNNELED */

static void *library;
static int (*p_init_thread)(int *, char ***, int, int *);
static int (*p_finalize)(void);
static int (*p_abort)(MPI_Comm, int);
static int (*p_comm_rank)(MPI_Comm, int *);
static int (*p_comm_size)(MPI_Comm, int *);
static int (*p_comm_set_errhandler)(MPI_Comm, MPI_Errhandler);
static int (*p_error_string)(int, char *, int *);
static int (*p_get_library_version)(char *, int *);
static int (*p_barrier)(MPI_Comm);
static int (*p_bcast)(void *, int, MPI_Datatype, int, MPI_Comm);
static int (*p_allreduce)(const void *, void *, int, MPI_Datatype, MPI_Op, MPI_Comm);
static int (*p_alltoall)(const void *, int, MPI_Datatype, void *, int, MPI_Datatype, MPI_Comm);
static int (*p_allgather)(const void *, int, MPI_Datatype, void *, int, MPI_Datatype, MPI_Comm);
static int (*p_allgatherv)(const void *, int, MPI_Datatype, void *, const int *, const int *, MPI_Datatype, MPI_Comm);
static int (*p_gatherv)(const void *, int, MPI_Datatype, void *, const int *, const int *, MPI_Datatype, int, MPI_Comm);

static MPI_Comm comm_world;
static MPI_Datatype types[4];
static MPI_Op op_sum, op_max;
static MPI_Errhandler errors_return;
/* Open MPI's MPI_IN_PLACE */
#define ARC_MPI_IN_PLACE ((void *)1)

static int resolve(void **slot, const char *name, char *message, size_t message_size) {
    *slot = dlsym(library, name);
    if (*slot == NULL) {
        snprintf(message, message_size, "symbol %s not found (the library is not Open MPI 4.x)", name);
        return -1;
    }
    return 0;
}

int arc_mpi_load(const char *path, char *message, size_t message_size) {
    if (library != NULL) return 0;
    library = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
    if (library == NULL) {
        const char *reason = dlerror();
        snprintf(message, message_size, "%s", reason ? reason : "dlopen failed");
        return -1;
    }
    struct { void **slot; const char *name; } table[] = {
        {(void **)&p_init_thread, "MPI_Init_thread"}, {(void **)&p_finalize, "MPI_Finalize"},
        {(void **)&p_abort, "MPI_Abort"}, {(void **)&p_comm_rank, "MPI_Comm_rank"},
        {(void **)&p_comm_size, "MPI_Comm_size"}, {(void **)&p_comm_set_errhandler, "MPI_Comm_set_errhandler"},
        {(void **)&p_error_string, "MPI_Error_string"}, {(void **)&p_get_library_version, "MPI_Get_library_version"},
        {(void **)&p_barrier, "MPI_Barrier"}, {(void **)&p_bcast, "MPI_Bcast"},
        {(void **)&p_allreduce, "MPI_Allreduce"}, {(void **)&p_alltoall, "MPI_Alltoall"},
        {(void **)&p_allgather, "MPI_Allgather"}, {(void **)&p_allgatherv, "MPI_Allgatherv"},
        {(void **)&p_gatherv, "MPI_Gatherv"},
        {&comm_world, "ompi_mpi_comm_world"}, {&types[ARC_MPI_FLOAT], "ompi_mpi_float"},
        {&types[ARC_MPI_INT32], "ompi_mpi_int32_t"}, {&types[ARC_MPI_BYTE], "ompi_mpi_byte"},
        {&types[ARC_MPI_DOUBLE], "ompi_mpi_double"}, {&op_sum, "ompi_mpi_op_sum"}, {&op_max, "ompi_mpi_op_max"},
        {&errors_return, "ompi_mpi_errors_return"},
    };
    for (size_t k = 0; k < sizeof table / sizeof table[0]; k++) {
        if (resolve(table[k].slot, table[k].name, message, message_size) != 0) {
            dlclose(library);
            library = NULL;
            return -1;
        }
    }
    return 0;
}

int arc_mpi_init(int *rank, int *size) {
    int provided = 0;
    int code = p_init_thread(NULL, NULL, ARC_MPI_THREAD_FUNNELED, &provided);
    if (code != 0) return code;
    if ((code = p_comm_set_errhandler(comm_world, errors_return)) != 0) return code;
    if ((code = p_comm_rank(comm_world, rank)) != 0) return code;
    return p_comm_size(comm_world, size);
}

int arc_mpi_finalize(void) { return p_finalize(); }
void arc_mpi_abort(int code) { p_abort(comm_world, code); }

void arc_mpi_error_string(int code, char *message, size_t message_size) {
    char text[512];
    int length = 0;
    if (p_error_string == NULL || p_error_string(code, text, &length) != 0) {
        snprintf(message, message_size, "MPI error %d", code);
        return;
    }
    text[length < 511 ? length : 511] = 0;
    snprintf(message, message_size, "%s", text);
}

void arc_mpi_library_version(char *message, size_t message_size) {
    /* MPI_MAX_LIBRARY_VERSION_STRING is 256 in Open MPI */
    char text[4096];
    int length = 0;
    if (message_size) message[0] = 0;
    if (p_get_library_version == NULL || p_get_library_version(text, &length) != 0) return;
    text[length < 4095 ? length : 4095] = 0;
    char *newline = strchr(text, '\n');
    if (newline) *newline = 0;
    snprintf(message, message_size, "%s", text);
}

int arc_mpi_barrier(void) { return p_barrier(comm_world); }

int arc_mpi_bcast(void *buffer, int count, int type, int root) {
    return p_bcast(buffer, count, types[type], root, comm_world);
}

int arc_mpi_allreduce(void *buffer, int count, int type, int is_max) {
    return p_allreduce(ARC_MPI_IN_PLACE, buffer, count, types[type], is_max ? op_max : op_sum, comm_world);
}

int arc_mpi_alltoall(const void *send, void *receive, int count_per_rank, int type) {
    return p_alltoall(send, count_per_rank, types[type], receive, count_per_rank, types[type], comm_world);
}

int arc_mpi_allgather(const void *send, void *receive, int count_per_rank, int type) {
    return p_allgather(send, count_per_rank, types[type], receive, count_per_rank, types[type], comm_world);
}

int arc_mpi_allgatherv(const void *send, int count, void *receive, const int *counts, const int *displacements, int type) {
    return p_allgatherv(send, count, types[type], receive, counts, displacements, types[type], comm_world);
}

int arc_mpi_gatherv(const void *send, int count, void *receive, const int *counts, const int *displacements, int type, int root) {
    return p_gatherv(send, count, types[type], receive, counts, displacements, types[type], root, comm_world);
}
