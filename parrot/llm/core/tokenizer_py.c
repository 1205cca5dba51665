/* Python type _core.Tokenizer over the C byte-level BPE tokenizer (tokenizer.c).
 *
 *   Tokenizer(tokens: list[str | bytes], token_types: list[int] | None, merges: list[str | bytes],
 *             pre: str, *, nfc: bool = False)   (nfc: normalize text like Qwen2's tokenizer.json)
 *   .encode(text: str | bytes, special=True) -> list[int]
 *   .decode(ids) -> str                 (invalid UTF-8 -> U+FFFD, like errors='replace')
 *   .piece(id) -> bytes                 (raw bytes of one token)
 *   .find(text: str | bytes) -> int     (exact vocabulary lookup, -1 if absent)
 *   .token_type(id) -> int
 *   .n_vocab
 *   Utf8Stream().push(data: bytes) -> str, .flush() -> str
 *                                       (pt_utf8_stream: streaming decode of token pieces)
 * The tokenizer is immutable once built, so encode releases the GIL. */
#include "tokenizer_py.h"

typedef struct {
    PyObject_HEAD
    pt_tokenizer *tok;
} TokenizerObject;

static PyTypeObject *tokenizer_type; /* set by parrot_tokenizer_register */

/* UTF-8 bytes of a str, or the bytes of a bytes object (borrowed pointer into obj). */
static int as_bytes(PyObject *obj, const char **s, Py_ssize_t *n) {
    if (PyUnicode_Check(obj)) {
        *s = PyUnicode_AsUTF8AndSize(obj, n);
        return *s ? 0 : -1;
    }
    if (PyBytes_Check(obj)) return PyBytes_AsStringAndSize(obj, (char **)s, n);
    PyErr_Format(PyExc_TypeError, "expected str or bytes, got %.80s", Py_TYPE(obj)->tp_name);
    return -1;
}

/* Fills ptrs/lens from a sequence of str/bytes (pointers borrowed from seq's items). */
static int string_list(PyObject *seq, Py_ssize_t n, const char **ptrs, size_t *lens, const char *what) {
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t len;
        if (as_bytes(PySequence_Fast_GET_ITEM(seq, i), &ptrs[i], &len) < 0) {
            PyErr_Format(PyExc_TypeError, "%s[%zd] must be str or bytes", what, i);
            return -1;
        }
        lens[i] = (size_t)len;
    }
    return 0;
}

static int Tokenizer_init(TokenizerObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"tokens", "token_types", "merges", "pre", "nfc", NULL};
    PyObject *tokens_obj, *types_obj, *merges_obj;
    const char *pre = "default";
    int nfc = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOO|z$p", kwlist, &tokens_obj, &types_obj, &merges_obj, &pre, &nfc))
        return -1;
    if (self->tok) { /* another thread may be encoding with it right now (GIL released) */
        PyErr_SetString(PyExc_RuntimeError, "Tokenizer is already initialised");
        return -1;
    }
    PyObject *tokens = NULL, *types = NULL, *merges = NULL;
    const char **tok_p = NULL, **mer_p = NULL;
    size_t *tok_l = NULL, *mer_l = NULL;
    int32_t *typ = NULL;
    int rc = -1;
    tokens = PySequence_Fast(tokens_obj, "tokens must be a sequence");
    merges = tokens ? PySequence_Fast(merges_obj, "merges must be a sequence") : NULL;
    if (!merges) goto done;
    Py_ssize_t nt = PySequence_Fast_GET_SIZE(tokens), nm = PySequence_Fast_GET_SIZE(merges);
    if (nt > INT32_MAX || nm > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "vocabulary too large");
        goto done;
    }
    tok_p = PyMem_Malloc((size_t)(nt + 1) * sizeof *tok_p);
    tok_l = PyMem_Malloc((size_t)(nt + 1) * sizeof *tok_l);
    mer_p = PyMem_Malloc((size_t)(nm + 1) * sizeof *mer_p);
    mer_l = PyMem_Malloc((size_t)(nm + 1) * sizeof *mer_l);
    if (!tok_p || !tok_l || !mer_p || !mer_l) {
        PyErr_NoMemory();
        goto done;
    }
    if (string_list(tokens, nt, tok_p, tok_l, "tokens") < 0 || string_list(merges, nm, mer_p, mer_l, "merges") < 0)
        goto done;
    if (types_obj != Py_None) {
        types = PySequence_Fast(types_obj, "token_types must be a sequence");
        if (!types) goto done;
        if (PySequence_Fast_GET_SIZE(types) != nt) {
            PyErr_Format(PyExc_ValueError, "token_types has %zd entries for %zd tokens", PySequence_Fast_GET_SIZE(types), nt);
            goto done;
        }
        typ = PyMem_Malloc((size_t)(nt + 1) * sizeof *typ);
        if (!typ) {
            PyErr_NoMemory();
            goto done;
        }
        for (Py_ssize_t i = 0; i < nt; i++) {
            long v = PyLong_AsLong(PySequence_Fast_GET_ITEM(types, i));
            if (v == -1 && PyErr_Occurred()) goto done;
            typ[i] = (int32_t)v;
        }
    }
    char err[256];
    pt_tokenizer *t = pt_tokenizer_new((int)nt, tok_p, tok_l, typ, (int)nm, mer_p, mer_l, pre, err, sizeof err);
    if (!t) {
        PyErr_SetString(PyExc_ValueError, err);
        goto done;
    }
    pt_tokenizer_set_nfc(t, nfc);
    self->tok = t;
    rc = 0;
