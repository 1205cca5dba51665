/* Byte-level BPE tokenizer (GPT-2 family: Qwen2, Llama-3, SmolLM, GPT-2), and SentencePiece's BPE
 * (Gemma, Llama 2: spm_span) over the same vocabulary tables and added-token matching.
 *
 * Pipeline, the same as Hugging Face `tokenizers` for these vocabularies:
 *   1. added tokens (GGUF control / user-defined) are cut out of the text whole,
 *      leftmost-longest;
 *   2. each remaining span is pre-tokenized by a hand-written equivalent of the model's
 *      split regex (no regex library: a few character classes from unicode_tables.h);
 *   3. every piece is turned into one symbol per byte (the GPT-2 byte-to-unicode alphabet)
 *      and merged by lowest merge rank, leftmost first, with a heap over a linked list.
 *
 * Invalid UTF-8 never fails: each byte that does not start a valid sequence is a
 * one-byte "other" character (like punctuation) and is encoded as its raw byte. HF cannot
 * see such input at all (its text is always valid UTF-8).
 */
#include "tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unicode_tables.h"

enum pre_kind { PRE_GPT2, PRE_QWEN2, PRE_LLAMA3, PRE_SMOLLM };

/* Open-addressing hash from a byte string to a token id. */
typedef struct {
    int32_t *slots; /* token id or -1 */
    uint32_t mask;
} str_map;

/* Open-addressing hash from a (left id, right id) pair to its merge. */
typedef struct {
    uint64_t key; /* (left << 32 | right) + 1; 0 = empty */
    int32_t rank;
    int32_t result;
} merge_slot;

struct pt_tokenizer {
    int n_vocab;
    enum pre_kind pre;
    int ignore_merges;   /* a piece that is itself a token is taken whole (Llama-3) */
    int nfc;             /* NFC-normalize text spans before splitting (off unless asked for) */
    /* SentencePiece vocabularies (tokenizer.ggml.model "llama": Gemma, Llama 2): see spm_span */
    int spm;
    int space_prefix;    /* a space before the text and after each added token (SPM, add_space_prefix) */
    int32_t *spm_rank;   /* merge priority of each token: 0 = highest score; -1: never a merge result */
    int32_t unk_id;      /* the unknown token, -1 if none */
    /* All strings live in one arena: token id's text as stored (byte-to-unicode spelled) at
     * text_off[id], its raw bytes at piece_off[id] (the same place for added tokens). */
    char *arena;
    size_t *text_off, *piece_off;
    uint32_t *text_len, *piece_len;
    int32_t *type;
    str_map vocab;
    merge_slot *merges;
    uint32_t merge_mask;
    int32_t byte_id[256];      /* token of each single byte, -1 if the vocabulary lacks it */
    uint32_t byte_cp[256];     /* GPT-2 byte-to-unicode map */
    int16_t cp_byte[256 + 68]; /* its inverse (-1: not a byte character) */
    /* Added tokens matched whole in the text, grouped by first byte, longest first. */
    int32_t *special;     /* ids */
    int n_special;
    int special_start[257]; /* special[special_start[b] .. special_start[b+1]) start with byte b */
};

#define TEXT(t, id) ((t)->arena + (t)->text_off[id])
#define PIECE(t, id) ((t)->arena + (t)->piece_off[id])

/* ---------------------------------------------------------------- small helpers */

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

static uint64_t hash_u64(uint64_t x) { /* splitmix64 finaliser */
    x ^= x >> 30; x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27; x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint32_t table_size(size_t n) { /* power of two, load factor <= 1/2 */
    uint32_t s = 16;
    while (s < 2 * n) s <<= 1;
    return s;
}

/* GPT-2's byte-to-unicode map: printable Latin-1 bytes stand for themselves, the other 68
 * bytes are moved to U+0100.. in byte order, so every byte is a visible character. */
static int byte_is_printable(int b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); }

static void build_byte_maps(uint32_t byte_cp[256], int16_t cp_byte[256 + 68]) {
    int n = 0;
    for (int i = 0; i < 256 + 68; i++) cp_byte[i] = -1;
    for (int b = 0; b < 256; b++) {
        byte_cp[b] = byte_is_printable(b) ? (uint32_t)b : (uint32_t)(256 + n++);
        cp_byte[byte_cp[b]] = (int16_t)b;
    }
}

static size_t put_utf8(uint32_t cp, char *out) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) { out[0] = (char)(0xC0 | (cp >> 6)); out[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12)); out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F)); return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18)); out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decodes one UTF-8 character at s[0..n) (n >= 1) by the strict rules of Unicode table 3-7
 * (no overlongs, no surrogates, nothing above U+10FFFF).
 * Returns its length (> 0) and sets *cp; 0 if the bytes are a valid but truncated prefix;
 * -k if invalid, where k >= 1 is the length of the maximal invalid subpart (one U+FFFD each,
 * as Python's and Rust's lossy decoders do). */
static int utf8_next(const uint8_t *s, size_t n, uint32_t *cp) {
    uint8_t b = s[0];
    if (b < 0x80) { *cp = b; return 1; }
    int len;
    uint8_t lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    uint32_t c;
    if (b >= 0xC2 && b <= 0xDF) { len = 2; c = b & 0x1F; }
    else if (b >= 0xE0 && b <= 0xEF) {
        len = 3; c = b & 0x0F;
        if (b == 0xE0) lo = 0xA0;
        if (b == 0xED) hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
        len = 4; c = b & 0x07;
        if (b == 0xF0) lo = 0x90;
        if (b == 0xF4) hi = 0x8F;
    } else return -1;
    for (int i = 1; i < len; i++) {
        if ((size_t)i >= n) return 0;
        uint8_t x = s[i];
        if (i == 1 ? (x < lo || x > hi) : (x & 0xC0) != 0x80) return -i;
        c = (c << 6) | (x & 0x3F);
    }
    *cp = c;
    return len;
}

static int cp_class(uint32_t cp) {
    if (cp < 0x80) { /* fast path, same answers as the table */
        if (cp >= 'a' && cp <= 'z') return PT_CLS_LETTER;
        if (cp >= 'A' && cp <= 'Z') return PT_CLS_LETTER;
        if (cp >= '0' && cp <= '9') return PT_CLS_NUMBER;
        if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D)) return PT_CLS_SPACE;
        return PT_CLS_OTHER;
    }
    int lo = 0, hi = PT_UNICODE_N_RANGES - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < pt_unicode_ranges[mid].lo) hi = mid - 1;
        else if (cp > pt_unicode_ranges[mid].hi) lo = mid + 1;
        else return pt_unicode_ranges[mid].cls;
    }
    return PT_CLS_OTHER;
}

