/* parrot.llm._core — CPython entry point of the LLM core. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "tokenizer_py.h"

int parrot_engine_register(PyObject *module); /* engine_py.c */

static PyMethodDef core_methods[] = {
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef core_module = {
    PyModuleDef_HEAD_INIT, "_core", "parrot LLM core (GGUF models, quantized kernels)", -1, core_methods,
};

PyMODINIT_FUNC PyInit__core(void) {
    PyObject *m = PyModule_Create(&core_module);
    if (!m) return NULL;
    if (PyModule_AddStringConstant(m, "version", "0.1.0") < 0 || parrot_tokenizer_register(m) < 0 ||
        parrot_engine_register(m) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