done:
    PyMem_Free(tok_p);
    PyMem_Free(tok_l);
    PyMem_Free(mer_p);
    PyMem_Free(mer_l);
    PyMem_Free(typ);
    Py_XDECREF(tokens);
    Py_XDECREF(types);
    Py_XDECREF(merges);
    return rc;
}

static void Tokenizer_dealloc(TokenizerObject *self) {
    PyTypeObject *tp = Py_TYPE(self);
    pt_tokenizer_free(self->tok);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp); /* instances of heap types own a reference to their type */
}

static int ready(TokenizerObject *self) {
    if (self->tok) return 1;
    PyErr_SetString(PyExc_RuntimeError, "Tokenizer not initialised");
    return 0;
}

static PyObject *Tokenizer_encode(TokenizerObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"text", "special", NULL};
    PyObject *text;
    int special = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|p", kwlist, &text, &special) || !ready(self)) return NULL;
    const char *s;
    Py_ssize_t n;
    if (as_bytes(text, &s, &n) < 0) return NULL;
    if (n > INT32_MAX - 1) return PyErr_Format(PyExc_ValueError, "text too long");
    /* Every token covers at least one byte, so n + 1 ids suffice, unless NFC made the text longer:
     * then the call is repeated with the size it asked for. bytes objects are immutable and a
     * str's UTF-8 cache lives as long as the str, so s stays valid without the GIL. */
    int cap = (int)n + 1, count;
    int32_t *ids = PyMem_RawMalloc((size_t)cap * sizeof *ids);
    if (!ids) return PyErr_NoMemory();
    Py_INCREF(text);
    for (;;) {
        Py_BEGIN_ALLOW_THREADS
        count = pt_tokenizer_encode(self->tok, s, (size_t)n, special, ids, cap);
        Py_END_ALLOW_THREADS
        if (count <= cap) break;
        int32_t *more = PyMem_RawRealloc(ids, (size_t)count * sizeof *ids);
        if (!more) {
            count = -1;
            break;
        }
        ids = more;
        cap = count;
    }
    Py_DECREF(text);
    if (count < 0) {
        PyMem_RawFree(ids);
        return PyErr_NoMemory();
    }
    PyObject *list = PyList_New(count);
    for (int i = 0; list && i < count; i++) {
        PyObject *v = PyLong_FromLong(ids[i]);
        if (!v) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i, v);
    }
    PyMem_RawFree(ids);
    return list;
}

static int get_id(TokenizerObject *self, PyObject *obj, int32_t *id) {
    long v = PyLong_AsLong(obj);
    if (v == -1 && PyErr_Occurred()) return -1;
    if (v < 0 || v >= pt_tokenizer_n_vocab(self->tok)) {
        PyErr_Format(PyExc_IndexError, "token id %ld out of range [0, %d)", v, pt_tokenizer_n_vocab(self->tok));
        return -1;
    }
    *id = (int32_t)v;
    return 0;
}