/* HF's Digits pre-tokenizer splits on Rust's char::is_numeric (a newer Unicode than \p{N}). */
static int is_digits_numeric(uint32_t cp, int cls) {
    if (cls == PT_CLS_NUMBER) return 1;
    for (int i = 0; i < PT_UNICODE_N_EXTRA_NUMERIC; i++)
        if (cp >= pt_unicode_extra_numeric[i].lo && cp <= pt_unicode_extra_numeric[i].hi) return 1;
    return 0;
}

/* ---------------------------------------------------------------- hash tables */

static int str_map_get(const pt_tokenizer *t, const char *s, size_t n) {
    const str_map *m = &t->vocab;
    for (uint32_t i = (uint32_t)hash_bytes(s, n) & m->mask;; i = (i + 1) & m->mask) {
        int32_t id = m->slots[i];
        if (id < 0) return -1;
        if (t->text_len[id] == n && memcmp(TEXT(t, id), s, n) == 0) return id;
    }
}

static const merge_slot *merge_get(const pt_tokenizer *t, int32_t a, int32_t b) {
    uint64_t key = (((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1;
    for (uint32_t i = (uint32_t)hash_u64(key) & t->merge_mask;; i = (i + 1) & t->merge_mask) {
        const merge_slot *s = &t->merges[i];
        if (s->key == 0) return NULL;
        if (s->key == key) return s;
    }
}

/* ---------------------------------------------------------------- construction */

static int pre_from_name(const char *pre, enum pre_kind *kind, int *ignore_merges) {
    static const struct { const char *name; enum pre_kind kind; int ignore_merges; } names[] = {
        {"default", PRE_GPT2, 0},     {"gpt2", PRE_GPT2, 0},          {"gpt-2", PRE_GPT2, 0},
        {"qwen2", PRE_QWEN2, 0},      {"deepseek-r1-qwen", PRE_QWEN2, 0},
        /* llama.cpp and Llama-3's tokenizer.json take a piece that is a token whole. */
        {"llama-bpe", PRE_LLAMA3, 1}, {"llama3", PRE_LLAMA3, 1},      {"llama-v3", PRE_LLAMA3, 1},
        /* SmolLM's tokenizer.json: Digits(individual_digits) then the GPT-2 ByteLevel regex;
         * llama.cpp maps smollm with starcoder/refact/codeshell to the same split. */
        {"smollm", PRE_SMOLLM, 0},    {"starcoder", PRE_SMOLLM, 0},   {"refact", PRE_SMOLLM, 0},
        {"codeshell", PRE_SMOLLM, 0},
    };
    if (!pre || !*pre) pre = "default";
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(pre, names[i].name) == 0) {
            *kind = names[i].kind;
            *ignore_merges = names[i].ignore_merges;
            return 0;
        }
    return -1;
}

static int is_added(int type) { return type == PT_TOKEN_CONTROL || type == PT_TOKEN_USER_DEFINED; }

/* Raw bytes of a normal token: undo the byte map per character; a character outside the
 * alphabet (never in a well-formed byte-level vocabulary) keeps its UTF-8 bytes. */
static size_t unspell(const pt_tokenizer *t, const char *s, size_t n, char *out) {
    size_t i = 0, o = 0;
    while (i < n) {
        uint32_t cp;
        int k = utf8_next((const uint8_t *)s + i, n - i, &cp);
        if (k <= 0) { out[o++] = s[i++]; continue; }
        int b = cp < 256 + 68 ? t->cp_byte[cp] : -1;
        if (b >= 0) out[o++] = (char)b;
        else { memcpy(out + o, s + i, (size_t)k); o += (size_t)k; }
        i += (size_t)k;
    }
    return o;
}

typedef struct { uint8_t first; size_t len; int32_t id; } special_key;

static int cmp_special(const void *a, const void *b) { /* by first byte, then longest first */
    const special_key *x = a, *y = b;
    if (x->first != y->first) return x->first < y->first ? -1 : 1;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return x->id < y->id ? -1 : (x->id > y->id);
}

/* Raw bytes of a SentencePiece token: U+2581 (▁) stands for a space, <0xNN> byte tokens for their
 * byte; everything else is its text. */
static size_t spm_unspell(int type, const char *s, size_t n, char *out) {
    static const char hex[] = "0123456789ABCDEF";
    if (type == PT_TOKEN_BYTE && n == 6 && memcmp(s, "<0x", 3) == 0 && s[5] == '>') {
        const char *hi = memchr(hex, s[3], 16), *lo = memchr(hex, s[4], 16);
        if (hi && lo && s[3] && s[4]) {
            out[0] = (char)((hi - hex) * 16 + (lo - hex));
            return 1;
        }
    }
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (n - i >= 3 && memcmp(s + i, "\xE2\x96\x81", 3) == 0) { out[o++] = ' '; i += 3; }
        else out[o++] = s[i++];
    }
    return o;
}

/* The vocabulary both kinds share: strings, types, the string -> id map and the added tokens. */
static pt_tokenizer *vocab_new(int n_vocab, const char *const *tokens, const size_t *token_lens,
                               const int32_t *token_types, int spm, char *err, size_t errlen) {
    if (n_vocab <= 0 || !tokens || !token_lens) {
        snprintf(err, errlen, "empty or missing vocabulary");
        return NULL;
    }
    if (n_vocab > (1 << 28)) { /* keeps the hash table sizes in 32 bits */
        snprintf(err, errlen, "vocabulary too large");
        return NULL;
    }
    pt_tokenizer *t = calloc(1, sizeof *t);
    if (!t) goto oom;
    t->n_vocab = n_vocab;
    t->spm = spm;
    t->unk_id = -1;
    build_byte_maps(t->byte_cp, t->cp_byte);
    size_t arena_size = 0;
    for (int id = 0; id < n_vocab; id++) {
        if (token_lens[id] > UINT32_MAX / 2 || (token_lens[id] && !tokens[id])) {
            snprintf(err, errlen, "token %d is invalid", id);
            pt_tokenizer_free(t);
            return NULL;
        }
        arena_size += 2 * token_lens[id] + 2; /* text + NUL, piece + NUL (a piece is never longer) */
    }
    t->arena = malloc(arena_size);
    t->text_off = malloc((size_t)n_vocab * sizeof *t->text_off);
    t->piece_off = malloc((size_t)n_vocab * sizeof *t->piece_off);
    t->text_len = malloc((size_t)n_vocab * sizeof *t->text_len);
    t->piece_len = malloc((size_t)n_vocab * sizeof *t->piece_len);
    t->type = malloc((size_t)n_vocab * sizeof *t->type);
    t->vocab.mask = table_size((size_t)n_vocab) - 1;
    t->vocab.slots = malloc(((size_t)t->vocab.mask + 1) * sizeof *t->vocab.slots);
    if (!t->arena || !t->text_off || !t->piece_off || !t->text_len || !t->piece_len || !t->type || !t->vocab.slots)
        goto oom;
    memset(t->vocab.slots, 0xFF, ((size_t)t->vocab.mask + 1) * sizeof *t->vocab.slots);

    size_t used = 0;
    for (int id = 0; id < n_vocab; id++) {
        size_t n = token_lens[id];
        const char *s = n ? tokens[id] : "";
        t->type[id] = token_types ? token_types[id] : PT_TOKEN_NORMAL;
        t->text_off[id] = used;
        t->text_len[id] = (uint32_t)n;
        if (n) memcpy(t->arena + used, s, n);
        t->arena[used + n] = 0;
        used += n + 1;
        if (is_added(t->type[id])) { /* plain text, not byte-spelled */
            t->piece_off[id] = t->text_off[id];
            t->piece_len[id] = (uint32_t)n;
        } else {
            t->piece_off[id] = used;
            t->piece_len[id] = (uint32_t)(spm ? spm_unspell(t->type[id], s, n, t->arena + used) : unspell(t, s, n, t->arena + used));
            t->arena[used + t->piece_len[id]] = 0;
            used += t->piece_len[id] + 1;
        }
        /* A repeated string maps to its last id, like HF's {token: id} dict built from the
         * GGUF list (real vocabularies have no repeats). */
        uint32_t i = (uint32_t)hash_bytes(s, n) & t->vocab.mask;
        while (t->vocab.slots[i] >= 0 &&
               !(t->text_len[t->vocab.slots[i]] == n && memcmp(TEXT(t, t->vocab.slots[i]), s, n) == 0))
            i = (i + 1) & t->vocab.mask;
        t->vocab.slots[i] = id;
    }

    /* Added tokens, bucketed by first byte for the leftmost-longest scan. */
    for (int id = 0; id < n_vocab; id++)
        if (is_added(t->type[id]) && t->text_len[id] > 0) t->n_special++;
    t->special = malloc(((size_t)t->n_special + 1) * sizeof *t->special);
    special_key *keys = malloc(((size_t)t->n_special + 1) * sizeof *keys);
    if (!t->special || !keys) { free(keys); goto oom; }
    t->n_special = 0;
    for (int id = 0; id < n_vocab; id++)
        if (is_added(t->type[id]) && t->text_len[id] > 0)
            keys[t->n_special++] = (special_key){(uint8_t)TEXT(t, id)[0], t->text_len[id], id};
    qsort(keys, (size_t)t->n_special, sizeof *keys, cmp_special);
    for (int k = 0; k < t->n_special; k++) t->special[k] = keys[k].id;
    free(keys);
    for (int b = 0, k = 0; b <= 256; b++) {
        while (k < t->n_special && (uint8_t)TEXT(t, t->special[k])[0] < b) k++;
        t->special_start[b] = k;
    }
    return t;

oom:
    snprintf(err, errlen, "out of memory building the tokenizer");
    pt_tokenizer_free(t);
    return NULL;
}

pt_tokenizer *pt_tokenizer_new(int n_vocab, const char *const *tokens, const size_t *token_lens,
                               const int32_t *token_types, int n_merges, const char *const *merges,
                               const size_t *merge_lens, const char *pre, char *err, size_t errlen) {
    char dummy[1];
    if (!err || !errlen) { err = dummy; errlen = sizeof dummy; }
    err[0] = 0;
    enum pre_kind kind;
    int ignore_merges;
    if (pre_from_name(pre, &kind, &ignore_merges) < 0) {
        snprintf(err, errlen, "unknown pre-tokenizer '%s' (known: qwen2, llama-bpe, llama3, smollm, gpt2, default)", pre);
        return NULL;
    }
    if (n_merges < 0 || (n_merges > 0 && (!merges || !merge_lens))) {
        snprintf(err, errlen, "empty or missing vocabulary");
        return NULL;
    }
    if (n_merges > (1 << 28)) {
        snprintf(err, errlen, "vocabulary too large");
        return NULL;
    }
    pt_tokenizer *t = vocab_new(n_vocab, tokens, token_lens, token_types, 0, err, errlen);
    if (!t) return NULL;
    t->pre = kind;
    t->ignore_merges = ignore_merges;
    for (int b = 0; b < 256; b++) {
        char buf[4];
        size_t n = put_utf8(t->byte_cp[b], buf);
        t->byte_id[b] = str_map_get(t, buf, n);
    }

    /* Merges: "left right" -> rank = index. A merge whose parts or result are not in the
     * vocabulary can never fire and is skipped. A repeated pair keeps its last rank, as HF's
     * HashMap built from the list does. */
    t->merge_mask = table_size((size_t)n_merges) - 1;
    t->merges = calloc((size_t)t->merge_mask + 1, sizeof *t->merges);
    if (!t->merges) goto oom;
    {
        size_t cap = 256;
        char *cat = malloc(cap);
        if (!cat) goto oom;
        for (int r = 0; r < n_merges; r++) {
            const char *m = merges[r];
            size_t n = m ? merge_lens[r] : 0;
            const char *sp = n > 1 ? memchr(m + 1, ' ', n - 1) : NULL;
            if (!sp) continue;
            size_t na = (size_t)(sp - m), nb = n - na - 1;
            int32_t a = str_map_get(t, m, na), b = str_map_get(t, sp + 1, nb);
            if (a < 0 || b < 0) continue;
            if (na + nb > cap) {
                char *p = realloc(cat, cap = na + nb);
                if (!p) { free(cat); goto oom; }
                cat = p;
            }
            memcpy(cat, m, na);
            memcpy(cat + na, sp + 1, nb);
            int32_t res = str_map_get(t, cat, na + nb);
            if (res < 0) continue;
            uint64_t key = (((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1;
            uint32_t i = (uint32_t)hash_u64(key) & t->merge_mask;
            while (t->merges[i].key != 0 && t->merges[i].key != key) i = (i + 1) & t->merge_mask;
            t->merges[i].key = key;
            t->merges[i].rank = r;
            t->merges[i].result = res;
        }
        free(cat);
    }
    return t;

oom:
    snprintf(err, errlen, "out of memory building the tokenizer");
    pt_tokenizer_free(t);
    return NULL;
}

typedef struct { float score; int32_t id; } scored_id;

static int cmp_score_desc(const void *a, const void *b) {
    const scored_id *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->id < y->id ? -1 : (x->id > y->id);
}

pt_tokenizer *pt_tokenizer_new_spm(int n_vocab, const char *const *tokens, const size_t *token_lens,
                                   const int32_t *token_types, const float *scores, char *err, size_t errlen) {
    char dummy[1];
    if (!err || !errlen) { err = dummy; errlen = sizeof dummy; }
    err[0] = 0;
    if (!scores) {
        snprintf(err, errlen, "a SentencePiece vocabulary needs its scores (tokenizer.ggml.scores)");
        return NULL;
    }
    pt_tokenizer *t = vocab_new(n_vocab, tokens, token_lens, token_types, 1, err, errlen);
    if (!t) return NULL;
    /* Merge priority: rank of the score, highest first; equal scores share a rank so that the
     * leftmost pair wins between them, as in SentencePiece and llama.cpp. Only the pieces
     * SentencePiece merges into (normal, user-defined, unused) get one. */
    scored_id *order = malloc((size_t)n_vocab * sizeof *order);
    t->spm_rank = malloc((size_t)n_vocab * sizeof *t->spm_rank);
    if (!order || !t->spm_rank) {
        free(order);
        snprintf(err, errlen, "out of memory building the tokenizer");
        pt_tokenizer_free(t);
        return NULL;
    }
    int n = 0;
    for (int id = 0; id < n_vocab; id++) {
        const int ty = t->type[id];
        t->spm_rank[id] = -1;
        if ((ty == PT_TOKEN_NORMAL || ty == PT_TOKEN_USER_DEFINED || ty == PT_TOKEN_UNUSED) && scores[id] == scores[id])
            order[n++] = (scored_id){scores[id], id};
        if (ty == PT_TOKEN_UNKNOWN && t->unk_id < 0) t->unk_id = id;
    }
    qsort(order, (size_t)n, sizeof *order, cmp_score_desc);
    for (int k = 0, rank = 0; k < n; k++) {
        if (k > 0 && order[k].score != order[k - 1].score) rank = k;
        t->spm_rank[order[k].id] = rank;
    }
    free(order);
    for (int b = 0; b < 256; b++) {
        char name[8];
        snprintf(name, sizeof name, "<0x%02X>", b);
        t->byte_id[b] = str_map_get(t, name, 6);
    }
    return t;
}

void pt_tokenizer_set_space_prefix(pt_tokenizer *t, int on) {
    if (t) t->space_prefix = on != 0;
}

int pt_tokenizer_is_spm(const pt_tokenizer *t) { return t && t->spm; }

void pt_tokenizer_free(pt_tokenizer *t) {
    if (!t) return;
    free(t->arena);
    free(t->text_off);
    free(t->piece_off);
    free(t->text_len);
    free(t->piece_len);
    free(t->type);
    free(t->vocab.slots);
    free(t->merges);
    free(t->special);
    free(t->spm_rank);
    free(t);
}

int pt_tokenizer_n_vocab(const pt_tokenizer *t) { return t ? t->n_vocab : 0; }

void pt_tokenizer_set_nfc(pt_tokenizer *t, int on) {
    if (t) t->nfc = on != 0;
}

int pt_tokenizer_token_type(const pt_tokenizer *t, int32_t id) {
    return (t && id >= 0 && id < t->n_vocab) ? t->type[id] : -1;
}

const char *pt_tokenizer_piece(const pt_tokenizer *t, int32_t id, size_t *len) {
    if (!t || id < 0 || id >= t->n_vocab) {
        if (len) *len = 0;
        return NULL;
    }
    if (len) *len = t->piece_len[id];
    return PIECE(t, id);
}

int pt_tokenizer_find(const pt_tokenizer *t, const char *text, size_t len) {
    if (!t || (!text && len)) return -1;
    return str_map_get(t, text ? text : "", len);
}

/* ---------------------------------------------------------------- encoding */

/* Per-call scratch. The character arrays take 9 bytes per input byte; the BPE arrays grow to
 * the longest pre-token seen (about 35 bytes per byte of it), so memory is linear in the input. */
typedef struct {
    /* decoded characters of the current span */
    uint32_t *cp; /* code point; invalid bytes get INVALID_CP */
    uint8_t *cls;
    uint32_t *off; /* byte offset of each character in the span, off[n] = end */
    /* BPE symbols of the current piece: one per byte at first, merged in place */
    size_t piece_cap;
    int32_t *sym_id; /* -1 once merged into its left neighbour */
    int32_t *sym_prev, *sym_next;
    /* min-heap of candidate merges; each merge adds at most two, so 3 per byte suffice */
    struct cand { int32_t rank, left, right, left_id, right_id; } *heap;
    int n_heap;
    char *spelled; /* the piece in the byte-to-unicode alphabet (ignore_merges lookup) */
    int failed;    /* out of memory */
    size_t chars_cap; /* capacity of cp/cls/off (characters) */
    /* NFC scratch: code points of the span, and the normalized UTF-8 */
    uint32_t *ncp;
    size_t ncp_cap;
    char *norm;
    size_t norm_cap;
    /* SentencePiece: the span with spaces escaped as U+2581, and its symbols as byte ranges */
    char *esc;
    size_t esc_cap;
    uint32_t *sym_off, *sym_len;
    size_t sym_cap, sym_cap2;
    /* output */
    int32_t *out;
    int cap, count;
} encoder;

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 0;
    size_t n = *cap * 2 > need ? *cap * 2 : need;
    void *q = realloc(*p, n * elem);
    if (!q) return -1;
    *p = q;
    *cap = n;
    return 0;
}

static int reserve_chars(encoder *e, size_t n) { /* n characters (+1 offset) */
    if (n + 1 <= e->chars_cap) return 0;
    size_t cap = e->chars_cap * 2 > n + 1 ? e->chars_cap * 2 : n + 1, c1 = e->chars_cap, c2 = e->chars_cap;
    if (grow((void **)&e->cp, &c1, cap, sizeof *e->cp) < 0 || grow((void **)&e->cls, &c2, cap, 1) < 0 ||
        grow((void **)&e->off, &e->chars_cap, cap, sizeof *e->off) < 0)
        return -1;
    return 0;
}

static int reserve_piece(encoder *e, size_t n) {
    if (n <= e->piece_cap) return 0;
    size_t cap = e->piece_cap * 2 > n ? e->piece_cap * 2 : n;
    int32_t *id = realloc(e->sym_id, cap * sizeof *id);
    if (id) e->sym_id = id;
    int32_t *pv = realloc(e->sym_prev, cap * sizeof *pv);
    if (pv) e->sym_prev = pv;
    int32_t *nx = realloc(e->sym_next, cap * sizeof *nx);
    if (nx) e->sym_next = nx;
    struct cand *hp = realloc(e->heap, 3 * cap * sizeof *hp);
    if (hp) e->heap = hp;
    char *sp = realloc(e->spelled, 2 * cap + 1);
    if (sp) e->spelled = sp;
    if (!id || !pv || !nx || !hp || !sp) return -1;
    e->piece_cap = cap;
    return 0;
}

#define INVALID_CP 0xFFFFFFFFu

static void emit(encoder *e, int32_t id) {
    if (e->count == INT32_MAX) { /* only reachable through NFC growing a 2 GB text */
        e->failed = 1;
        return;
    }
    if (e->count < e->cap) e->out[e->count] = id;
    e->count++;
}

static int cand_less(const struct cand *a, const struct cand *b) {
    return a->rank != b->rank ? a->rank < b->rank : a->left < b->left;
}

static void heap_push(encoder *e, struct cand c) {
    int i = e->n_heap++;
    while (i > 0) {
        int p = (i - 1) / 2;
        if (!cand_less(&c, &e->heap[p])) break;
        e->heap[i] = e->heap[p];
        i = p;
    }
    e->heap[i] = c;
}

static struct cand heap_pop(encoder *e) {
    struct cand top = e->heap[0], last = e->heap[--e->n_heap];
    int i = 0, n = e->n_heap;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && cand_less(&e->heap[c + 1], &e->heap[c])) c++;
        if (!cand_less(&e->heap[c], &last)) break;
        e->heap[i] = e->heap[c];
        i = c;
    }
    if (n > 0) e->heap[i] = last;
    return top;
}

static void try_pair(const pt_tokenizer *t, encoder *e, int left, int right) {
    if (left < 0 || right < 0) return;
    const merge_slot *m = merge_get(t, e->sym_id[left], e->sym_id[right]);
    if (m) heap_push(e, (struct cand){m->rank, left, right, e->sym_id[left], e->sym_id[right]});
}

/* BPE over the raw bytes s[0..n) of one pre-token. */
static void bpe_piece(const pt_tokenizer *t, encoder *e, const uint8_t *s, size_t n) {
    if (n == 0 || e->failed) return;
    if (reserve_piece(e, n) < 0) {
        e->failed = 1;
        return;
    }
    if (t->ignore_merges) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++) k += put_utf8(t->byte_cp[s[i]], e->spelled + k);
        int id = str_map_get(t, e->spelled, k);
        if (id >= 0) { emit(e, id); return; }
    }
    if (n == 1) { /* the common case of a lone byte */
        if (t->byte_id[s[0]] >= 0) emit(e, t->byte_id[s[0]]);
        return;
    }
    /* One symbol per byte; bytes missing from the vocabulary are dropped (HF without an
     * unknown token does the same) and their neighbours become adjacent. */
    int m = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t id = t->byte_id[s[i]];
        if (id < 0) continue;
        e->sym_id[m] = id;
        e->sym_prev[m] = m - 1;
        e->sym_next[m] = m + 1;
        m++;
    }
    if (m == 0) return;
    e->sym_next[m - 1] = -1;
    e->n_heap = 0;
    for (int i = 0; i + 1 < m; i++) try_pair(t, e, i, i + 1);
    while (e->n_heap > 0) {
        struct cand c = heap_pop(e);
        /* Stale entries: a side was merged away or changed since the candidate was pushed. */
        if (e->sym_id[c.left] != c.left_id || e->sym_next[c.left] != c.right || e->sym_id[c.right] != c.right_id)
            continue;
        const merge_slot *mg = merge_get(t, c.left_id, c.right_id);
        e->sym_id[c.left] = mg->result;
        e->sym_id[c.right] = -1; /* dead */
        int nx = e->sym_next[c.right];
        e->sym_next[c.left] = nx;
        if (nx >= 0) e->sym_prev[nx] = c.left;
        try_pair(t, e, e->sym_prev[c.left], c.left);
        try_pair(t, e, c.left, nx);
    }
    for (int i = 0; i >= 0; i = e->sym_next[i]) emit(e, e->sym_id[i]);
}

