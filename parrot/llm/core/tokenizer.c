/* Byte-level BPE tokenizer core (placeholder: API stubs, implementation in progress). */
#include "tokenizer.h"

#include <stdlib.h>
#include <string.h>

struct pt_tokenizer {
    int n_vocab;
};

pt_tokenizer *pt_tokenizer_new(int n_vocab, const char *const *tokens, const size_t *token_lens,
                               const int32_t *token_types, int n_merges, const char *const *merges,
                               const size_t *merge_lens, const char *pre, char *err, size_t errlen) {
    (void)n_vocab; (void)tokens; (void)token_lens; (void)token_types; (void)n_merges;
    (void)merges; (void)merge_lens; (void)pre;
    if (err && errlen) snprintf(err, errlen, "tokenizer not implemented yet");
    return NULL;
}
int pt_tokenizer_encode(const pt_tokenizer *t, const char *text, size_t len, int parse_special,
                        int32_t *out, int cap) {
    (void)t; (void)text; (void)len; (void)parse_special; (void)out; (void)cap;
    return -1;
}
const char *pt_tokenizer_piece(const pt_tokenizer *t, int32_t id, size_t *len) {
    (void)t; (void)id;
    *len = 0;
    return NULL;
}
int pt_tokenizer_find(const pt_tokenizer *t, const char *text, size_t len) {
    (void)t; (void)text; (void)len;
    return -1;
}
int pt_tokenizer_n_vocab(const pt_tokenizer *t) { return t ? t->n_vocab : 0; }
int pt_tokenizer_token_type(const pt_tokenizer *t, int32_t id) { (void)t; (void)id; return -1; }
void pt_tokenizer_free(pt_tokenizer *t) { free(t); }
size_t pt_utf8_stream_push(pt_utf8_stream *s, const char *bytes, size_t n, char *out, size_t cap) {
    (void)s; (void)bytes; (void)n; (void)out; (void)cap;
    return 0;
}
size_t pt_utf8_stream_flush(pt_utf8_stream *s, char *out, size_t cap) {
    (void)s; (void)out; (void)cap;
    return 0;
}