static PyObject *Tokenizer_decode(TokenizerObject *self, PyObject *ids_obj) {
    if (!ready(self)) return NULL;
    PyObject *ids = PySequence_Fast(ids_obj, "ids must be a sequence of ints");
    if (!ids) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(ids);
    size_t total = 0;
    int32_t id;
    for (Py_ssize_t i = 0; i < n; i++) {
        size_t len;
        if (get_id(self, PySequence_Fast_GET_ITEM(ids, i), &id) < 0) {
            Py_DECREF(ids);
            return NULL;
        }
        pt_tokenizer_piece(self->tok, id, &len);
        total += len;
    }
    char *buf = PyMem_Malloc(total + 1);
    if (!buf) {
        Py_DECREF(ids);
        return PyErr_NoMemory();
    }
    size_t o = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        size_t len;
        get_id(self, PySequence_Fast_GET_ITEM(ids, i), &id);
        const char *p = pt_tokenizer_piece(self->tok, id, &len);
        memcpy(buf + o, p, len);
        o += len;
    }
    Py_DECREF(ids);
    /* Python's 'replace' emits one U+FFFD per maximal invalid subpart, as HF's
     * String::from_utf8_lossy does. */
    PyObject *r = PyUnicode_DecodeUTF8(buf, (Py_ssize_t)o, "replace");
    PyMem_Free(buf);
    return r;
}

static PyObject *Tokenizer_piece(TokenizerObject *self, PyObject *arg) {
    int32_t id;
    if (!ready(self) || get_id(self, arg, &id) < 0) return NULL;
    size_t len;
    const char *p = pt_tokenizer_piece(self->tok, id, &len);
    return PyBytes_FromStringAndSize(p, (Py_ssize_t)len);
}

static PyObject *Tokenizer_find(TokenizerObject *self, PyObject *arg) {
    const char *s;
    Py_ssize_t n;
    if (!ready(self) || as_bytes(arg, &s, &n) < 0) return NULL;
    return PyLong_FromLong(pt_tokenizer_find(self->tok, s, (size_t)n));
}

static PyObject *Tokenizer_token_type(TokenizerObject *self, PyObject *arg) {
    int32_t id;
    if (!ready(self) || get_id(self, arg, &id) < 0) return NULL;
    return PyLong_FromLong(pt_tokenizer_token_type(self->tok, id));
}

static PyObject *Tokenizer_n_vocab(TokenizerObject *self, void *closure) {
    (void)closure;
    if (!ready(self)) return NULL;
    return PyLong_FromLong(pt_tokenizer_n_vocab(self->tok));
}