static int is_crlf(uint32_t c) { return c == '\r' || c == '\n'; }

static uint32_t fold_ascii(uint32_t c) { /* case folding for (?i) contractions */
    if (c >= 'A' && c <= 'Z') return c + 32;
    if (c == 0x017F) return 's'; /* LATIN SMALL LETTER LONG S folds to 's' in Oniguruma */
    return c;
}

/* Length of a contraction 's 't 're 've 'm 'll 'd at i (0 if none). */
static int contraction(const encoder *e, int i, int n, int fold) {
    if (e->cp[i] != '\'' || i + 1 >= n) return 0;
    uint32_t a = e->cp[i + 1], b = i + 2 < n ? e->cp[i + 2] : 0;
    if (fold) { a = fold_ascii(a); b = fold_ascii(b); }
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    return 0;
}

/* End of the whitespace alternatives at i (a space char): `\s*[\r\n]+` when `crlf_alt`,
 * then `\s+(?!\S)`, then `\s+`. */
static int space_run(const encoder *e, int i, int n, int crlf_alt) {
    int k = i, last_nl = -1;
    while (k < n && e->cls[k] == PT_CLS_SPACE) {
        if (is_crlf(e->cp[k])) last_nl = k;
        k++;
    }
    if (crlf_alt && last_nl >= 0) return last_nl + 1; /* \s* backs off to the last newline */
    if (k < n && k - i > 1) return k - 1;             /* leave one space for the next word */
    return k;
}

