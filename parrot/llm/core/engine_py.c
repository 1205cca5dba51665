/* _core.Model: the Python face of the engine.
 *
 * Generation runs on its own native thread: it prefills the prompt, then samples and evaluates
 * one token at a time, pushing events (prefill progress, tokens, the end) into a small queue.
 * The Python iterator drains that queue with gen_next(), waiting with the GIL released, so no
 * Python runs between tokens and another Python thread can call abort() at any time; the
 * flag is checked between layers, so generation stops within one token. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "kernels.h"
#include "parrot_llm.h"
#include "tokenizer_py.h"

static PyObject *model_error; /* parrot.llm.ModelError once engine.py registers it */

static PyObject *error_class(void) { return model_error ? model_error : PyExc_RuntimeError; }

/* Messages may quote names read from the file: decode leniently. */
static void raise_error(const char *msg) {
    PyObject *s = PyUnicode_DecodeUTF8(msg, (Py_ssize_t)strlen(msg), "replace");
    if (s) {
        PyErr_SetObject(error_class(), s);
        Py_DECREF(s);
    }
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

enum { END_NONE, END_STOP, END_LENGTH, END_ABORT, END_CONTEXT, END_ERROR };
static const char *END_NAMES[] = {"", "stop", "length", "abort", "context", "error"};

#define MAX_STOP 8
#define PL_MAX_DRAFT 16 /* prompt lookup: most draft tokens verified per pass */

typedef struct {
    PyObject_HEAD
    pl_model *m;
    pl_ctx *ctx;
    pt_tokenizer *tok;
    char tok_err[256];
    int32_t stop[MAX_STOP];
    int n_stop;
    int32_t bos, eos;
    int add_bos;
    float *logits; /* [n_vocab], the generation thread's */

    /* generation thread and its event queue */
    pthread_t thread;
    int running; /* a thread was started and not yet joined */
    atomic_int abort_flag; /* set by abort() from any thread, polled by the generation thread */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int32_t *prompt;
    int n_prompt;
    int32_t *recent; /* penalty window: history + generated tokens */
    int n_recent, cap_recent;
    int32_t *hist; /* the whole context (cached + new + generated): prompt lookup searches it */
    int n_hist, cap_hist;
    int lookup;          /* prompt lookup: most draft tokens per pass (0: plain decoding) */
    float *draft_logits; /* [lookup + 1][n_vocab] */
    int32_t *out; /* generated tokens, read by gen_next at out_read */
    int n_out, out_read, max_tokens;
    int progress, progress_pending, finished, end_reason;
    char gen_err[256];
    pl_sampling sampling;
    /* statistics of the last generation */
    int st_prefill_tokens, st_decode_tokens, st_drafted, st_accepted;
    double st_prefill_s, st_decode_s;
} ModelObject;

/* ------------------------------------------------------------------ generation thread */

static void push_progress(void *arg, int done) {
    ModelObject *self = arg;
    pthread_mutex_lock(&self->mu);
    self->progress = done;
    self->progress_pending = 1;
    pthread_cond_signal(&self->cv);
    pthread_mutex_unlock(&self->mu);
}

static void finish(ModelObject *self, int reason) {
    pthread_mutex_lock(&self->mu);
    self->finished = 1;
    self->end_reason = reason;
    pthread_cond_signal(&self->cv);
    pthread_mutex_unlock(&self->mu);
}

/* Emits a sampled token: returns END_NONE to go on, else why generation ends here. */
static int emit(ModelObject *self, int32_t t) {
    for (int i = 0; i < self->n_stop; i++)
        if (self->stop[i] == t) return END_STOP;
    pthread_mutex_lock(&self->mu);
    self->out[self->n_out++] = t;
    pthread_cond_signal(&self->cv);
    pthread_mutex_unlock(&self->mu);
    if (self->n_recent < self->cap_recent) self->recent[self->n_recent++] = t;
    if (self->n_hist < self->cap_hist) self->hist[self->n_hist++] = t;
    if (self->n_out >= self->max_tokens) return END_LENGTH; /* no need to evaluate it */
    if (pl_ctx_n_past(self->ctx) >= pl_ctx_n_ctx(self->ctx)) return END_CONTEXT;
    return END_NONE;
}

/* Plain decoding samples a token, evaluates it, samples the next... With prompt lookup
 * (self->lookup > 0) the evaluated token goes with a draft of the tokens that followed the same
 * n-gram earlier in the context, all in one batched pass; then each position is sampled in
 * order exactly as plain decoding would (same logits: a token's row of the batch is computed as
 * if alone), and the draft is kept while the sampled token equals it. The first difference is
 * itself the next token. Each emitted token costs one draw from the same distribution as
 * before, so greedy output is identical and sampled output has the same distribution. */
static void *gen_thread(void *arg) {
    ModelObject *self = arg;
    const int nv = self->m->n_vocab;
    pl_sampler *sp = pl_sampler_new(nv, &self->sampling);
    if (!sp) {
        snprintf(self->gen_err, sizeof self->gen_err, "out of memory");
        finish(self, END_ERROR);
        return NULL;
    }
    const int start = pl_ctx_n_past(self->ctx);
    double t0 = now_s();
    int rc = pl_eval(self->ctx, self->prompt, self->n_prompt, self->logits, 1, &self->abort_flag, push_progress,
                     self, self->gen_err, sizeof self->gen_err);
    double t1 = now_s();
    self->st_prefill_tokens = self->n_prompt;
    self->st_prefill_s = t1 - t0;
    int reason = rc < 0 ? END_ERROR : rc > 0 ? END_ABORT : END_NONE;
    int32_t t = 0, batch[PL_MAX_DRAFT + 1];
    int have_next = 0; /* t was already sampled (a draft mismatch) */
    /* draft length adapts: a batch costs compute per token, so wrong guesses are not free */
    int want = self->lookup < 4 ? self->lookup : 4;
    while (reason == END_NONE) {
        if (atomic_load(&self->abort_flag)) { reason = END_ABORT; break; }
        if (self->n_out >= self->max_tokens) { reason = END_LENGTH; break; }
        if (!have_next) t = pl_sample(sp, self->logits, self->recent, self->n_recent);
        have_next = 0;
        if ((reason = emit(self, t)) != END_NONE) break;
        const int base = pl_ctx_n_past(self->ctx);
        int room = pl_ctx_n_ctx(self->ctx) - base - 1, left = self->max_tokens - self->n_out, nd = 0;
        int max_draft = want < room ? want : room;
        if (left < max_draft) max_draft = left;
        /* n-grams of 2 or 3 tokens: a single repeated token predicts little */
        if (max_draft > 0) nd = pl_lookup_draft(self->hist, self->n_hist, batch + 1, max_draft, 3, 2);
        if (nd == 0) {
            rc = pl_eval(self->ctx, &t, 1, self->logits, 1, &self->abort_flag, NULL, NULL, self->gen_err,
                         sizeof self->gen_err);
            if (rc) reason = rc < 0 ? END_ERROR : END_ABORT;
            continue;
        }
        batch[0] = t;
        rc = pl_eval(self->ctx, batch, nd + 1, self->draft_logits, 0, &self->abort_flag, NULL, NULL, self->gen_err,
                     sizeof self->gen_err);
        if (rc) { reason = rc < 0 ? END_ERROR : END_ABORT; break; }
        self->st_drafted += nd;
        int i = 0;
        for (; i < nd && reason == END_NONE; i++) {
            const int32_t x = pl_sample(sp, self->draft_logits + (size_t)i * nv, self->recent, self->n_recent);
            if (x != batch[1 + i]) {
                pl_ctx_truncate(self->ctx, base + 1 + i); /* keep t and the drafts taken so far */
                t = x;
                have_next = 1;
                break;
            }
            self->st_accepted++;
            reason = emit(self, x);
        }
        if (reason == END_NONE && !have_next) memcpy(self->logits, self->draft_logits + (size_t)nd * nv, (size_t)nv * 4);
        if (i == nd) want = 2 * want < self->lookup ? 2 * want : self->lookup;
        else want = i + 1 > 1 ? i + 1 : 1;
    }
    /* drafts evaluated past the last emitted token are not part of the conversation, and the
     * cache ends where plain decoding's would (which never evaluates a token cut by the limit) */
    pl_ctx_truncate(self->ctx, start + self->n_prompt + self->n_out - (reason == END_LENGTH && self->n_out > 0));
    self->st_decode_tokens = self->n_out;
    self->st_decode_s = now_s() - t1;
    pl_sampler_free(sp);
    finish(self, reason);
    return NULL;
}

/* Exactly one caller may join the thread (gen_next, gen_join and close can race): whoever
 * clears `running` under the lock does it. */
static int claim_join(ModelObject *self) {
    pthread_mutex_lock(&self->mu);
    int r = self->running;
    self->running = 0;
    pthread_mutex_unlock(&self->mu);
    return r;
}

static void join_thread(ModelObject *self) {
    if (!claim_join(self)) return;
    Py_BEGIN_ALLOW_THREADS
    pthread_join(self->thread, NULL);
    Py_END_ALLOW_THREADS
}

static int check_idle(ModelObject *self) {
    if (!self->m) {
        PyErr_SetString(error_class(), "model is closed");
        return -1;
    }
    pthread_mutex_lock(&self->mu);
    int running = self->running, fin = self->finished;
    pthread_mutex_unlock(&self->mu);
    if (running) {
        if (!fin) {
            PyErr_SetString(error_class(), "model is busy generating (abort or finish it first)");
            return -1;
        }
        join_thread(self);
    }
    return 0;
}

/* ------------------------------------------------------------------ helpers */

static int32_t *ids_from_seq(PyObject *seq, int *n_out) {
    PyObject *fast = PySequence_Fast(seq, "token ids must be a sequence of ints");
    if (!fast) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    if (n > INT32_MAX / 4) {
        Py_DECREF(fast);
        PyErr_SetString(error_class(), "too many tokens");
        return NULL;
    }
    int32_t *ids = PyMem_Malloc((size_t)(n ? n : 1) * sizeof *ids);
    if (!ids) {
        Py_DECREF(fast);
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        long v = PyLong_AsLong(PySequence_Fast_GET_ITEM(fast, i));
        if (v == -1 && PyErr_Occurred()) {
            PyMem_Free(ids);
            Py_DECREF(fast);
            return NULL;
        }
        if (v < INT32_MIN || v > INT32_MAX) v = -1;
        ids[i] = (int32_t)v;
    }
    Py_DECREF(fast);
    *n_out = (int)n;
    return ids;
}

static void build_spm_tokenizer(ModelObject *self, const gguf_kv *tk, const gguf_kv *tt) {
    const gguf_file *f = self->m->file;
    const gguf_kv *sc = gguf_find(f, "tokenizer.ggml.scores");
    const int nv = (int)tk->arr_n;
    if (!sc || sc->type != GGUF_ARRAY || sc->arr_n != tk->arr_n || !gguf_vtype_size(sc->arr_type) ||
        sc->arr_type == GGUF_STRING) {
        snprintf(self->tok_err, sizeof self->tok_err, "tokenizer.ggml.scores is missing or not one number per token");
        return;
    }
    const char **tp = malloc(nv * sizeof *tp);
    size_t *tl = malloc(nv * sizeof *tl);
    int32_t *types = malloc(nv * sizeof *types);
    float *scores = malloc(nv * sizeof *scores);
    if (tp && tl && types && scores) {
        gguf_arr_strings(tk, tp, tl);
        for (int i = 0; i < nv; i++) {
            types[i] = (tt && tt->type == GGUF_ARRAY && (uint64_t)i < tt->arr_n) ? (int32_t)gguf_arr_i64(tt, i) : 1;
            scores[i] = (float)gguf_arr_f64(sc, i);
        }
        self->tok = pt_tokenizer_new_spm(nv, tp, tl, types, scores, self->tok_err, sizeof self->tok_err);
        if (!self->tok && !self->tok_err[0]) snprintf(self->tok_err, sizeof self->tok_err, "tokenizer failed to build");
        int64_t v;
        /* llama.cpp's default for SentencePiece files is a space prefix; Gemma's turn it off */
        if (self->tok)
            pt_tokenizer_set_space_prefix(self->tok, gguf_get_i64(f, "tokenizer.ggml.add_space_prefix", &v) == 0 ? v != 0 : 1);
    } else {
        snprintf(self->tok_err, sizeof self->tok_err, "out of memory building the tokenizer");
    }
    free(tp); free(tl); free(types); free(scores);
}

/* Builds the tokenizer from tokenizer.ggml.* metadata (model "gpt2": byte-level BPE with merges;
 * "llama": SentencePiece with scores); on failure remembers why. */
static void build_tokenizer(ModelObject *self) {
    const gguf_file *f = self->m->file;
    const gguf_kv *tk = gguf_find(f, "tokenizer.ggml.tokens");
    const gguf_kv *tt = gguf_find(f, "tokenizer.ggml.token_type");
    const gguf_kv *mg = gguf_find(f, "tokenizer.ggml.merges");
    size_t len;
    const char *model = gguf_get_str(f, "tokenizer.ggml.model", &len);
    if (!tk || tk->type != GGUF_ARRAY || tk->arr_type != GGUF_STRING || tk->arr_n == 0 || tk->arr_n > (1u << 24)) {
        snprintf(self->tok_err, sizeof self->tok_err, "the model file has no tokenizer vocabulary");
        return;
    }
    const int spm = model && len == 5 && memcmp(model, "llama", 5) == 0;
    if (!spm && (!model || len != 4 || memcmp(model, "gpt2", 4) != 0)) {
        snprintf(self->tok_err, sizeof self->tok_err,
                 "unsupported tokenizer model '%.*s' (gpt2-style BPE and llama-style SentencePiece are supported)",
                 model ? (int)(len > 32 ? 32 : len) : 4, model ? model : "none");
        return;
    }
    int nv = (int)tk->arr_n, nm = 0;
    if (spm) {
        build_spm_tokenizer(self, tk, tt);
        return;
    }
    if (mg && mg->type == GGUF_ARRAY && mg->arr_type == GGUF_STRING && mg->arr_n < (1u << 24)) nm = (int)mg->arr_n;
    const char **tp = malloc(nv * sizeof *tp), **mp = malloc((nm ? nm : 1) * sizeof *mp);
    size_t *tl = malloc(nv * sizeof *tl), *ml = malloc((nm ? nm : 1) * sizeof *ml);
    int32_t *types = malloc(nv * sizeof *types);
    char pre[64] = "default";
    const char *ps = gguf_get_str(f, "tokenizer.ggml.pre", &len);
    if (ps && len < sizeof pre) {
        memcpy(pre, ps, len);
        pre[len] = 0;
    }
    if (tp && mp && tl && ml && types) {
        gguf_arr_strings(tk, tp, tl);
        if (nm) gguf_arr_strings(mg, mp, ml);
        for (int i = 0; i < nv; i++)
            types[i] = (tt && tt->type == GGUF_ARRAY && (uint64_t)i < tt->arr_n) ? (int32_t)gguf_arr_i64(tt, i) : 1;
        self->tok = pt_tokenizer_new(nv, tp, tl, types, nm, mp, ml, pre, self->tok_err, sizeof self->tok_err);
        if (!self->tok && !self->tok_err[0]) snprintf(self->tok_err, sizeof self->tok_err, "tokenizer failed to build");
    } else {
        snprintf(self->tok_err, sizeof self->tok_err, "out of memory building the tokenizer");
    }
    free(tp); free(mp); free(tl); free(ml); free(types);
}

static void find_stop_tokens(ModelObject *self) {
    const gguf_file *f = self->m->file;
    int64_t v;
    self->bos = gguf_get_i64(f, "tokenizer.ggml.bos_token_id", &v) == 0 ? (int32_t)v : -1;
    self->eos = gguf_get_i64(f, "tokenizer.ggml.eos_token_id", &v) == 0 ? (int32_t)v : -1;
    self->add_bos = gguf_get_i64(f, "tokenizer.ggml.add_bos_token", &v) == 0 ? (int)v : 0;
    int32_t cand[MAX_STOP];
    int n = 0;
    cand[n++] = self->eos;
    if (gguf_get_i64(f, "tokenizer.ggml.eot_token_id", &v) == 0) cand[n++] = (int32_t)v;
    if (self->tok) { /* chat-end markers by name: Qwen <|im_end|> 151645, <|endoftext|> 151643 */
        static const char *names[] = {"<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end_of_text|>", "<end_of_turn>"};
        for (int i = 0; i < 5 && n < MAX_STOP; i++) {
            int id = pt_tokenizer_find(self->tok, names[i], strlen(names[i]));
            if (id >= 0 && pt_tokenizer_token_type(self->tok, id) == PT_TOKEN_CONTROL) cand[n++] = id;
        }
    }
    self->n_stop = 0;
    for (int i = 0; i < n; i++) {
        int dup = cand[i] < 0 || cand[i] >= self->m->n_vocab;
        for (int j = 0; j < self->n_stop; j++) dup |= self->stop[j] == cand[i];
        if (!dup) self->stop[self->n_stop++] = cand[i];
    }
}

/* ------------------------------------------------------------------ methods */

static int Model_init(ModelObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"path", "threads", "context", "kernels", NULL};
    PyObject *path_obj;
    int threads = 2, context = 2048;
    const char *kernels = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|iiz", kwlist, PyUnicode_FSConverter, &path_obj, &threads, &context,
                                     &kernels))
        return -1;
    if (self->m) {
        Py_DECREF(path_obj);
        PyErr_SetString(error_class(), "Model is already initialised");
        return -1;
    }
    char err[512] = "";
    const char *path = PyBytes_AS_STRING(path_obj);
    pl_model *m;
    Py_BEGIN_ALLOW_THREADS
    m = pl_model_load(path, kernels, err, sizeof err);
    Py_END_ALLOW_THREADS
    Py_DECREF(path_obj);
    if (!m) {
        raise_error(err);
        return -1;
    }
    pl_ctx *ctx = pl_ctx_new(m, context, threads, err, sizeof err);
    float *logits = malloc((size_t)m->n_vocab * sizeof *logits);
    if (!ctx || !logits) {
        pl_ctx_free(ctx);
        pl_model_free(m);
        free(logits);
        raise_error(ctx ? "out of memory" : err);
        return -1;
    }
    self->m = m;
    self->ctx = ctx;
    self->logits = logits;
    build_tokenizer(self);
    find_stop_tokens(self);
    return 0;
}

