// Counts heap allocations for StepAllocationTests (test-only target). While counting is on, every
// call of malloc, calloc, realloc, posix_memalign, aligned_alloc, memalign, valloc and pvalloc in the
// process (any thread, any library: the Swift runtime, Foundation, Dispatch, OpenBLAS) is counted.
#ifndef ALLOCATION_COUNTER_H
#define ALLOCATION_COUNTER_H

/// allocation_counter_start option: write each counted allocation's call stack to standard error.
#define ALLOCATION_COUNTER_BACKTRACES 1
/// allocation_counter_start option: count apart the allocations Dispatch makes itself (the caller
/// nearest the allocator, past the Swift runtime and libc, is in libdispatch, its Swift overlay
/// or the Blocks runtime): what DispatchQueue.concurrentPerform costs per call.
#define ALLOCATION_COUNTER_SEPARATE_DISPATCH 2
/// allocation_counter_start option: count apart the allocations the oneDNN matmul library makes
/// itself (the nearest caller past the Swift runtime, libc and the C++ runtime is in libdnnl: its
/// per-call packing buffers).
#define ALLOCATION_COUNTER_SEPARATE_MATMUL 4

/// 1 when this build replaces the allocator (glibc), 0 otherwise (nothing is counted).
int allocation_counter_supported(void);
/// Starts counting from zero with the given options (a sum of the flags above).
void allocation_counter_start(int options);
/// Stops counting; returns the allocations counted since the start (without Dispatch's and oneDNN's
/// own, when those are counted apart).
long allocation_counter_stop(void);
/// The allocations of the last window that Dispatch made itself (with ALLOCATION_COUNTER_SEPARATE_DISPATCH).
long allocation_counter_dispatch_count(void);
/// The allocations of the last window that oneDNN made itself (with ALLOCATION_COUNTER_SEPARATE_MATMUL).
long allocation_counter_matmul_count(void);

#endif
