// blas_compare: single-threaded sgemm of the model's matrix shapes through each BLAS this Debian
// machine can install (OpenBLAS, BLIS, oneDNN), side by side in one process, to choose the matmul
// backend by measured figures. Each library is opened with dlopen(RTLD_LOCAL) so their cblas_sgemm
// symbols never clash. Also tries oneDNN's bf16 x bf16 -> f32 gemm (fast only on CPUs with
// AVX512_BF16 / AMX) and reports whether it ran. Every result is checked against a double-precision
// reference on a sampled set of output cells.
//
//   cc -O2 -o /tmp/blas_compare Tools/bench/blas_compare.c -ldl -lm
//   OMP_NUM_THREADS=1 BLIS_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 taskset -c 0 /tmp/blas_compare
//
// Libraries: libopenblas-dev, libblis-dev, libdnnl-dev (Debian 12). A missing one is reported and
// skipped by name; the others still run.
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { RowMajor = 101, NoTrans = 111, Trans = 112 };
typedef void (*cblas_sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int, float, float *, int);
typedef int (*dnnl_sgemm_fn)(char, char, int64_t, int64_t, int64_t, float, const float *, int64_t, const float *, int64_t, float, float *, int64_t);
typedef int (*dnnl_bf16_fn)(char, char, int64_t, int64_t, int64_t, float, const uint16_t *, int64_t, const uint16_t *, int64_t, float, float *, int64_t);
typedef char *(*corename_fn)(void);

typedef struct { const char *name; int m, n, k, transB; } Shape;

static const Shape shapes[] = {
    {"1024^3", 1024, 1024, 1024, 0},
    {"cpu-bench qkv [7208,128]x[384,128]^T", 7208, 384, 128, 1},
    {"cpu-bench gate_up [7208,128]x[1024,128]^T", 7208, 1024, 128, 1},
    {"cpu-bench down [7208,512]x[128,512]^T", 7208, 128, 512, 1},
    {"cpu gate_up [2320,64]x[512,64]^T", 2320, 512, 64, 1},
    {"cpu down [2320,256]x[64,256]^T", 2320, 64, 256, 1},
    {"attention scores [128,32]x[901,32]^T", 128, 901, 32, 1},
    {"attention P V [128,901]x[901,32]", 128, 32, 901, 0},
    {"paper qkv [916,512]x[1536,512]^T", 916, 1536, 512, 1},
};

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static uint16_t to_bf16(float x) {
    uint32_t bits;
    memcpy(&bits, &x, 4);
    bits += 0x7FFF + ((bits >> 16) & 1);  // round to nearest even
    return (uint16_t)(bits >> 16);
}

static float from_bf16(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float x;
    memcpy(&x, &bits, 4);
    return x;
}

// Largest |c - reference| / (|reference| summed magnitude scale) over 64 sampled cells.
static double check(const Shape *s, const float *a, const float *b, const float *c, int bf16) {
    double worst = 0;
    for (int t = 0; t < 64; t++) {
        int i = (int)((t * 7919L) % s->m), j = (int)((t * 104729L) % s->n);
        double sum = 0, scale = 0;
        for (int p = 0; p < s->k; p++) {
            double x = a[(long)i * s->k + p];
            double y = s->transB ? b[(long)j * s->k + p] : b[(long)p * s->n + j];
            if (bf16) { x = from_bf16(to_bf16((float)x)); y = from_bf16(to_bf16((float)y)); }
            sum += x * y;
            scale += fabs(x * y);
        }
        double e = fabs(c[(long)i * s->n + j] - sum) / (scale > 0 ? scale : 1);
        if (e > worst) worst = e;
    }
    return worst;
}