static void release(ModelObject *self) {
    atomic_store(&self->abort_flag, 1);
    if (claim_join(self)) pthread_join(self->thread, NULL); /* stops within one layer */
    /* a Python thread may be waiting in gen_next(): leave it a finished, empty queue */
    pthread_mutex_lock(&self->mu);
    free(self->out);
    self->out = NULL;
    self->n_out = self->out_read = 0;
    self->finished = 1;
    self->end_reason = END_ABORT;
    pthread_cond_broadcast(&self->cv);
    pthread_mutex_unlock(&self->mu);
    pl_ctx_free(self->ctx);
    pl_model_free(self->m);
    if (self->tok) pt_tokenizer_free(self->tok);
    free(self->logits);
    free(self->prompt);
    free(self->recent);
    free(self->hist);
    free(self->draft_logits);
    self->ctx = NULL, self->m = NULL, self->tok = NULL, self->logits = NULL, self->draft_logits = NULL;
    self->prompt = self->recent = self->hist = NULL;
}

static PyObject *Model_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    ModelObject *self = (ModelObject *)type->tp_alloc(type, 0);
    if (!self) return NULL;
    pthread_mutex_init(&self->mu, NULL);
    pthread_cond_init(&self->cv, NULL);
    return (PyObject *)self;
}