/* Qwen2 / Llama-3:
 * (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,max_digits}
 * | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 * Returns the end index of the match starting at i (always > i). */
static int match_qwen2(const encoder *e, int i, int n, int max_digits) {
    int k = contraction(e, i, n, 1);
    if (k) return i + k;
    uint32_t c = e->cp[i];
    int cl = e->cls[i];
    int j = (cl != PT_CLS_LETTER && cl != PT_CLS_NUMBER && !is_crlf(c)) ? i + 1 : i;
    if (j < n && e->cls[j] == PT_CLS_LETTER) {
        while (j < n && e->cls[j] == PT_CLS_LETTER) j++;
        return j;
    }
    if (cl == PT_CLS_NUMBER) {
        j = i;
        while (j < n && j - i < max_digits && e->cls[j] == PT_CLS_NUMBER) j++;
        return j;
    }
    j = (c == ' ' && i + 1 < n && e->cls[i + 1] == PT_CLS_OTHER) ? i + 1 : i;
    if (e->cls[j] == PT_CLS_OTHER) {
        while (j < n && e->cls[j] == PT_CLS_OTHER) j++;
        while (j < n && is_crlf(e->cp[j])) j++;
        return j;
    }
    return space_run(e, i, n, 1); /* cl is SPACE here */
}

