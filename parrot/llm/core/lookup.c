/* Prompt lookup: draft tokens for speculative decoding taken from the context itself.
 *
 * Answers that rewrite, summarise or edit a text repeat long runs of it. If the last few
 * tokens of the context occurred earlier, the tokens that followed them then are a good guess
 * for what follows now. The guess costs nothing to make; the model checks all of it in one
 * batched pass, keeping only what it would have produced anyway. */
#include "parrot_llm.h"

int pl_lookup_draft(const int32_t *ctx, int n, int32_t *draft, int max_draft, int ngram_max, int ngram_min) {
    if (max_draft < 1 || ngram_min < 1) return 0;
    for (int g = ngram_max; g >= ngram_min; g--) {
        if (g >= n) continue;
        const int32_t *tail = ctx + n - g;
        /* the most recent earlier occurrence: nearby text predicts best */
        for (int at = n - g - 1; at >= 0; at--) {
            int same = 1;
            for (int k = 0; k < g && same; k++) same = ctx[at + k] == tail[k];
            if (!same) continue;
            int nd = 0;
            for (int k = at + g; k < n && nd < max_draft; k++) draft[nd++] = ctx[k];
            if (nd > 0) return nd;
        }
    }
    return 0;
}