static void Model_dealloc(ModelObject *self) {
    Py_BEGIN_ALLOW_THREADS
    release(self);
    Py_END_ALLOW_THREADS
    pthread_mutex_destroy(&self->mu);
    pthread_cond_destroy(&self->cv);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Model_close(ModelObject *self, PyObject *unused) {
    Py_BEGIN_ALLOW_THREADS
    release(self);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

/* eval(ids, out): out is a writable float32 buffer of len(ids) * n_vocab (all positions) or
 * n_vocab (last position only); appends ids to the KV cache. */
static PyObject *Model_eval(ModelObject *self, PyObject *args) {
    PyObject *seq;
    Py_buffer buf;
    if (!PyArg_ParseTuple(args, "Ow*", &seq, &buf)) return NULL;
    if (check_idle(self) < 0) {
        PyBuffer_Release(&buf);
        return NULL;
    }
    int n;
    int32_t *ids = ids_from_seq(seq, &n);
    if (!ids) {
        PyBuffer_Release(&buf);
        return NULL;
    }
    const size_t nv = (size_t)self->m->n_vocab;
    int last_only = (size_t)buf.len == nv * sizeof(float) && n != 1;
    if (!last_only && (size_t)buf.len != (size_t)n * nv * sizeof(float)) {
        PyBuffer_Release(&buf);
        PyMem_Free(ids);
        PyErr_SetString(PyExc_ValueError, "output buffer has the wrong size");
        return NULL;
    }
    char err[256] = "";
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = pl_eval(self->ctx, ids, n, n ? buf.buf : NULL, last_only, NULL, NULL, NULL, err, sizeof err);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&buf);
    PyMem_Free(ids);
    if (rc != 0) {
        raise_error(err[0] ? err : "evaluation failed");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *Model_truncate(ModelObject *self, PyObject *arg) {
    long n = PyLong_AsLong(arg);
    if (n == -1 && PyErr_Occurred()) return NULL;
    if (check_idle(self) < 0) return NULL;
    return PyLong_FromLong(pl_ctx_truncate(self->ctx, n < 0 ? 0 : (int)n));
}

/* gen_start(new_ids, history, temperature, top_k, top_p, min_p, repeat_penalty, repeat_last_n,
 *           seed, max_tokens, lookup=0): new_ids are evaluated after the cached positions; history
 * (the tokens already in context) seeds the repetition-penalty window and, with lookup > 0
 * (most draft tokens per pass, up to 16), the prompt lookup. */
static PyObject *Model_gen_start(ModelObject *self, PyObject *args) {
    PyObject *seq, *hist;
    pl_sampling s;
    unsigned long long seed;
    int max_tokens, lookup = 0;
    if (!PyArg_ParseTuple(args, "OOfifffiKi|i", &seq, &hist, &s.temperature, &s.top_k, &s.top_p, &s.min_p,
                          &s.repeat_penalty, &s.repeat_last_n, &seed, &max_tokens, &lookup))
        return NULL;
    if (lookup < 0 || lookup > PL_MAX_DRAFT) {
        PyErr_Format(PyExc_ValueError, "lookup must be 0..%d draft tokens", PL_MAX_DRAFT);
        return NULL;
    }
    s.seed = seed;
    if (check_idle(self) < 0) return NULL;
    int n, nh;
    int32_t *ids = ids_from_seq(seq, &n);
    if (!ids) return NULL;
    int32_t *h = ids_from_seq(hist, &nh);
    if (!h) {
        PyMem_Free(ids);
        return NULL;
    }
    if (n < 1) {
        PyMem_Free(ids);
        PyMem_Free(h);
        PyErr_SetString(PyExc_ValueError, "generation needs at least one new token to evaluate");
        return NULL;
    }
    if (max_tokens < 0) max_tokens = 0;
    free(self->hist);
    free(self->draft_logits);
    self->draft_logits = NULL;
    self->cap_hist = nh + n + max_tokens + 1;
    self->hist = malloc((size_t)self->cap_hist * sizeof(int32_t));
    if (lookup > 0) self->draft_logits = malloc((size_t)(lookup + 1) * self->m->n_vocab * sizeof(float));
    if (!self->hist || (lookup > 0 && !self->draft_logits)) {
        PyMem_Free(ids);
        PyMem_Free(h);
        return PyErr_NoMemory();
    }
    memcpy(self->hist, h, (size_t)nh * sizeof *h);
    memcpy(self->hist + nh, ids, (size_t)n * sizeof *ids);
    self->n_hist = nh + n;
    self->lookup = lookup;
    int keep = s.repeat_last_n > 0 ? s.repeat_last_n : 64;
    if (nh > keep) {
        memmove(h, h + nh - keep, keep * sizeof *h);
        nh = keep;
    }
    free(self->prompt); free(self->recent); free(self->out);
    self->prompt = malloc((size_t)n * sizeof(int32_t));
    self->cap_recent = nh + n + max_tokens + 1;
    self->recent = malloc((size_t)self->cap_recent * sizeof(int32_t));
    self->out = malloc((size_t)(max_tokens + 1) * sizeof(int32_t));
    if (!self->prompt || !self->recent || !self->out) {
        PyMem_Free(ids);
        PyMem_Free(h);
        return PyErr_NoMemory();
    }
    memcpy(self->prompt, ids, (size_t)n * sizeof *ids);
    memcpy(self->recent, h, (size_t)nh * sizeof *h);
    memcpy(self->recent + nh, ids, (size_t)n * sizeof *ids);
    self->n_recent = nh + n;
    self->n_prompt = n;
    PyMem_Free(ids);
    PyMem_Free(h);
    self->sampling = s;
    self->max_tokens = max_tokens;
    self->n_out = self->out_read = 0;
    self->progress = self->progress_pending = self->finished = 0;
    self->end_reason = END_NONE;
    self->gen_err[0] = 0;
    atomic_store(&self->abort_flag, 0);
    self->st_prefill_tokens = self->st_decode_tokens = self->st_drafted = self->st_accepted = 0;
    self->st_prefill_s = self->st_decode_s = 0;
    pthread_mutex_lock(&self->mu);
    self->running = 1;
    if (pthread_create(&self->thread, NULL, gen_thread, self) != 0) {
        self->running = 0;
        pthread_mutex_unlock(&self->mu);
        PyErr_SetString(error_class(), "cannot start the generation thread");
        return NULL;
    }
    pthread_mutex_unlock(&self->mu);
    Py_RETURN_NONE;
}

/* gen_next() -> (0, token) | (1, prefill_done) | (2, end_reason); waits without the GIL. */
static PyObject *Model_gen_next(ModelObject *self, PyObject *unused) {
    pthread_mutex_lock(&self->mu);
    int idle = !self->running && !self->finished;
    pthread_mutex_unlock(&self->mu);
    if (idle) {
        PyErr_SetString(error_class(), "no generation in progress");
        return NULL;
    }
    int kind, value;
    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_lock(&self->mu);
    while (self->out_read == self->n_out && !self->progress_pending && !self->finished)
        pthread_cond_wait(&self->cv, &self->mu);
    if (self->progress_pending) {
        kind = 1, value = self->progress;
        self->progress_pending = 0;
    } else if (self->out_read < self->n_out) {
        kind = 0, value = self->out[self->out_read++];
    } else {
        kind = 2, value = self->end_reason;
    }
    pthread_mutex_unlock(&self->mu);
    Py_END_ALLOW_THREADS
    if (kind == 2) {
        join_thread(self);
        if (value == END_ERROR) {
            raise_error(self->gen_err[0] ? self->gen_err : "generation failed");
            return NULL;
        }
        return Py_BuildValue("(is)", 2, END_NAMES[value]);
    }
    return Py_BuildValue("(ii)", kind, value);
}

static PyObject *Model_abort(ModelObject *self, PyObject *unused) {
    atomic_store(&self->abort_flag, 1); /* the generation thread polls it between layers */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    Py_RETURN_NONE;
}

static PyObject *Model_gen_join(ModelObject *self, PyObject *unused) {
    join_thread(self);
    Py_RETURN_NONE;
}

static PyObject *Model_stats(ModelObject *self, PyObject *unused) {
    return Py_BuildValue("{sisdsisdsisi}", "prefill_tokens", self->st_prefill_tokens, "prefill_s", self->st_prefill_s,
                         "decode_tokens", self->st_decode_tokens, "decode_s", self->st_decode_s, "drafted",
                         self->st_drafted, "accepted", self->st_accepted);
}

static int need_tok(ModelObject *self) {
    if (!self->m) {
        PyErr_SetString(error_class(), "model is closed");
        return -1;
    }
    if (!self->tok) {
        char msg[300];
        snprintf(msg, sizeof msg, "no tokenizer: %s", self->tok_err);
        raise_error(msg);
        return -1;
    }
    return 0;
}

static PyObject *Model_tokenize(ModelObject *self, PyObject *args) {
    const char *text;
    Py_ssize_t len;
    int special = 1;
    if (!PyArg_ParseTuple(args, "s#|p", &text, &len, &special)) return NULL;
    if (need_tok(self) < 0) return NULL;
    int cap = (int)(len < 64 ? 64 : len + 16), n;
    int32_t *out = NULL;
    for (;;) {
        int32_t *o = PyMem_Realloc(out, (size_t)cap * sizeof *out);
        if (!o) {
            PyMem_Free(out);
            return PyErr_NoMemory();
        }
        out = o;
        Py_BEGIN_ALLOW_THREADS
        n = pt_tokenizer_encode(self->tok, text, (size_t)len, special, out, cap);
        Py_END_ALLOW_THREADS
        if (n < 0) {
            PyMem_Free(out);
            return PyErr_NoMemory();
        }
        if (n <= cap) break;
        cap = n;
    }
    PyObject *list = PyList_New(n);
    for (int i = 0; list && i < n; i++) PyList_SET_ITEM(list, i, PyLong_FromLong(out[i]));
    PyMem_Free(out);
    return list;
}

/* detokenize(ids) -> bytes (raw: may end inside a UTF-8 character) */
static PyObject *Model_detokenize(ModelObject *self, PyObject *seq) {
    if (need_tok(self) < 0) return NULL;
    int n;
    int32_t *ids = ids_from_seq(seq, &n);
    if (!ids) return NULL;
    size_t total = 0, len;
    for (int i = 0; i < n; i++)
        if (pt_tokenizer_piece(self->tok, ids[i], &len)) total += len;
    PyObject *b = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)total);
    if (b) {
        char *p = PyBytes_AS_STRING(b);
        for (int i = 0; i < n; i++) {
            const char *s = pt_tokenizer_piece(self->tok, ids[i], &len);
            if (s) memcpy(p, s, len), p += len;
        }
    }
    PyMem_Free(ids);
    return b;
}

static PyObject *Model_token_id(ModelObject *self, PyObject *arg) {
    Py_ssize_t len;
    const char *s = PyUnicode_AsUTF8AndSize(arg, &len);
    if (!s || need_tok(self) < 0) return NULL;
    return PyLong_FromLong(pt_tokenizer_find(self->tok, s, (size_t)len));
}

/* meta(key) -> int / float / str / bool / list length for arrays; None if absent */
static PyObject *Model_meta(ModelObject *self, PyObject *arg) {
    const char *key = PyUnicode_AsUTF8(arg);
    if (!key) return NULL;
    if (!self->m) Py_RETURN_NONE;
    const gguf_file *f = self->m->file;
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv) Py_RETURN_NONE;
    int64_t i;
    double d;
    size_t len;
    switch (kv->type) {
    case GGUF_STRING: {
        const char *s = gguf_get_str(f, key, &len);
        return PyUnicode_DecodeUTF8(s, (Py_ssize_t)len, "replace");
    }
    case GGUF_BOOL: return PyBool_FromLong(kv->val[0] != 0);
    case GGUF_F32: case GGUF_F64: gguf_get_f64(f, key, &d); return PyFloat_FromDouble(d);
    case GGUF_ARRAY: return PyLong_FromUnsignedLongLong(kv->arr_n);
    default: gguf_get_i64(f, key, &i); return PyLong_FromLongLong(i);
    }
}

