// fp_throughput: what one core's 256-bit floating-point units sustain on register-only loops, in
// operations per cycle, and what the attention's exp costs per 8-lane vector: the figures that bound the
// fp32 step (BENCHMARKS.md). Independent chains of fused multiply-adds, of adds, and of both mixed,
// then the softmax exp of Sources/Kernels/AVX2/FlashAttentionLanes.swift (exp2Lanes: clamp, round by
// the 1.5 * 2^23 trick, degree-5 polynomial, exponent add) over a 48 x 960 score tile with its row sum.
// Cycles assume one 256-bit FMA issued per cycle (16 FLOPs), as on cores that run 256-bit operations as
// two 128-bit halves (AMD Zen 1); on cores with two 256-bit FMA units the printed clock is twice the real
// one and the per-cycle figures are per half cycle. The ratios between the loops hold either way.
//
//   clang -O2 -mavx2 -mfma -o /tmp/fp_throughput Tools/bench/fp_throughput.c && taskset -c 0 /tmp/fp_throughput
// (clang, as the Swift toolchain ships it: gcc 12 spills the 10 + 5 chains to memory)
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

#define ROUNDS 50000000L
#define KEEP(v) __asm__ volatile("" : "+x"(v))

// Seconds for ROUNDS rounds of `fmas` independent FMA chains and `adds` independent add chains (both
// constants where it is inlined, so the loops unroll and every chain stays in a register).
static inline __attribute__((always_inline)) double chains(const int fmas, const int adds) {
    __m256 f[12], a[12];
    const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-3f);
#pragma GCC unroll 12
    for (int i = 0; i < 12; i++) { f[i] = _mm256_set1_ps((float)i); a[i] = _mm256_set1_ps((float)i); }
    double start = now();
    for (long r = 0; r < ROUNDS; r++) {
#pragma GCC unroll 12
        for (int i = 0; i < 12; i++) if (i < fmas) f[i] = _mm256_fmadd_ps(f[i], m, c);
#pragma GCC unroll 12
        for (int i = 0; i < 12; i++) if (i < adds) a[i] = _mm256_add_ps(a[i], c);
#pragma GCC unroll 12
        for (int i = 0; i < 12; i++) { if (i < fmas) KEEP(f[i]); if (i < adds) KEEP(a[i]); }
    }
    double elapsed = now() - start;
    float sink[8];
    __m256 total = _mm256_setzero_ps();
#pragma GCC unroll 12
    for (int i = 0; i < 12; i++) total = _mm256_add_ps(total, _mm256_add_ps(f[i], a[i]));
    _mm256_storeu_ps(sink, total);
    if (sink[0] == 12345.f) printf(" ");
    return elapsed;
}

static inline __m256 exp2_lanes(__m256 x) {
    x = _mm256_max_ps(x, _mm256_set1_ps(-125.f));
    const __m256 magic = _mm256_set1_ps(12582912.f);
    __m256 shifted = _mm256_add_ps(x, magic);
    __m256 f = _mm256_sub_ps(x, _mm256_sub_ps(shifted, magic));
    __m256 p = _mm256_set1_ps(1.3264701709e-3f);
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(9.6715045897e-3f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(5.5507337312e-2f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(2.4022242210e-1f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(6.9314697766e-1f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.f));
    __m256i exponent = _mm256_slli_epi32(_mm256_castps_si256(shifted), 23);
    return _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(p), exponent));
}

// One score row to probabilities in place (as exponentiateRow, unrolled by 4), returning the row sum.
static __attribute__((noinline)) float exponentiate_row(float *line, int count, float shift) {
    const __m256 offset = _mm256_set1_ps(shift);
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int j = 0;
    for (; j + 32 <= count; j += 32) {
        __m256 a = exp2_lanes(_mm256_sub_ps(_mm256_loadu_ps(line + j), offset));
        __m256 b = exp2_lanes(_mm256_sub_ps(_mm256_loadu_ps(line + j + 8), offset));
        __m256 c = exp2_lanes(_mm256_sub_ps(_mm256_loadu_ps(line + j + 16), offset));
        __m256 d = exp2_lanes(_mm256_sub_ps(_mm256_loadu_ps(line + j + 24), offset));
        _mm256_storeu_ps(line + j, a); _mm256_storeu_ps(line + j + 8, b);
        _mm256_storeu_ps(line + j + 16, c); _mm256_storeu_ps(line + j + 24, d);
        s0 = _mm256_add_ps(s0, a); s1 = _mm256_add_ps(s1, b); s2 = _mm256_add_ps(s2, c); s3 = _mm256_add_ps(s3, d);
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    return lanes[0] + lanes[1] + lanes[2] + lanes[3] + lanes[4] + lanes[5] + lanes[6] + lanes[7];
}

int main(void) {
    double fma12 = chains(12, 0);
    double hz = ROUNDS * 12.0 / fma12;  // taken as one 256-bit FMA per cycle (16 FLOPs)
    printf("12 FMA chains: %.1f GFLOP/s; taken as 1 FMA per cycle: clock %.2f GHz\n", ROUNDS * 12.0 * 16 / fma12 / 1e9, hz / 1e9);
    const double mixes[][3] = {{10, 0, chains(10, 0)}, {0, 10, chains(0, 10)}, {5, 5, chains(5, 5)}, {10, 5, chains(10, 5)}, {8, 6, chains(8, 6)}};
    for (unsigned i = 0; i < sizeof mixes / sizeof mixes[0]; i++) {
        double cycles = mixes[i][2] * hz / ROUNDS;
        printf("%2.0f FMA + %2.0f add chains: %.2f cycles per round, %.2f 256-bit operations per cycle\n",
               mixes[i][0], mixes[i][1], cycles, (mixes[i][0] + mixes[i][1]) / cycles);
    }
    static float tile[48 * 960], source[48 * 960];
    for (int i = 0; i < 48 * 960; i++) source[i] = -(float)(i % 97) * 0.05f;
    const int reps = 2000;
    float sum = 0;
    double elapsed = 0;
    for (int r = 0; r < reps; r++) {
        for (int i = 0; i < 48 * 960; i++) tile[i] = source[i];
        double start = now();
        for (int row = 0; row < 48; row++) sum += exponentiate_row(tile + row * 960, 960, 0.f);
        elapsed += now() - start;
    }
    double vectors = (double)reps * 48 * 120;
    printf("attention exp (exp2Lanes over a 48 x 960 tile, row sums): %.2f ns = %.1f cycles per 8-lane vector (sum %g)\n",
           elapsed / vectors * 1e9, elapsed / vectors * hz, sum);
    return 0;
}