/* GPT-2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
static int match_gpt2(const encoder *e, int i, int n) {
    int k = contraction(e, i, n, 0);
    if (k) return i + k;
    int j = (e->cp[i] == ' ' && i + 1 < n && e->cls[i + 1] != PT_CLS_SPACE) ? i + 1 : i;
    int cl = e->cls[j];
    if (cl == PT_CLS_SPACE) return space_run(e, i, n, 0);
    while (j < n && e->cls[j] == cl) j++; /* letters, numbers or others */
    return j;
}

/* ---------------------------------------------------------------- NFC (optional) */

/* Hangul syllables compose and decompose by arithmetic (Unicode 3.12). */
enum { H_SBASE = 0xAC00, H_LBASE = 0x1100, H_VBASE = 0x1161, H_TBASE = 0x11A7,
       H_LCOUNT = 19, H_VCOUNT = 21, H_TCOUNT = 28, H_NCOUNT = H_VCOUNT * H_TCOUNT, H_SCOUNT = H_LCOUNT * H_NCOUNT };
#define RAW_BYTE 0x80000000u /* marks an invalid UTF-8 byte kept as is (ccc 0, never composes) */

static int in_ranges(const pt_cp_range *r, int n, uint32_t cp) {
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < r[mid].lo) hi = mid - 1;
        else if (cp > r[mid].hi) lo = mid + 1;
        else return 1;
    }
    return 0;
}

