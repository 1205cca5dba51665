/* Python glue of the tokenizer (tokenizer_py.c): the only tokenizer header that needs Python. */
#ifndef PARROT_TOKENIZER_PY_H
#define PARROT_TOKENIZER_PY_H
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "tokenizer.h"

/* Adds the Python-visible type _core.Tokenizer to the _core module. Returns 0 on success, -1 with
 * a Python exception set. Called once from PyInit__core. */
int parrot_tokenizer_register(PyObject *module);

/* Wraps a C tokenizer into a new _core.Tokenizer object that takes ownership of t (frees it on
 * dealloc; on failure t is freed too). For the engine building a tokenizer from GGUF in C.
 * Only valid after parrot_tokenizer_register(). Returns a new reference or NULL with an
 * exception set. */
PyObject *parrot_tokenizer_wrap(pt_tokenizer *t);

#endif