static int put(PyObject *d, const char *k, PyObject *v) {
    if (!v) return -1;
    int rc = PyDict_SetItemString(d, k, v);
    Py_DECREF(v);
    return rc;
}

/* Weight bytes one decode step reads: every matrix once, one embedding row. */
static unsigned long long weight_bytes_per_token(const pl_model *m) {
    unsigned long long n = m->output->n_bytes + m->tok_embd->n_bytes / m->tok_embd->ne[1];
    for (int l = 0; l < m->n_layers; l++) {
        const pl_layer *ly = &m->layers[l];
        const gguf_tensor *w[] = {ly->wq, ly->wk, ly->wv, ly->wo, ly->w_gate, ly->w_up, ly->w_down};
        for (int i = 0; i < 7; i++) n += w[i]->n_bytes;
    }
    return n;
}

static PyObject *Model_info(ModelObject *self, PyObject *unused) {
    if (!self->m) {
        PyErr_SetString(error_class(), "model is closed");
        return NULL;
    }
    const pl_model *m = self->m;
    PyObject *d = PyDict_New(), *stops = PyList_New(self->n_stop);
    if (!d || !stops) {
        Py_XDECREF(d);
        Py_XDECREF(stops);
        return NULL;
    }
    for (int i = 0; i < self->n_stop; i++) PyList_SET_ITEM(stops, i, PyLong_FromLong(self->stop[i]));
    if (put(d, "arch", PyUnicode_FromString(m->arch_name)) ||
        put(d, "name", PyUnicode_DecodeUTF8(m->name, (Py_ssize_t)strlen(m->name), "replace")) ||
        put(d, "n_vocab", PyLong_FromLong(m->n_vocab)) || put(d, "n_ctx", PyLong_FromLong(pl_ctx_n_ctx(self->ctx))) ||
        put(d, "n_ctx_train", PyLong_FromLong(m->n_ctx_train)) || put(d, "n_layers", PyLong_FromLong(m->n_layers)) ||
        put(d, "n_embd", PyLong_FromLong(m->n_embd)) || put(d, "n_head", PyLong_FromLong(m->n_head)) ||
        put(d, "n_head_kv", PyLong_FromLong(m->n_head_kv)) || put(d, "head_dim", PyLong_FromLong(m->head_dim)) ||
        put(d, "n_ff", PyLong_FromLong(m->n_ff)) || put(d, "rope_base", PyFloat_FromDouble(m->rope_base)) ||
        put(d, "norm_eps", PyFloat_FromDouble(m->norm_eps)) || put(d, "stop_ids", stops) ||
        put(d, "bos", PyLong_FromLong(self->bos)) || put(d, "eos", PyLong_FromLong(self->eos)) ||
        put(d, "add_bos", PyBool_FromLong(self->add_bos)) ||
        /* the message may quote the file's bytes (a pre-tokenizer name), which need not be UTF-8 */
        put(d, "tokenizer_error", self->tok ? PyUnicode_FromString("")
                                            : PyUnicode_DecodeUTF8(self->tok_err, (Py_ssize_t)strlen(self->tok_err), "replace")) ||
        put(d, "kernels", PyUnicode_FromString(m->kernels->name)) ||
        put(d, "kv_cache_bytes", PyLong_FromSize_t(pl_ctx_kv_bytes(self->ctx))) ||
        put(d, "weight_bytes_per_token", PyLong_FromUnsignedLongLong(weight_bytes_per_token(m)))) {
        Py_DECREF(d);
        return NULL;
    }
    return d;
}