static int ccc_of(uint32_t cp) {
    if (cp < 0x300 || cp >= 0x110000) return 0;
    int lo = 0, hi = PT_NFC_N_CCC - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < pt_nfc_ccc[mid].lo) hi = mid - 1;
        else if (cp > pt_nfc_ccc[mid].hi) lo = mid + 1;
        else return pt_nfc_ccc[mid].cls;
    }
    return 0;
}

static const pt_cp_triple *decomp_of(uint32_t cp) {
    int lo = 0, hi = PT_NFC_N_DECOMP - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < pt_nfc_decomp[mid].cp) hi = mid - 1;
        else if (cp > pt_nfc_decomp[mid].cp) lo = mid + 1;
        else return &pt_nfc_decomp[mid];
    }
    return NULL;
}

static uint32_t compose_pair(uint32_t a, uint32_t b) { /* 0 if a, b do not compose */
    if (a >= H_LBASE && a < H_LBASE + H_LCOUNT && b >= H_VBASE && b < H_VBASE + H_VCOUNT)
        return H_SBASE + ((a - H_LBASE) * H_VCOUNT + (b - H_VBASE)) * H_TCOUNT;
    if (a >= H_SBASE && a < H_SBASE + H_SCOUNT && (a - H_SBASE) % H_TCOUNT == 0 && b > H_TBASE &&
        b < H_TBASE + H_TCOUNT)
        return a + (b - H_TBASE);
    int lo = 0, hi = PT_NFC_N_COMP - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        const pt_cp_triple *c = &pt_nfc_comp[mid];
        if (a < c->cp || (a == c->cp && b < c->a)) hi = mid - 1;
        else if (a > c->cp || b > c->a) lo = mid + 1;
        else return c->b;
    }
    return 0;
}

/* Appends the full canonical decomposition of cp (at most 4 code points). */
static size_t decompose(uint32_t cp, uint32_t *out) {
    if (cp >= H_SBASE && cp < H_SBASE + H_SCOUNT) {
        uint32_t si = cp - H_SBASE, t = si % H_TCOUNT;
        out[0] = H_LBASE + si / H_NCOUNT;
        out[1] = H_VBASE + (si % H_NCOUNT) / H_TCOUNT;
        if (t == 0) return 2;
        out[2] = H_TBASE + t;
        return 3;
    }
    const pt_cp_triple *d = cp >= 0xC0 && cp < 0x110000 ? decomp_of(cp) : NULL;
    if (!d) {
        out[0] = cp;
        return 1;
    }
    size_t n = decompose(d->a, out);
    if (d->b) n += decompose(d->b, out + n);
    return n;
}

/* Quick check: 0 when s is certainly NFC already (the common case), so nothing is copied. */
static int needs_nfc(const uint8_t *s, size_t len) {
    for (size_t i = 0; i < len;) {
        if (s[i] < 0x80) { i++; continue; }
        uint32_t cp;
        int k = utf8_next(s + i, len - i, &cp);
        if (k <= 0) { i++; continue; }
        if (cp >= 0x300 && in_ranges(pt_nfc_check, PT_NFC_N_CHECK, cp)) return 1;
        i += (size_t)k;
    }
    return 0;
}

/* NFC of s[0..len) into e->norm (decompose, order marks by combining class, recompose).
 * Returns the new length, or -1 when out of memory. */
