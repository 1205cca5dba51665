/* Stands in for CPython's header when tests/c/core_test.c builds the LLM core without Python
 * (the musl/aarch64 test binaries): tokenizer.h includes <Python.h> only to declare its two
 * Python-binding functions, which the C-only build never compiles or calls. Delete this
 * directory once tokenizer.h no longer includes Python.h. */
#ifndef PARROT_NO_PYTHON_H
#define PARROT_NO_PYTHON_H
typedef struct _object PyObject;
#endif