static PyMethodDef Tokenizer_methods[] = {
    {"encode", (PyCFunction)(void (*)(void))Tokenizer_encode, METH_VARARGS | METH_KEYWORDS,
     "encode(text, special=True) -> list[int]. text is str or UTF-8 bytes (invalid bytes allowed). "
     "special=False leaves control tokens written in the text as plain text (user-defined ones still match)."},
    {"decode", (PyCFunction)Tokenizer_decode, METH_O, "decode(ids) -> str; invalid UTF-8 becomes U+FFFD."},
    {"piece", (PyCFunction)Tokenizer_piece, METH_O, "piece(id) -> bytes: the raw bytes of one token."},
    {"find", (PyCFunction)Tokenizer_find, METH_O, "find(text) -> id of the exact vocabulary string, or -1."},
    {"token_type", (PyCFunction)Tokenizer_token_type, METH_O, "token_type(id) -> GGUF token type."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Tokenizer_getset[] = {
    {"n_vocab", (getter)Tokenizer_n_vocab, NULL, "vocabulary size", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot Tokenizer_slots[] = {
    {Py_tp_doc, "Tokenizer(tokens, token_types, merges, pre, *, nfc=False): byte-level BPE (GPT-2/Qwen2/Llama-3/SmolLM)."},
    {Py_tp_new, PyType_GenericNew},
    {Py_tp_init, Tokenizer_init},
    {Py_tp_dealloc, Tokenizer_dealloc},
    {Py_tp_methods, Tokenizer_methods},
    {Py_tp_getset, Tokenizer_getset},
    {0, NULL},
};

static PyType_Spec Tokenizer_spec = {
    "parrot.llm._core.Tokenizer", sizeof(TokenizerObject), 0, Py_TPFLAGS_DEFAULT, Tokenizer_slots,
};

/* ---------------------------------------------------------------- Utf8Stream */

typedef struct {
    PyObject_HEAD
    pt_utf8_stream st;
} Utf8StreamObject;

static PyObject *Utf8Stream_push(Utf8StreamObject *self, PyObject *arg) {
    const char *s;
    Py_ssize_t n;
    if (PyBytes_AsStringAndSize(arg, (char **)&s, &n) < 0) return NULL;
    size_t cap = 3 * ((size_t)n + 8); /* enough even if every byte becomes U+FFFD */
    char *out = PyMem_Malloc(cap);
    if (!out) return PyErr_NoMemory();
    size_t o = pt_utf8_stream_push(&self->st, s, (size_t)n, out, cap);
    PyObject *r = PyUnicode_DecodeUTF8(out, (Py_ssize_t)o, "strict"); /* output is valid by construction */
    PyMem_Free(out);
    return r;
}

static PyObject *Utf8Stream_flush(Utf8StreamObject *self, PyObject *unused) {
    (void)unused;
    char out[3 * 8];
    size_t o = pt_utf8_stream_flush(&self->st, out, sizeof out);
    return PyUnicode_DecodeUTF8(out, (Py_ssize_t)o, "strict");
}

static PyObject *Utf8Stream_pending(Utf8StreamObject *self, void *closure) {
    (void)closure;
    return PyLong_FromLong(self->st.n_pending);
}

static void Utf8Stream_dealloc(Utf8StreamObject *self) {
    PyTypeObject *tp = Py_TYPE(self);
    tp->tp_free((PyObject *)self);
    Py_DECREF(tp);
}

static PyMethodDef Utf8Stream_methods[] = {
    {"push", (PyCFunction)Utf8Stream_push, METH_O,
     "push(data: bytes) -> str: the complete characters so far (invalid bytes -> U+FFFD)."},
    {"flush", (PyCFunction)Utf8Stream_flush, METH_NOARGS, "flush() -> str: end of stream (a cut character -> U+FFFD)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Utf8Stream_getset[] = {
    {"pending", (getter)Utf8Stream_pending, NULL, "bytes held back (an incomplete character)", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot Utf8Stream_slots[] = {
    {Py_tp_doc, "Utf8Stream(): decodes UTF-8 pushed in arbitrary pieces without splitting characters."},
    {Py_tp_new, PyType_GenericNew},
    {Py_tp_dealloc, Utf8Stream_dealloc},
    {Py_tp_methods, Utf8Stream_methods},
    {Py_tp_getset, Utf8Stream_getset},
    {0, NULL},
};

static PyType_Spec Utf8Stream_spec = {
    "parrot.llm._core.Utf8Stream", sizeof(Utf8StreamObject), 0, Py_TPFLAGS_DEFAULT, Utf8Stream_slots,
};

int parrot_tokenizer_register(PyObject *module) {
    PyObject *stream = PyType_FromSpec(&Utf8Stream_spec);
    if (!stream) return -1;
    if (PyModule_AddObject(module, "Utf8Stream", stream) < 0) {
        Py_DECREF(stream);
        return -1;
    }
    PyObject *type = PyType_FromSpec(&Tokenizer_spec);
    if (!type) return -1;
    Py_INCREF(type);
    if (PyModule_AddObject(module, "Tokenizer", type) < 0) {
        Py_DECREF(type);
        Py_DECREF(type);
        return -1;
    }
    Py_XDECREF(tokenizer_type);
    tokenizer_type = (PyTypeObject *)type; /* the extra reference kept for parrot_tokenizer_wrap */
    return 0;
}

PyObject *parrot_tokenizer_wrap(pt_tokenizer *t) {
    if (!tokenizer_type) {
        pt_tokenizer_free(t);
        PyErr_SetString(PyExc_RuntimeError, "Tokenizer type not registered");
        return NULL;
    }
    TokenizerObject *obj = (TokenizerObject *)tokenizer_type->tp_alloc(tokenizer_type, 0);
    if (!obj) {
        pt_tokenizer_free(t);
        return NULL;
    }
    obj->tok = t;
    return (PyObject *)obj;
}
