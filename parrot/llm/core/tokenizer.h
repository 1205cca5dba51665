/* Byte-level BPE tokenizer (GPT-2 / Qwen2 / Llama-3 / SmolLM style) and SentencePiece BPE
 * tokenizer (Gemma, Llama 2) built from a GGUF vocabulary.
 *
 * Plain C (pt_*), usable without Python; the Python types _core.Tokenizer and _core.Utf8Stream
 * live in tokenizer_py.c and are declared in tokenizer_py.h. Ids are
 * identical to Hugging Face `tokenizers` with the same vocabulary, merges and added tokens
 * (checked by tests/test_llm_tokenizer_*.py), Unicode 16.0 character classes as in its regex
 * engine. */
#ifndef PARROT_TOKENIZER_H
#define PARROT_TOKENIZER_H
#include <stddef.h>
#include <stdint.h>

/* GGUF tokenizer.ggml.token_type values. */
enum {
    PT_TOKEN_NORMAL = 1,
    PT_TOKEN_UNKNOWN = 2,
    PT_TOKEN_CONTROL = 3,      /* <|im_start|>, <|endoftext|> ... */
    PT_TOKEN_USER_DEFINED = 4, /* added tokens that are not "special", e.g. Qwen3 <think> */
    PT_TOKEN_UNUSED = 5,
    PT_TOKEN_BYTE = 6,
};

typedef struct pt_tokenizer pt_tokenizer;

/* token_types: GGUF tokenizer.ggml.token_type values (1 normal, 2 unknown, 3 control,
 *   4 user-defined, 5 unused, 6 byte); may be NULL (all normal).
 * tokens: the vocabulary strings as stored in GGUF (GPT-2 byte-to-unicode encoded text).
 * merges: "a b" strings (tokenizer.ggml.merges), rank = index.
 * pre: tokenizer.ggml.pre ("qwen2", "llama-bpe", "llama3", "smollm", "gpt2", "default"; NULL =
 *   "default" = GPT-2 regex).
 * All inputs are copied; the caller may free them afterwards.
 * Returns NULL and writes a message into err on error (an unknown pre names it). */
pt_tokenizer *pt_tokenizer_new(int n_vocab, const char *const *tokens, const size_t *token_lens,
                               const int32_t *token_types, int n_merges, const char *const *merges,
                               const size_t *merge_lens, const char *pre, char *err, size_t errlen);

/* A SentencePiece vocabulary (GGUF tokenizer.ggml.model "llama": Gemma, Llama 2, ...): tokens as
 * stored (U+2581 for a space, <0xNN> byte tokens), their types, and tokenizer.ggml.scores, the
 * pieces' scores that order SentencePiece's BPE merges. Added tokens match as for BPE. */
pt_tokenizer *pt_tokenizer_new_spm(int n_vocab, const char *const *tokens, const size_t *token_lens,
                                   const int32_t *token_types, const float *scores, char *err, size_t errlen);
/* SPM only: a space in front of the text and after each added token (tokenizer.ggml.add_space_prefix;
 * llama.cpp's default is on, Gemma's files turn it off). Call before sharing the tokenizer. */
void pt_tokenizer_set_space_prefix(pt_tokenizer *t, int on);
int pt_tokenizer_is_spm(const pt_tokenizer *t);

/* Encodes len bytes of UTF-8 text. Added tokens (control and user-defined) written in the text
 * are matched whole, leftmost-longest, like HF; with parse_special = 0 a matched control token
 * stays plain text (HF's encode_special_tokens) while user-defined ones (Qwen3 <think>) still
 * match. Invalid UTF-8 never fails: each bad byte splits like punctuation and is encoded as
 * its own byte, so the pieces of the ids give back the input bytes exactly.
 * Returns the number of tokens; if that is > cap only the first cap were written (call again
 * with a bigger buffer). It is at most len unless NFC (off by default) lengthened the text.
 * < 0 on error (out of memory, len > INT32_MAX). Thread-safe: t is read-only here; scratch
 * memory is linear in len and freed before returning. */
int pt_tokenizer_encode(const pt_tokenizer *t, const char *text, size_t len, int parse_special,
                        int32_t *out, int cap);

/* Raw bytes of a token after undoing the GPT-2 byte-to-unicode map (SPM: U+2581 -> space,
 * <0xNN> -> the byte); control and user-defined
 * tokens -> their text. NULL (and *len = 0) for an out-of-range id. Not NUL-terminated. */
const char *pt_tokenizer_piece(const pt_tokenizer *t, int32_t id, size_t *len);

/* Exact lookup of a vocabulary string (as stored, i.e. byte-to-unicode encoded for normal
 * tokens; special tokens are their plain text) -> id, or -1. */
int pt_tokenizer_find(const pt_tokenizer *t, const char *text, size_t len);

/* Turns NFC normalization of the text (outside added tokens) on or off; off by default.
 * Qwen2's original tokenizer.json normalizes with NFC; a GGUF does not record it, and llama.cpp
 * and transformers' GGUF loader do not normalize, so the engine leaves it off. Call before the
 * tokenizer is shared between threads. */
void pt_tokenizer_set_nfc(pt_tokenizer *t, int on);

int pt_tokenizer_n_vocab(const pt_tokenizer *t);
int pt_tokenizer_token_type(const pt_tokenizer *t, int32_t id); /* -1 for an out-of-range id */

void pt_tokenizer_free(pt_tokenizer *t);

/* Streaming decode without splitting UTF-8: feed token pieces in order, get only complete
 * characters back. An invalid byte sequence is emitted as U+FFFD per maximal invalid
 * subpart (like Python's errors='replace'). Zero-initialise before use. Returns the number of
 * bytes written to out. cap >= 3 * (n + 8) never truncates; output beyond cap is dropped. */
typedef struct {
    char pending[8];
    int n_pending;
} pt_utf8_stream;
size_t pt_utf8_stream_push(pt_utf8_stream *s, const char *bytes, size_t n, char *out, size_t cap);
/* Flushes an incomplete trailing sequence at end of stream (as U+FFFD). Returns bytes written
 * (cap >= 3 * 8 is always enough). */
size_t pt_utf8_stream_flush(pt_utf8_stream *s, char *out, size_t cap);

#endif
