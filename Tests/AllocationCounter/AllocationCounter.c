// Test-only allocator shim for StepAllocationTests: defines the C allocation functions and forwards
// them to glibc's own entry points (__libc_malloc and friends), counting calls while switched on.
// Linked into the test executable, these definitions take the place of glibc's for every library
// of the process. Not built into any product.
#define _GNU_SOURCE
#include "AllocationCounter.h"
#include <errno.h>  // (defines __GLIBC__ on glibc)

#if defined(__linux__) && defined(__GLIBC__)
#include <dlfcn.h>
#include <execinfo.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);
extern void __libc_free(void *pointer);
extern void *__libc_memalign(size_t alignment, size_t size);
extern void *__libc_valloc(size_t size);
extern void *__libc_pvalloc(size_t size);

// This file's code lives in its own section, so a call stack can skip the counter's own frames.
#define COUNTER_CODE __attribute__((section("allocation_counter_code"), noinline))
extern char __start_allocation_counter_code[], __stop_allocation_counter_code[];

static atomic_int counting;
static atomic_int options;
static atomic_long counted;
static atomic_long dispatch_counted;
static atomic_long matmul_counted;
static __thread int inside_counter;

static int in_file(const Dl_info *info, const char *name) { return info->dli_fname != NULL && strstr(info->dli_fname, name) != NULL; }

/// Who made the allocation: the nearest caller past the counter, the Swift runtime, libc and the C++
/// runtime. 1: Dispatch's code; 2: the oneDNN matmul library; 0: anything else.
COUNTER_CODE static int made_by(void) {
    void *frames[32];
    int depth = backtrace(frames, 32);
    for (int k = 0; k < depth; k++) {
        char *address = (char *)frames[k];
        if (address >= __start_allocation_counter_code && address < __stop_allocation_counter_code) continue;
        Dl_info info;
        if (dladdr(frames[k], &info) == 0) return 0;
        if (in_file(&info, "libswiftCore.so") || in_file(&info, "libc.so") || in_file(&info, "libstdc++.so")) continue;
        if (in_file(&info, "libdispatch.so") || in_file(&info, "libswiftDispatch.so") || in_file(&info, "libBlocksRuntime.so")) return 1;
        return in_file(&info, "libdnnl.so") ? 2 : 0;
    }
    return 0;
}
COUNTER_CODE static void note_allocation(void) {
    if (!atomic_load_explicit(&counting, memory_order_relaxed) || inside_counter) return;
    inside_counter = 1;  // backtrace and dladdr may allocate: those are not counted
    int flags = atomic_load_explicit(&options, memory_order_relaxed);
    int maker = (flags & (ALLOCATION_COUNTER_SEPARATE_DISPATCH | ALLOCATION_COUNTER_SEPARATE_MATMUL)) ? made_by() : 0;
    if ((flags & ALLOCATION_COUNTER_SEPARATE_DISPATCH) && maker == 1) {
        atomic_fetch_add_explicit(&dispatch_counted, 1, memory_order_relaxed);
    } else if ((flags & ALLOCATION_COUNTER_SEPARATE_MATMUL) && maker == 2) {
        atomic_fetch_add_explicit(&matmul_counted, 1, memory_order_relaxed);
    } else {
        atomic_fetch_add_explicit(&counted, 1, memory_order_relaxed);
        if (flags & ALLOCATION_COUNTER_BACKTRACES) {
            void *frames[48];
            int depth = backtrace(frames, 48);
            ssize_t written = write(2, "allocation:\n", 12);
            (void)written;
            backtrace_symbols_fd(frames, depth, 2);
        }
    }
    inside_counter = 0;
}

int allocation_counter_supported(void) { return 1; }

void allocation_counter_start(int start_options) {
    // backtrace() loads the unwinder on first use (which allocates): do that before counting.
    void *frames[2];
    backtrace(frames, 2);
    atomic_store(&counted, 0);
    atomic_store(&dispatch_counted, 0);
    atomic_store(&matmul_counted, 0);
    atomic_store(&options, start_options);
    atomic_store(&counting, 1);
}

long allocation_counter_stop(void) {
    atomic_store(&counting, 0);
    return atomic_load(&counted);
}

long allocation_counter_dispatch_count(void) { return atomic_load(&dispatch_counted); }
long allocation_counter_matmul_count(void) { return atomic_load(&matmul_counted); }

COUNTER_CODE void *malloc(size_t size) { note_allocation(); return __libc_malloc(size); }
COUNTER_CODE void *calloc(size_t count, size_t size) { note_allocation(); return __libc_calloc(count, size); }
COUNTER_CODE void *realloc(void *pointer, size_t size) { note_allocation(); return __libc_realloc(pointer, size); }
COUNTER_CODE void free(void *pointer) { __libc_free(pointer); }
COUNTER_CODE void *memalign(size_t alignment, size_t size) { note_allocation(); return __libc_memalign(alignment, size); }
COUNTER_CODE void *aligned_alloc(size_t alignment, size_t size) { note_allocation(); return __libc_memalign(alignment, size); }
COUNTER_CODE void *valloc(size_t size) { note_allocation(); return __libc_valloc(size); }
COUNTER_CODE void *pvalloc(size_t size) { note_allocation(); return __libc_pvalloc(size); }

COUNTER_CODE int posix_memalign(void **result, size_t alignment, size_t size) {
    note_allocation();
    if (alignment == 0 || alignment % sizeof(void *) != 0 || (alignment & (alignment - 1)) != 0) return EINVAL;
    void *pointer = __libc_memalign(alignment, size);
    if (pointer == NULL) return ENOMEM;
    *result = pointer;
    return 0;
}

#else
int allocation_counter_supported(void) { return 0; }
void allocation_counter_start(int start_options) { (void)start_options; }
long allocation_counter_stop(void) { return 0; }
long allocation_counter_dispatch_count(void) { return 0; }
long allocation_counter_matmul_count(void) { return 0; }
#endif