static long nfc_normalize(encoder *e, const uint8_t *s, size_t len) {
    if (grow((void **)&e->ncp, &e->ncp_cap, 4 * len + 4, sizeof *e->ncp) < 0) return -1;
    uint32_t *c = e->ncp;
    size_t m = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        int k = utf8_next(s + i, len - i, &cp);
        if (k <= 0) { c[m++] = RAW_BYTE | s[i++]; continue; }
        size_t first = m;
        m += decompose(cp, c + m);
        /* canonical ordering: stable insertion of each mark behind marks of a higher class */
        for (size_t j = first; j < m; j++) {
            int cc = ccc_of(c[j]);
            if (cc == 0) continue;
            for (size_t q = j; q > 0; q--) {
                int pc = ccc_of(c[q - 1]);
                if (pc == 0 || pc <= cc) break;
                uint32_t tmp = c[q]; c[q] = c[q - 1]; c[q - 1] = tmp;
            }
        }
        i += (size_t)k;
    }
    /* canonical composition, in place */
    size_t o = 0;
    long starter = -1; /* index in c of the last starter that may still compose */
    int last_cc = 0;   /* class of the last character kept after the starter (0: adjacent) */
    for (size_t i = 0; i < m; i++) {
        uint32_t cp = c[i];
        int cc = (cp & RAW_BYTE) ? 0 : ccc_of(cp);
        if (starter >= 0 && !(cp & RAW_BYTE) && (last_cc < cc || last_cc == 0)) {
            uint32_t comp = compose_pair(c[starter], cp);
            if (comp) {
                c[starter] = comp;
                continue;
            }
        }
        if (cc == 0) {
            starter = (cp & RAW_BYTE) ? -1 : (long)o;
            last_cc = 0;
        } else {
            last_cc = cc;
            if (starter < 0) last_cc = 256; /* marks with no starter before them never compose */
        }
        c[o++] = cp;
    }
    if (grow((void **)&e->norm, &e->norm_cap, 4 * o + 1, 1) < 0) return -1;
    size_t n = 0;
    for (size_t i = 0; i < o; i++) {
        if (c[i] & RAW_BYTE) e->norm[n++] = (char)(c[i] & 0xFF);
        else n += put_utf8(c[i], e->norm + n);
    }
    return (long)n;
}

/* SentencePiece BPE over a span (SentencePiece's bpe_model.cc and llama.cpp's llm_tokenizer_spm):
 * spaces become U+2581 (one more in front when `prefix`); each character is a symbol; the
 * adjacent pair whose concatenation is the highest-scoring piece merges first (leftmost among
 * equals), until no pair is a piece. A symbol left that is no token (a character outside the
 * vocabulary, an invalid byte) falls back to its <0xNN> byte tokens, or to the unknown token. */
static void spm_span(const pt_tokenizer *t, encoder *e, const uint8_t *u, size_t len, int prefix) {
    const size_t max = 3 * (len + 1);
    if (grow((void **)&e->esc, &e->esc_cap, max, 1) < 0) {
        e->failed = 1;
        return;
    }
    size_t n = 0;
    if (prefix) memcpy(e->esc, "\xE2\x96\x81", 3), n = 3;
    for (size_t i = 0; i < len; i++) {
        if (u[i] == ' ') memcpy(e->esc + n, "\xE2\x96\x81", 3), n += 3;
        else e->esc[n++] = (char)u[i];
    }
    if (n == 0) return;
    if (reserve_piece(e, n) < 0 || grow((void **)&e->sym_off, &e->sym_cap, n, sizeof *e->sym_off) < 0 ||
        grow((void **)&e->sym_len, &e->sym_cap2, n, sizeof *e->sym_len) < 0) {
        e->failed = 1;
        return;
    }
    const uint8_t *x = (const uint8_t *)e->esc;
    int m = 0;
    for (size_t i = 0; i < n; m++) {
        uint32_t cp;
        int k = utf8_next(x + i, n - i, &cp);
        if (k <= 0) k = 1; /* an invalid byte is a symbol of its own */
        e->sym_off[m] = (uint32_t)i;
        e->sym_len[m] = (uint32_t)k;
        e->sym_prev[m] = m - 1;
        e->sym_next[m] = m + 1;
        i += (size_t)k;
    }
    e->sym_next[m - 1] = -1;
    e->n_heap = 0;
    /* a candidate remembers both sides' lengths: it is stale once either side has changed */
#define SPM_TRY(l, r)                                                                                   \
    do {                                                                                                \
        const int l_ = (l), r_ = (r);                                                                   \
        if (l_ >= 0 && r_ >= 0) {                                                                       \
            const int id_ = str_map_get(t, e->esc + e->sym_off[l_], e->sym_len[l_] + e->sym_len[r_]);  \
            if (id_ >= 0 && t->spm_rank[id_] >= 0)                                                      \
                heap_push(e, (struct cand){t->spm_rank[id_], l_, r_, (int32_t)e->sym_len[l_], (int32_t)e->sym_len[r_]}); \
        }                                                                                               \
    } while (0)
    for (int i = 0; i + 1 < m; i++) SPM_TRY(i, i + 1);
    while (e->n_heap > 0) {
        struct cand c = heap_pop(e);
        if (e->sym_next[c.left] != c.right || (int32_t)e->sym_len[c.left] != c.left_id ||
            (int32_t)e->sym_len[c.right] != c.right_id)
            continue;
        e->sym_len[c.left] += e->sym_len[c.right];
        e->sym_len[c.right] = 0;
        const int nx = e->sym_next[c.right];
        e->sym_next[c.left] = nx;
        if (nx >= 0) e->sym_prev[nx] = c.left;
        SPM_TRY(e->sym_prev[c.left], c.left);
        SPM_TRY(c.left, nx);
    }
#undef SPM_TRY
    for (int i = 0; i >= 0; i = e->sym_next[i]) {
        const int id = str_map_get(t, e->esc + e->sym_off[i], e->sym_len[i]);
        if (id >= 0) {
            emit(e, id);
            continue;
        }
        int bytes = 1;
        for (uint32_t b = 0; b < e->sym_len[i]; b++) bytes &= t->byte_id[x[e->sym_off[i] + b]] >= 0;
        if (!bytes) { /* no byte fallback in this vocabulary */
            if (t->unk_id >= 0) emit(e, t->unk_id);
            continue;
        }
        for (uint32_t b = 0; b < e->sym_len[i]; b++) emit(e, t->byte_id[x[e->sym_off[i] + b]]);
    }
}