static PyObject *Model_n_past(ModelObject *self, void *closure) {
    return PyLong_FromLong(self->ctx ? pl_ctx_n_past(self->ctx) : 0);
}

static PyMethodDef Model_methods[] = {
    {"eval", (PyCFunction)Model_eval, METH_VARARGS, "eval(ids, out_buffer): run ids, write float32 logits"},
    {"truncate", (PyCFunction)Model_truncate, METH_O, "truncate(n): keep only the first n cached positions; returns how many were kept (0 when a sliding-window ring lost the window)"},
    {"gen_start", (PyCFunction)Model_gen_start, METH_VARARGS, "start the generation thread"},
    {"gen_next", (PyCFunction)Model_gen_next, METH_NOARGS, "next event: (0,id) | (1,prefill_done) | (2,reason)"},
    {"gen_join", (PyCFunction)Model_gen_join, METH_NOARGS, "wait for the generation thread"},
    {"abort", (PyCFunction)Model_abort, METH_NOARGS, "stop generation (thread-safe)"},
    {"stats", (PyCFunction)Model_stats, METH_NOARGS, "timings of the last generation"},
    {"tokenize", (PyCFunction)Model_tokenize, METH_VARARGS, "tokenize(text, special=True) -> ids"},
    {"detokenize", (PyCFunction)Model_detokenize, METH_O, "detokenize(ids) -> bytes"},
    {"token_id", (PyCFunction)Model_token_id, METH_O, "vocabulary string -> id or -1"},
    {"meta", (PyCFunction)Model_meta, METH_O, "GGUF metadata value by key"},
    {"info", (PyCFunction)Model_info, METH_NOARGS, "model hyper-parameters"},
    {"close", (PyCFunction)Model_close, METH_NOARGS, "free the model"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Model_getset[] = {
    {"n_past", (getter)Model_n_past, NULL, "cached positions", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject ModelType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "parrot.llm._core.Model",
    .tp_basicsize = sizeof(ModelObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A GGUF model with its KV cache (use parrot.llm.Model)",
    .tp_new = Model_new,
    .tp_init = (initproc)Model_init,
    .tp_dealloc = (destructor)Model_dealloc,
    .tp_methods = Model_methods,
    .tp_getset = Model_getset,
};

/* ------------------------------------------------------------------ module-level helpers for tests */

static PyObject *py_set_error_class(PyObject *mod, PyObject *cls) {
    Py_XINCREF(cls);
    Py_XSETREF(model_error, cls);
    Py_RETURN_NONE;
}

/* dequantize(type, data: bytes, n) -> bytes of n float32 (the scalar reference path) */
static PyObject *py_dequantize(PyObject *mod, PyObject *args) {
    unsigned int type;
    Py_buffer in;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "Iy*n", &type, &in, &n)) return NULL;
    const pl_type_info *ti = pl_type(type);
    if (!ti->supported || n < 0 || n % ti->blck || (size_t)in.len < (size_t)n / ti->blck * ti->bytes) {
        PyBuffer_Release(&in);
        PyErr_Format(PyExc_ValueError, "cannot dequantize %zd elements of type %s from %zd bytes", n, ti->name, in.len);
        return NULL;
    }
    pl_init_tables();
    PyObject *out = PyBytes_FromStringAndSize(NULL, n * 4);
    if (out) pl_dequant_row(type, in.buf, (float *)PyBytes_AS_STRING(out), n);
    PyBuffer_Release(&in);
    return out;
}

/* sample(logits: float32 buffer, history, temperature, top_k, top_p, min_p, repeat_penalty,
 *        repeat_last_n, seed, n_draws) -> list of n_draws ids (one sampler, successive draws) */
static PyObject *py_sample(PyObject *mod, PyObject *args) {
    Py_buffer lb;
    PyObject *hist;
    pl_sampling s;
    unsigned long long seed;
    int draws;
    if (!PyArg_ParseTuple(args, "y*OfifffiKi", &lb, &hist, &s.temperature, &s.top_k, &s.top_p, &s.min_p,
                          &s.repeat_penalty, &s.repeat_last_n, &seed, &draws))
        return NULL;
    s.seed = seed;
    int nv = (int)(lb.len / 4), nh;
    int32_t *h = ids_from_seq(hist, &nh);
    if (!h || nv < 1 || draws < 0) {
        PyBuffer_Release(&lb);
        PyMem_Free(h);
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "bad arguments");
        return NULL;
    }
    pl_sampler *sp = pl_sampler_new(nv, &s);
    float *work = malloc((size_t)nv * 4);
    PyObject *list = PyList_New(draws);
    if (sp && work && list)
        for (int i = 0; i < draws; i++) {
            memcpy(work, lb.buf, (size_t)nv * 4);
            PyList_SET_ITEM(list, i, PyLong_FromLong(pl_sample(sp, work, h, nh)));
        }
    pl_sampler_free(sp);
    free(work);
    PyMem_Free(h);
    PyBuffer_Release(&lb);
    return list;
}

/* repeat_penalty(logits: writable float32 buffer, recent ids, penalty) in place */
static PyObject *py_repeat_penalty(PyObject *mod, PyObject *args) {
    Py_buffer lb;
    PyObject *hist;
    float penalty;
    if (!PyArg_ParseTuple(args, "w*Of", &lb, &hist, &penalty)) return NULL;
    int nh;
    int32_t *h = ids_from_seq(hist, &nh);
    if (h) pl_apply_repeat_penalty(lb.buf, (int)(lb.len / 4), h, nh, penalty);
    PyMem_Free(h);
    PyBuffer_Release(&lb);
    if (!h) return NULL;
    Py_RETURN_NONE;
}

/* matmul(type, data, rows, cols, x: float32 bytes [n_tok][cols], threads) -> bytes [n_tok][rows] */
static PyObject *py_matmul(PyObject *mod, PyObject *args) {
    unsigned int type;
    Py_buffer w, x;
    int rows, cols, threads;
    if (!PyArg_ParseTuple(args, "Iy*iiy*i", &type, &w, &rows, &cols, &x, &threads)) return NULL;
    const pl_type_info *ti = pl_type(type);
    PyObject *res = NULL;
    if (!ti->supported || rows < 1 || cols < 1 || cols % ti->blck ||
        (size_t)w.len != (size_t)rows * (cols / ti->blck) * ti->bytes || x.len % ((Py_ssize_t)cols * 4)) {
        PyErr_SetString(PyExc_ValueError, "matmul: bad shapes");
        goto out;
    }
    int n_tok = (int)(x.len / ((Py_ssize_t)cols * 4));
    pl_init_tables();
    res = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)n_tok * rows * 4);
    if (!res) goto out;
    float *y = (float *)PyBytes_AS_STRING(res), *buf = malloc((size_t)cols * 4);
    if (!buf) {
        Py_CLEAR(res);
        PyErr_NoMemory();
        goto out;
    }
    for (int r = 0; r < rows; r++) {
        pl_dequant_row(type, (const uint8_t *)w.buf + (size_t)r * (cols / ti->blck) * ti->bytes, buf, cols);
        for (int t = 0; t < n_tok; t++) y[(size_t)t * rows + r] = pl_dot_f32(buf, (const float *)x.buf + (size_t)t * cols, cols);
    }
    free(buf);
    (void)threads;
