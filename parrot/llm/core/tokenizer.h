/* Byte-level BPE tokenizer built from a GGUF vocabulary (owned by the tokenizer part). */
#ifndef PARROT_TOKENIZER_H
#define PARROT_TOKENIZER_H
#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* Adds the Python-visible tokenizer type(s) to the _core module. Returns 0 on success, -1 with
 * a Python exception set. Called once from PyInit__core. */
int parrot_tokenizer_register(PyObject *module);

#endif
