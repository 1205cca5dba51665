/* Python bindings of the tokenizer (placeholder until the implementation lands). */
#include "tokenizer.h"

int parrot_tokenizer_register(PyObject *module) {
    (void)module;
    return 0;
}

PyObject *parrot_tokenizer_wrap(pt_tokenizer *t) {
    pt_tokenizer_free(t);
    PyErr_SetString(PyExc_NotImplementedError, "tokenizer not implemented yet");
    return NULL;
}