out:
    PyBuffer_Release(&w);
    PyBuffer_Release(&x);
    return res;
}

/* matmul_int8(type, data, rows, cols, x: float32 bytes [n_tok][cols], kernels) -> bytes [n_tok][rows]:
 * x quantized to 8-bit blocks, then the integer kernel of the named set (None: the fastest) */
static PyObject *py_matmul_int8(PyObject *mod, PyObject *args) {
    unsigned int type;
    Py_buffer w, x;
    int rows, cols;
    const char *name = NULL;
    if (!PyArg_ParseTuple(args, "Iy*iiy*z", &type, &w, &rows, &cols, &x, &name)) return NULL;
    pl_init_tables();
    const pl_type_info *ti = pl_type(type);
    const pl_kernels *k = pl_kernels_pick(name);
    PyObject *res = NULL;
    if (!k || type >= PL_TYPE_COUNT || !k->dot[type]) {
        PyErr_Format(PyExc_ValueError, "no integer kernel for %s in set %s", ti->name, name ? name : "(default)");
        goto out;
    }
    if (rows < 1 || cols < 1 || cols % ti->blck || cols % PL_QA ||
        (size_t)w.len != (size_t)rows * (cols / ti->blck) * ti->bytes || x.len % ((Py_ssize_t)cols * 4)) {
        PyErr_SetString(PyExc_ValueError, "matmul_int8: bad shapes");
        goto out;
    }
    const int n_tok = (int)(x.len / ((Py_ssize_t)cols * 4)), nbq = cols / PL_QA;
    pl_q8a *xq = malloc((size_t)n_tok * nbq * sizeof *xq);
    if (!xq || !(res = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)n_tok * rows * 4))) {
        free(xq);
        if (!PyErr_Occurred()) PyErr_NoMemory();
        goto out;
    }
    float *y = (float *)PyBytes_AS_STRING(res);
    for (int t = 0; t < n_tok; t++) pl_quantize_q8a((const float *)x.buf + (size_t)t * cols, xq + (size_t)t * nbq, cols);
    for (int r = 0; r < rows; r++)
        for (int t = 0; t < n_tok; t++)
            y[(size_t)t * rows + r] =
                k->dot[type](cols, (const uint8_t *)w.buf + (size_t)r * (cols / ti->blck) * ti->bytes, xq + (size_t)t * nbq);
    free(xq);