int main(void) {
    void *openblas = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
    void *blis = dlopen("libblis.so.4", RTLD_NOW | RTLD_LOCAL);
    void *dnnl = dlopen("libdnnl.so.2", RTLD_NOW | RTLD_LOCAL);
    cblas_sgemm_fn ob = openblas ? (cblas_sgemm_fn)dlsym(openblas, "cblas_sgemm") : NULL;
    cblas_sgemm_fn bl = blis ? (cblas_sgemm_fn)dlsym(blis, "cblas_sgemm") : NULL;
    dnnl_sgemm_fn dn = dnnl ? (dnnl_sgemm_fn)dlsym(dnnl, "dnnl_sgemm") : NULL;
    dnnl_bf16_fn db = dnnl ? (dnnl_bf16_fn)dlsym(dnnl, "dnnl_gemm_bf16bf16f32") : NULL;
    void (*ob_threads)(int) = openblas ? (void (*)(int))dlsym(openblas, "openblas_set_num_threads") : NULL;
    corename_fn core = openblas ? (corename_fn)dlsym(openblas, "openblas_get_corename") : NULL;
    if (ob_threads) ob_threads(1);
    printf("OpenBLAS: %s (kernel set %s); BLIS: %s; oneDNN: %s\n", ob ? "loaded" : "missing (libopenblas-dev)",
           core ? core() : "?", bl ? "loaded" : "missing (libblis-dev)", dn ? "loaded" : "missing (libdnnl-dev)");
    printf("single-threaded GFLOP/s, best of 20 (max relative error vs a double reference, 64 cells)\n");
    printf("%-44s %18s %18s %18s %18s\n", "shape", "OpenBLAS", "BLIS", "oneDNN", "oneDNN bf16");
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const Shape *s = &shapes[si];
        long na = (long)s->m * s->k, nb = (long)s->k * s->n, nc = (long)s->m * s->n;
        float *a = malloc(na * 4), *b = malloc(nb * 4), *c = malloc(nc * 4);
        uint16_t *a16 = malloc(na * 2), *b16 = malloc(nb * 2);
        if (!a || !b || !c || !a16 || !b16) { fprintf(stderr, "out of memory\n"); return 1; }
        for (long i = 0; i < na; i++) { a[i] = (float)((i * 37 % 101) - 50) / 50; a16[i] = to_bf16(a[i]); }
        for (long i = 0; i < nb; i++) { b[i] = (float)((i * 53 % 97) - 48) / 48; b16[i] = to_bf16(b[i]); }
        int ldb = s->transB ? s->k : s->n;
        double flops = 2.0 * s->m * s->n * s->k;
        printf("%-44s", s->name);
        for (int lib = 0; lib < 4; lib++) {
            double best = 1e30;
            int status = 0;
            if ((lib == 0 && !ob) || (lib == 1 && !bl) || (lib == 2 && !dn) || (lib == 3 && !db)) { printf(" %18s", "-"); continue; }
            for (int r = 0; r < 20 && status == 0; r++) {
                memset(c, 0, nc * 4);
                double t0 = now();
                if (lib <= 1) {
                    (lib == 0 ? ob : bl)(RowMajor, NoTrans, s->transB ? Trans : NoTrans, s->m, s->n, s->k, 1, a, s->k, b, ldb, 0, c, s->n);
                } else if (lib == 2) {
                    status = dn('N', s->transB ? 'T' : 'N', s->m, s->n, s->k, 1, a, s->k, b, ldb, 0, c, s->n);
                } else {
                    status = db('N', s->transB ? 'T' : 'N', s->m, s->n, s->k, 1, a16, s->k, b16, ldb, 0, c, s->n);
                }
                double t = now() - t0;
                if (t < best) best = t;
            }
            if (status != 0) { printf(" %18s", "unsupported"); continue; }
            char cell[64];
            snprintf(cell, sizeof cell, "%.1f (%.0e)", flops / best / 1e9, check(s, a, b, c, lib == 3));
            printf(" %18s", cell);
        }
        printf("\n");
        free(a); free(b); free(c); free(a16); free(b16);
    }
    return 0;
}
