/* Choosing the next token from the logits.
 *
 * Order: repetition penalty -> (greedy if temperature <= 0) -> temperature -> top-k ->
 * softmax -> top-p (smallest set reaching probability p) -> min-p (drop tokens below
 * min_p x the best one's probability) -> draw with a seeded RNG, so a seed reproduces a run.
 *
 * Whatever the logits (NaN, +-inf) and parameters, the result is an id in the vocabulary: NaN
 * counts as -inf, and every filter keeps at least the most likely token. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "parrot_llm.h"

typedef struct {
    float p; /* logit, later probability */
    int32_t id;
} cand;

struct pl_sampler {
    int n_vocab;
    pl_sampling s;
    uint64_t rng;
    cand *c;
};

static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double uniform01(uint64_t *state) { return (splitmix64(state) >> 11) * (1.0 / 9007199254740992.0); }

pl_sampler *pl_sampler_new(int n_vocab, const pl_sampling *s) {
    if (n_vocab < 1) return NULL;
    pl_sampler *sp = calloc(1, sizeof *sp);
    if (!sp) return NULL;
    sp->c = malloc((size_t)n_vocab * sizeof *sp->c);
    if (!sp->c) {
        free(sp);
        return NULL;
    }
    sp->n_vocab = n_vocab;
    sp->s = *s;
    sp->rng = s->seed;
    return sp;
}

void pl_sampler_free(pl_sampler *s) {
    if (!s) return;
    free(s->c);
    free(s);
}

/* A token seen recently becomes less likely: positive logits are divided by the penalty and
 * negative ones MULTIPLIED (dividing a negative logit would raise it — the seed's bug).
 * Each distinct token is penalized once however often it appeared. */
void pl_apply_repeat_penalty(float *logits, int n_vocab, const int32_t *recent, int n_recent, float penalty) {
    if (penalty == 1.0f || penalty <= 0.0f) return;
    for (int i = 0; i < n_recent; i++) {
        const int32_t id = recent[i];
        if (id < 0 || id >= n_vocab) continue;
        int seen = 0;
        for (int j = 0; j < i && !seen; j++) seen = recent[j] == id;
        if (seen) continue;
        logits[id] = logits[id] > 0 ? logits[id] / penalty : logits[id] * penalty;
    }
}

static int by_p_desc(const void *a, const void *b) {
    const float x = ((const cand *)a)->p, y = ((const cand *)b)->p;
    return (x < y) - (x > y);
}

/* Moves the k largest candidates to the front, sorted (quickselect, then sort the k). */
static void top_k_partition(cand *c, int n, int k) {
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        const float pivot = c[(lo + hi) / 2].p;
        int i = lo, j = hi;
        while (i <= j) {
            while (c[i].p > pivot) i++;
            while (c[j].p < pivot) j--;
            if (i <= j) {
                cand t = c[i]; c[i] = c[j]; c[j] = t;
                i++, j--;
            }
        }
        if (k - 1 <= j) hi = j;
        else if (k - 1 >= i) lo = i;
        else break;
    }
    qsort(c, (size_t)k, sizeof *c, by_p_desc);
}

int32_t pl_sample(pl_sampler *sp, float *logits, const int32_t *recent, int n_recent) {
    const pl_sampling *s = &sp->s;
    const int nv = sp->n_vocab;
    if (s->repeat_last_n > 0 && n_recent > s->repeat_last_n) {
        recent += n_recent - s->repeat_last_n;
        n_recent = s->repeat_last_n;
    }
    pl_apply_repeat_penalty(logits, nv, recent, n_recent, s->repeat_penalty);

    if (!(s->temperature > 0.0f)) { /* greedy (also for a NaN temperature); ties go to the lowest id */
        int32_t best = 0;
        for (int i = 1; i < nv; i++)
            if (logits[i] > logits[best] || isnan(logits[best])) best = i;
        return best;
    }

    cand *c = sp->c;
    int n = nv;
    for (int i = 0; i < nv; i++) {
        const float l = logits[i] / s->temperature;
        c[i].p = isnan(l) ? -INFINITY : l;
        c[i].id = i;
    }
    int sorted = 0;
    if (s->top_k > 0 && s->top_k < n) {
        top_k_partition(c, n, s->top_k);
        n = s->top_k;
        sorted = 1;
    }
    /* softmax over the survivors; infinite maxima share the mass (inf - inf would be NaN) */
    float maxl = c[0].p;
    for (int i = 1; i < n; i++)
        if (c[i].p > maxl) maxl = c[i].p;
    double sum = 0;
    for (int i = 0; i < n; i++) {
        c[i].p = isinf(maxl) ? (c[i].p == maxl ? 1.0f : 0.0f) : expf(c[i].p - maxl);
        sum += c[i].p;
    }
    if (!(sum > 0)) { /* every logit -inf: uniform */
        for (int i = 0; i < n; i++) c[i].p = 1.0f;
        sum = n;
    }
    for (int i = 0; i < n; i++) c[i].p = (float)(c[i].p / sum);

    if (s->top_p > 0.0f && s->top_p < 1.0f) {
        if (!sorted) {
            /* only a token with p >= (1 - top_p) / (n - 1) can be in the nucleus: any smaller one
             * is outranked by enough mass. Dropping the rest first avoids sorting the vocabulary. */
            const float cutoff = (1.0f - s->top_p) / (float)(n > 1 ? n - 1 : 1);
            int m = 0;
            for (int i = 0; i < n; i++)
                if (c[i].p >= cutoff) c[m++] = c[i];
            if (m > 0) n = m; /* (tiny vocabularies can filter everything: then keep all) */
            qsort(c, (size_t)n, sizeof *c, by_p_desc);
            sorted = 1;
        }
        double cum = 0;
        int keep = n;
        for (int i = 0; i < n; i++) {
            cum += c[i].p;
            if (cum >= s->top_p) {
                keep = i + 1;
                break;
            }
        }
        n = keep;
    }
    if (s->min_p > 0.0f && n > 1) {
        int best = 0;
        for (int i = 1; i < n; i++)
            if (c[i].p > c[best].p) best = i;
        /* min_p >= 1 would drop all but exact ties with the best, or everything: keep the best */
        const float floor_p = (s->min_p < 1.0f ? s->min_p : 1.0f) * c[best].p;
        const cand top = c[best];
        int m = 0;
        for (int i = 0; i < n; i++)
            if (c[i].p >= floor_p) c[m++] = c[i];
        if (m == 0) c[m++] = top;
        n = m;
    }
    /* draw from what is left (renormalised implicitly) */
    double total = 0;
    for (int i = 0; i < n; i++) total += c[i].p;
    const double r = uniform01(&sp->rng) * total;
    double cum = 0;
    for (int i = 0; i < n; i++) {
        cum += c[i].p;
        if (r < cum) return c[i].id;
    }
    return c[n - 1].id;
}
