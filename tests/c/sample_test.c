/* The sampler under AddressSanitizer + UndefinedBehaviorSanitizer (`make test-c`).
 *
 * Plain C against parrot/llm/core/sample.c: every case must return an id inside the
 * vocabulary, and the sanitizers abort on any read outside the candidate array. The cases are
 * the ones that broke it (min-p removing every token, NaN/inf logits) plus seeded random
 * parameters and logits. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parrot_llm.h"

static int failures = 0;

#define CHECK(cond, ...)                                  \
    do {                                                  \
        if (!(cond)) {                                    \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                 \
            fputc('\n', stderr);                          \
            failures++;                                   \
        }                                                 \
    } while (0)

static pl_sampling params(float temp, int top_k, float top_p, float min_p) {
    pl_sampling s = {temp, top_k, top_p, min_p, 1.0f, 64, 42};
    return s;
}

/* Draws once from a fresh sampler over a copy of logits. */
static int32_t draw(const float *logits, int n, pl_sampling s) {
    pl_sampler *sp = pl_sampler_new(n, &s);
    if (!sp) {
        fprintf(stderr, "FAIL: pl_sampler_new(%d) returned NULL\n", n);
        failures++;
        return -1;
    }
    float *work = malloc((size_t)n * sizeof *work);
    memcpy(work, logits, (size_t)n * sizeof *work);
    int32_t id = pl_sample(sp, work, NULL, 0);
    free(work);
    pl_sampler_free(sp);
    return id;
}

static void test_min_p_removing_everything_keeps_the_best(void) {
    const float logits[] = {0.5f, 3.0f, -1.0f, 2.0f, 0.0f};
    /* min_p 2: every token is below 2 x the best one's probability */
    for (int top_k = 0; top_k <= 3; top_k++) {
        int32_t id = draw(logits, 5, params(0.8f, top_k, 1.0f, 2.0f));
        CHECK(id == 1, "min_p=2 top_k=%d: got %d, want the most likely token 1", top_k, id);
    }
    int32_t id = draw(logits, 5, params(0.8f, 0, 0.5f, INFINITY));
    CHECK(id == 1, "min_p=inf: got %d, want 1", id);
}

static void test_nan_logits(void) {
    float all_nan[8];
    for (int i = 0; i < 8; i++) all_nan[i] = NAN;
    for (int greedy = 0; greedy < 2; greedy++) {
        int32_t id = draw(all_nan, 8, params(greedy ? 0.0f : 0.7f, 0, 0.9f, 0.05f));
        CHECK(id >= 0 && id < 8, "all-NaN logits (greedy=%d): id %d out of range", greedy, id);
    }
    float some_nan[] = {NAN, 1.0f, NAN, 4.0f, 2.0f, NAN};
    int32_t id = draw(some_nan, 6, params(0.0f, 0, 1.0f, 0.0f));
    CHECK(id == 3, "greedy with NaNs: got %d, want 3", id);
    id = draw(some_nan, 6, params(0.7f, 2, 1.0f, 0.5f));
    CHECK(id == 3 || id == 4, "top-k 2 with NaNs: got %d, want 3 or 4", id);
}

static void test_infinite_logits(void) {
    const float pos_inf[] = {1.0f, INFINITY, 2.0f, INFINITY};
    int32_t id = draw(pos_inf, 4, params(0.7f, 0, 0.9f, 0.1f));
    CHECK(id == 1 || id == 3, "+inf logits: got %d, want 1 or 3", id);
    float neg_inf[6];
    for (int i = 0; i < 6; i++) neg_inf[i] = -INFINITY;
    id = draw(neg_inf, 6, params(0.7f, 3, 0.5f, 0.5f));
    CHECK(id >= 0 && id < 6, "all -inf logits: id %d out of range", id);
    id = draw(neg_inf, 6, params(0.0f, 0, 1.0f, 0.0f));
    CHECK(id >= 0 && id < 6, "all -inf greedy: id %d out of range", id);
}

static void test_bad_parameters_stay_in_range(void) {
    const float logits[] = {0.1f, 0.2f, 0.3f};
    const float odd[] = {NAN, INFINITY, -INFINITY, -1.0f, 0.0f, 1.0f, 5.0f, 1e30f};
    const int top_ks[] = {-1, 0, 1, 2, 3, 4, 1000000, -1000000};
    for (int a = 0; a < 8; a++)
        for (int b = 0; b < 8; b++)
            for (int c = 0; c < 8; c++) {
                pl_sampling s = params(odd[a], top_ks[b], odd[b], odd[c]);
                s.repeat_penalty = odd[c];
                pl_sampler *sp = pl_sampler_new(3, &s);
                float work[3];
                memcpy(work, logits, sizeof work);
                const int32_t recent[] = {0, 2, 7, -1};
                int32_t id = pl_sample(sp, work, recent, 4);
                CHECK(id >= 0 && id < 3, "temp=%g top_p=%g min_p=%g: id %d", odd[a], odd[b], odd[c], id);
                pl_sampler_free(sp);
            }
}

static void test_one_token_vocabulary(void) {
    const float one[] = {NAN};
    CHECK(draw(one, 1, params(0.7f, 5, 0.1f, 3.0f)) == 0, "one-token vocabulary");
}

static void test_empty_vocabulary_is_refused(void) {
    pl_sampling s = params(0.7f, 0, 1.0f, 0.0f);
    CHECK(pl_sampler_new(0, &s) == NULL, "a sampler over 0 tokens must not be made");
}

/* seeded random logits (with NaN/inf sprinkled in) and parameters */
static void test_random(void) {
    uint64_t x = 0x5eed;
    enum { N = 97 };
    float logits[N];
    for (int round = 0; round < 3000; round++) {
        for (int i = 0; i < N; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            const unsigned r = (unsigned)(x >> 33);
            logits[i] = (r % 23 == 0) ? NAN : (r % 29 == 0) ? INFINITY : (r % 31 == 0) ? -INFINITY
                                                                          : (float)((int)(r % 4001) - 2000) / 100.0f;
        }
        const unsigned r = (unsigned)(x >> 20);
        pl_sampling s = params((float)(r % 7) / 3.0f, (int)(r % 13) - 2, (float)(r % 11) / 8.0f, (float)(r % 5) / 2.0f);
        s.repeat_penalty = 1.0f + (float)(r % 3) / 4.0f;
        int32_t id = draw(logits, N, s);
        CHECK(id >= 0 && id < N, "round %d: id %d out of range", round, id);
    }
}

int main(void) {
    test_min_p_removing_everything_keeps_the_best();
    test_nan_logits();
    test_infinite_logits();
    test_bad_parameters_stay_in_range();
    test_one_token_vocabulary();
    test_empty_vocabulary_is_refused();
    test_random();
    if (failures) {
        fprintf(stderr, "sample_test: %d failure(s)\n", failures);
        return 1;
    }
    printf("sample_test: all sampler cases passed under the sanitizers\n");
    return 0;
}
