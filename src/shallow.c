/* shallow.c — copy.copy, branch by branch. */
#include "fdc.h"

PyObject *
fdc_shallow_copy(PyObject *x)
{
    if (fdc_env_refresh() < 0) {
        return NULL;
    }
    PyTypeObject *cls = Py_TYPE(x);
    /* copier = _copy_dispatch.get(cls); if copier: return copier(x) */
    PyObject *copier = fdc_table_get(FDC.copy_dispatch, "_copy_dispatch", (PyObject *)cls);
    if (copier == NULL && PyErr_Occurred()) {
        return NULL;
    }
    if (copier != NULL) {
        int truth = PyObject_IsTrue(copier);
        PyObject *y = truth > 0 ? PyObject_CallOneArg(copier, x) : NULL;
        Py_DECREF(copier);
        if (truth != 0) {
            return y;
        }
    }
    if (PyType_IsSubtype(cls, &PyType_Type)) {
        return Py_NewRef(x);
    }
    /* copier = getattr(cls, "__copy__", None): looked up on the class */
    if (fdc_lookup_attr((PyObject *)cls, FDC.s_copy, &copier) < 0) {
        return NULL;
    }
    if (copier == Py_None) {
        Py_CLEAR(copier);
    }
    if (copier != NULL) {
        PyObject *y = PyObject_CallOneArg(copier, x);
        Py_DECREF(copier);
        return y;
    }
    return fdc_copy_via_reduce(NULL, x, 0);
}