out:
    PyBuffer_Release(&w);
    PyBuffer_Release(&x);
    return res;
}

/* kernel_sets() -> names of the integer kernel sets this CPU runs, fastest first */
static PyObject *py_kernel_sets(PyObject *mod, PyObject *unused) {
    const pl_kernels *k[8];
    const int n = pl_kernels_available(k, 8);
    PyObject *list = PyList_New(n);
    for (int i = 0; list && i < n; i++) PyList_SET_ITEM(list, i, PyUnicode_FromString(k[i]->name));
    return list;
}

static PyMethodDef engine_functions[] = {
    {"matmul_int8", py_matmul_int8, METH_VARARGS, "matmul through the integer kernels (8-bit activations)"},
    {"kernel_sets", py_kernel_sets, METH_NOARGS, "integer kernel sets usable on this CPU"},
    {"set_error_class", py_set_error_class, METH_O, "exception class raised for model errors"},
    {"dequantize", py_dequantize, METH_VARARGS, "dequantize(type, data, n) -> float32 bytes"},
    {"sample", py_sample, METH_VARARGS, "run the sampler n times on the same logits"},
    {"repeat_penalty", py_repeat_penalty, METH_VARARGS, "apply the repetition penalty in place"},
    {"matmul", py_matmul, METH_VARARGS, "reference matmul of a quantized matrix"},
    {NULL, NULL, 0, NULL},
};

int parrot_engine_register(PyObject *module) {
    if (PyType_Ready(&ModelType) < 0) return -1;
    Py_INCREF(&ModelType);
    if (PyModule_AddObject(module, "Model", (PyObject *)&ModelType) < 0) {
        Py_DECREF(&ModelType);
        return -1;
    }
    return PyModule_AddFunctions(module, engine_functions);
}
