/* A minimal persistent thread pool: pl_pool_run(fn, arg) runs fn(arg, ith, nth) once on every
 * thread (the caller is thread 0) and returns when all have finished. Work is split by the
 * task itself (rows of a matrix, heads of attention), so there is no queue.
 *
 * A decode step runs ~120 short jobs (a few per layer), so waking the workers must be cheap:
 * between jobs a worker spins briefly on the job counter, and only then sleeps on a condition
 * variable (so an idle engine costs no CPU). $PARROT_SPIN sets the spin length in pause
 * iterations: the default 200 (a microsecond or so) suits a shared machine, where a spinning
 * thread takes the core from the one it waits for (measured here: 20000 made decode 10x slower
 * at load 18 on 2 cores); a board that runs only parrot can set ~20000. $PARROT_CPUS ("4-7" or "0,2,4") pins
 * thread i to the i-th listed CPU: e.g. the RK3588's big A76 cores. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "parrot_llm.h"

struct pl_pool {
    int n;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t start, done;
    pl_task fn;
    void *arg;
    atomic_ulong generation; /* bumped for every job; workers run when it changes */
    atomic_int pending;      /* workers still running the current job */
    atomic_int quit;
    int spin;
};

typedef struct {
    pl_pool *p;
    int ith;
} worker_arg;

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Parses "4-7" / "0,2,4" / "0-1,4"; returns the count (<= max). */
static int parse_cpus(const char *s, int *cpus, int max) {
    int n = 0;
    while (s && *s && n < max) {
        char *end;
        long a = strtol(s, &end, 10), b = a;
        if (end == s || a < 0) break;
        if (*end == '-') {
            const char *t = end + 1;
            b = strtol(t, &end, 10);
            if (end == t || b < a) break;
        }
        for (long c = a; c <= b && n < max; c++) cpus[n++] = (int)c;
        s = *end == ',' ? end + 1 : end;
        if (*end != ',') break;
    }
    return n;
}

static void pin(pthread_t t, int ith) {
#if defined(__linux__)
    int cpus[256];
    const int n = parse_cpus(getenv("PARROT_CPUS"), cpus, 256);
    if (n <= 0 || cpus[ith % n] >= CPU_SETSIZE) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpus[ith % n], &set);
    pthread_setaffinity_np(t, sizeof set, &set); /* a CPU we may not use: keep running unpinned */
#else
    (void)t, (void)ith;
#endif
}

static void *worker(void *varg) {
    worker_arg *wa = varg;
    pl_pool *p = wa->p;
    const int ith = wa->ith;
    free(wa);
    unsigned long seen = 0;
    for (;;) {
        unsigned long g;
        int spins = 0;
        while ((g = atomic_load_explicit(&p->generation, memory_order_acquire)) == seen && !atomic_load(&p->quit)) {
            if (spins++ < p->spin) {
                cpu_relax();
                continue;
            }
            pthread_mutex_lock(&p->mu); /* the job counter is re-read under the lock: no lost wake-up */
            while (atomic_load(&p->generation) == seen && !atomic_load(&p->quit)) pthread_cond_wait(&p->start, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->quit)) return NULL;
        seen = g;
        p->fn(p->arg, ith, p->n); /* fn and arg were written before the counter was released */
        if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

pl_pool *pl_pool_new(int n_threads) {
    if (n_threads < 1) n_threads = 1;
    if (n_threads > 64) n_threads = 64;
    pl_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n = n_threads;
    const char *spin = getenv("PARROT_SPIN");
    p->spin = spin && *spin ? atoi(spin) : 200;
    if (p->spin < 0) p->spin = 0;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->start, NULL);
    pthread_cond_init(&p->done, NULL);
    p->threads = calloc((size_t)n_threads, sizeof *p->threads);
    if (!p->threads) {
        free(p);
        return NULL;
    }
    for (int i = 1; i < n_threads; i++) {
        worker_arg *wa = malloc(sizeof *wa);
        if (wa) {
            wa->p = p;
            wa->ith = i;
        }
        if (!wa || pthread_create(&p->threads[i], NULL, worker, wa) != 0) {
            free(wa);
            p->n = i; /* run with the threads we got */
            break;
        }
        pin(p->threads[i], i);
    }
    return p;
}

int pl_pool_size(const pl_pool *p) { return p->n; }

void pl_pool_run(pl_pool *p, pl_task fn, void *arg) {
    static _Thread_local const pl_pool *pinned; /* the caller is thread 0: pin it on its first job */
    if (pinned != p) {
        pin(pthread_self(), 0);
        pinned = p;
    }
    if (p->n == 1) {
        fn(arg, 0, 1);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    atomic_store(&p->pending, p->n - 1);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);

    fn(arg, 0, p->n);

    for (int spins = 0; atomic_load_explicit(&p->pending, memory_order_acquire) > 0 && spins < p->spin; spins++)
        cpu_relax();
    if (atomic_load_explicit(&p->pending, memory_order_acquire) > 0) {
        pthread_mutex_lock(&p->mu);
        while (atomic_load(&p->pending) > 0) pthread_cond_wait(&p->done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
}

void pl_pool_free(pl_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->quit, 1);
    pthread_cond_broadcast(&p->start);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n; i++) pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->start);
    pthread_cond_destroy(&p->done);
    free(p->threads);
    free(p);
}
