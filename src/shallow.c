/* shallow.c — copy.copy, branch by branch. */
#include "fdc.h"

#if FDC_COPY_SETS
/* cls in copy.<name>: 1, 0, -1 */
static int
in_global_set(PyObject *set, const char *name, PyTypeObject *cls)
{
    if (set == NULL) {
        PyErr_Format(PyExc_NameError, "name '%s' is not defined", name);
        return -1;
    }
    return PySequence_Contains(set, (PyObject *)cls);
}

/* if cls in _copy_atomic_types: return x
 * if cls in _copy_builtin_containers: return cls.copy(x)
 * The copy (new ref), or NULL (with an exception on error). */
static PyObject *
copy_builtin(PyObject *x, PyTypeObject *cls)
{
    int r = in_global_set(FDC.copy_atomic_types, "_copy_atomic_types", cls);
    if (r != 0) {
        return r > 0 ? Py_NewRef(x) : NULL;
    }
    r = in_global_set(FDC.copy_builtin_containers, "_copy_builtin_containers", cls);
    if (r <= 0) {
        return NULL;
    }
    PyObject *method = PyObject_GetAttr((PyObject *)cls, FDC.s_copy_method);
    if (method == NULL) {
        return NULL;
    }
    PyObject *y = PyObject_CallOneArg(method, x);
    Py_DECREF(method);
    return y;
}
#else
/* copier = _copy_dispatch.get(cls); if copier: return copier(x)
 * The copy (new ref), or NULL (with an exception on error). */
static PyObject *
copy_builtin(PyObject *x, PyTypeObject *cls)
{
    PyObject *copier = fdc_table_get(FDC.copy_dispatch, "_copy_dispatch", (PyObject *)cls);
    if (copier == NULL) {
        return NULL;
    }
    int truth = PyObject_IsTrue(copier);
    PyObject *y = truth > 0 ? PyObject_CallOneArg(copier, x) : NULL;
    Py_DECREF(copier);
    return y;
}
#endif

PyObject *
fdc_shallow_copy(PyObject *x)
{
    if (fdc_env_refresh() < 0) {
        return NULL;
    }
    PyTypeObject *cls = Py_TYPE(x);
    PyObject *copier;
    PyObject *y = copy_builtin(x, cls);
    if (y != NULL || PyErr_Occurred()) {
        return y;
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
