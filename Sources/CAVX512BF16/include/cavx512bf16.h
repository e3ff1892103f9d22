// The one AVX512_BF16 instruction the bf16 attention kernels use (Sources/Kernels/AVX512BF16), as a C
// inline function Swift can call: vdpbf16ps, acc[i] += a.bf16[2i+1] b.bf16[2i+1] + a.bf16[2i] b.bf16[2i]
// (products exact in fp32, sums rounded to nearest even; denormals flushed). Swift has no bf16 vector
// type, so the bf16 pairs travel as 32-bit words (__m512i). Only KernelsAVX512BF16 imports this, and it
// runs only on CPUs with avx512_bf16 (KernelsCPU.hasAVX512BF16).
#ifndef CAVX512BF16_H
#define CAVX512BF16_H
#include <immintrin.h>

static inline __attribute__((always_inline, target("avx512f,avx512bw,avx512vl,avx512bf16")))
__m512 arc_dpbf16ps(__m512 acc, __m512i a, __m512i b) {
    return _mm512_dpbf16_ps(acc, (__m512bh)a, (__m512bh)b);
}

#endif