/* Pre-tokenizes and encodes the text span s[0..len) that holds no added token. */
static void encode_span(const pt_tokenizer *t, encoder *e, const char *s, size_t len, int spm_prefix) {
    const uint8_t *u = (const uint8_t *)s;
    if (e->failed) return;
    if (t->nfc && needs_nfc(u, len)) {
        long n = nfc_normalize(e, u, len);
        if (n < 0) {
            e->failed = 1;
            return;
        }
        u = (const uint8_t *)e->norm;
        len = (size_t)n;
    }
    if (t->spm) {
        spm_span(t, e, u, len, spm_prefix);
        return;
    }
    if (len > (size_t)INT32_MAX || reserve_chars(e, len) < 0) {
        e->failed = 1;
        return;
    }
    int n = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        int k = utf8_next(u + i, len - i, &cp);
        e->off[n] = (uint32_t)i;
        if (k > 0) {
            e->cp[n] = cp;
            e->cls[n] = (uint8_t)cp_class(cp);
            i += (size_t)k;
        } else { /* invalid or truncated: one byte that behaves like punctuation */
            e->cp[n] = INVALID_CP;
            e->cls[n] = PT_CLS_OTHER;
            i += 1;
        }
        n++;
    }
    e->off[n] = (uint32_t)len;
    int lim = 0; /* smollm: end of the digit-free stretch that holds i */
    for (int i = 0; i < n;) {
        int end;
        switch (t->pre) {
        case PRE_QWEN2: end = match_qwen2(e, i, n, 1); break;
        case PRE_LLAMA3: end = match_qwen2(e, i, n, 3); break;
        case PRE_SMOLLM: /* every digit alone, the GPT-2 regex between digits */
            if (is_digits_numeric(e->cp[i], e->cls[i])) {
                end = i + 1;
            } else {
                if (lim <= i)
                    for (lim = i; lim < n && !is_digits_numeric(e->cp[lim], e->cls[lim]);) lim++;
                end = match_gpt2(e, i, lim);
            }
            break;
        default: end = match_gpt2(e, i, n); break;
        }
        bpe_piece(t, e, u + e->off[i], e->off[end] - e->off[i]);
        i = end;
    }
}

/* Leftmost-longest added token at or after `from`: returns its start (len if none). */
static size_t find_special(const pt_tokenizer *t, const char *s, size_t len, size_t from, int32_t *id) {
    for (size_t i = from; i < len; i++) {
        uint8_t b = (uint8_t)s[i];
        for (int k = t->special_start[b]; k < t->special_start[b + 1]; k++) {
            int32_t sid = t->special[k];
            size_t n = t->text_len[sid];
            if (n <= len - i && memcmp(s + i, TEXT(t, sid), n) == 0) {
                *id = sid;
                return i;
            }
        }
    }
    return len;
}

int pt_tokenizer_encode(const pt_tokenizer *t, const char *text, size_t len, int parse_special, int32_t *out,
                        int cap) {
    if (!t || (!text && len) || cap < 0 || (!out && cap > 0) || len > (size_t)INT32_MAX) return -1;
    encoder e = {0};
    e.out = out;
    e.cap = cap;
    if (len == 0) return 0;
    int rc = -1;
    if (reserve_chars(&e, len) < 0 || reserve_piece(&e, 64) < 0) goto done;
    size_t start = 0, pos = 0; /* start of the pending text span, where the search resumes */
    int after_special = 1;     /* SPM's space prefix goes before the text and after added tokens */
    for (;;) {
        int32_t sid = -1;
        size_t at = (pos < len && t->n_special) ? find_special(t, text, len, pos, &sid) : len;
        if (at < len && !parse_special && t->type[sid] == PT_TOKEN_CONTROL) {
            /* Like HF's encode_special_tokens: the match is found (so no shorter token inside it
             * matches) but stays plain text, part of the surrounding span. */
            pos = at + t->text_len[sid];
            continue;
        }
        if (at > start) encode_span(t, &e, text + start, at - start, t->space_prefix && after_special);
        after_special = 0;
        if (at >= len) break;
        emit(&e, sid);
        after_special = 1;
        start = pos = at + t->text_len[sid];
    }
    rc = e.failed ? -1 : e.count;
done:
    free(e.cp);
    free(e.cls);
    free(e.off);
    free(e.sym_id);
    free(e.sym_prev);
    free(e.sym_next);
    free(e.heap);
    free(e.spelled);
    free(e.ncp);
    free(e.norm);
    free(e.esc);
    free(e.sym_off);
    free(e.sym_len);
    return rc;
}

/* ---------------------------------------------------------------- streaming UTF-8 */

static size_t put_bytes(char *out, size_t cap, size_t o, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (o + i < cap) out[o + i] = s[i];
    return o + n;
}

static const char REPLACEMENT[3] = {(char)0xEF, (char)0xBF, (char)0xBD};

size_t pt_utf8_stream_push(pt_utf8_stream *s, const char *bytes, size_t n, char *out, size_t cap) {
    const uint8_t *u = (const uint8_t *)bytes;
    size_t o = 0, i = 0;
    uint32_t cp;
    /* Complete the pending prefix (always a valid but truncated start, <= 3 bytes) byte by byte. */
    while (s->n_pending > 0 && i < n) {
        s->pending[s->n_pending++] = (char)u[i];
        int k = utf8_next((const uint8_t *)s->pending, (size_t)s->n_pending, &cp);
        if (k == 0) { i++; continue; }
        if (k > 0) { o = put_bytes(out, cap, o, s->pending, (size_t)k); i++; }
        else { o = put_bytes(out, cap, o, REPLACEMENT, 3); } /* u[i] broke it: look at it again below */
        s->n_pending = 0;
    }
    while (i < n) {
        int k = utf8_next(u + i, n - i, &cp);
        if (k == 0) { /* a truncated character at the end: keep it for the next push */
            memcpy(s->pending, u + i, n - i);
            s->n_pending = (int)(n - i);
            break;
        }
        if (k > 0) o = put_bytes(out, cap, o, bytes + i, (size_t)k);
        else { o = put_bytes(out, cap, o, REPLACEMENT, 3); k = -k; }
        i += (size_t)k;
    }
    return o < cap ? o : cap;
}

size_t pt_utf8_stream_flush(pt_utf8_stream *s, char *out, size_t cap) {
    size_t o = 0;
    int p = 0;
    while (p < s->n_pending) { /* what is left is a truncated prefix: one U+FFFD for it */
        uint32_t cp;
        int k = utf8_next((const uint8_t *)s->pending + p, (size_t)(s->n_pending - p), &cp);
        if (k > 0) o = put_bytes(out, cap, o, s->pending + p, (size_t)k);
        else { o = put_bytes(out, cap, o, REPLACEMENT, 3); k = k < 0 ? -k : s->n_pending - p; }
        p += k;
    }
    s->n_pending = 0;
    return o < cap ? o : cap;
}
