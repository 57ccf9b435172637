/* module.c — the extension module fastdeepcopy._engine: its Python entry points. */
#include "fdc.h"

int fdc_patch_init(PyObject *module);

/* Parse deepcopy's signature: deepcopy(x, memo=None, _nil=[]) (3.15: no _nil) */
/* Bind vectorcall arguments to a Python-style signature with `n` parameters,
 * the first required, with the messages CPython gives for a Python function. */
static int
bind_args(const char *fname, const char *const *names, int n,
          PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames, PyObject **slots)
{
    if (nargs > n) {
        if (n == 1) {
            PyErr_Format(PyExc_TypeError,
                         "%s() takes 1 positional argument but %zd were given", fname, nargs);
        }
        else {
            PyErr_Format(PyExc_TypeError,
                         "%s() takes from 1 to %d positional arguments but %zd were given",
                         fname, n, nargs);
        }
        return -1;
    }
    for (int i = 0; i < n; i++) {
        slots[i] = i < nargs ? args[i] : NULL;
    }
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t k = 0; k < nkw; k++) {
        PyObject *name = PyTuple_GET_ITEM(kwnames, k);
        int i = 0;
        while (i < n && PyUnicode_CompareWithASCIIString(name, names[i]) != 0) {
            i++;
        }
        if (i == n) {
            PyErr_Format(PyExc_TypeError,
                         "%s() got an unexpected keyword argument '%U'", fname, name);
            return -1;
        }
        if (slots[i] != NULL) {
            PyErr_Format(PyExc_TypeError,
                         "%s() got multiple values for argument '%s'", fname, names[i]);
            return -1;
        }
        slots[i] = args[nargs + k];
    }
    if (slots[0] == NULL) {
        PyErr_Format(PyExc_TypeError,
                     "%s() missing 1 required positional argument: '%s'", fname, names[0]);
        return -1;
    }
    return 0;
}

/* deepcopy(...) called with more than x, or by keyword.  Kept out of line:
 * the common call, deepcopy(x), then needs no registers saved. */
#if FDC_MEMO_CONTAINS
static FDC_NOINLINE PyObject *
deepcopy_with_arguments(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"x", "memo"};
    PyObject *slots[2];
    if (bind_args("deepcopy", names, 2, args, nargs, kwnames, slots) < 0) {
        return NULL;
    }
    return fdc_deepcopy_entry(slots[0], slots[1], NULL);
}
#define DEEPCOPY_SIGNATURE "deepcopy(x, memo=None)"
#else
static FDC_NOINLINE PyObject *
deepcopy_with_arguments(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"x", "memo", "_nil"};
    PyObject *slots[3];
    if (bind_args("deepcopy", names, 3, args, nargs, kwnames, slots) < 0) {
        return NULL;
    }
    return fdc_deepcopy_entry(slots[0], slots[1], slots[2]);
}
#define DEEPCOPY_SIGNATURE "deepcopy(x, memo=None, _nil=[])"
#endif

/* The vectorcall of a patched copy.deepcopy function object (see patch.c). */
PyObject *
fdc_deepcopy_vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf,
                        PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (nargs == 1 && kwnames == NULL) {
        PyObject *x = args[0];
        if (fdc_is_common_atomic_type(Py_TYPE(x)) && fdc_atomic_decision_current() &&
            FDC.atomic_ok) {
            /* deepcopy(x) of an atomic x: x, with no memo to set up */
            FDC_STATS.calls++;
            return Py_NewRef(x);
        }
        return fdc_deepcopy_entry(x, NULL, NULL);
    }
    if (nargs == 2 && kwnames == NULL) {
        /* deepcopy(x, memo): what a __deepcopy__ calls */
        return fdc_deepcopy_entry(args[0], args[1], NULL);
    }
    return deepcopy_with_arguments(args, nargs, kwnames);
}

static PyObject *
py_deepcopy(PyObject *module, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    return fdc_deepcopy_vectorcall(module, args, (size_t)nargs, kwnames);
}

/* The vectorcall of a patched copy.copy function object, and copy() itself. */
PyObject *
fdc_copy_vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf,
                    PyObject *kwnames)
{
    static const char *const names[] = {"x"};
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject *slots[1];
    if (nargs == 1 && kwnames == NULL) {
        return fdc_shallow_copy(args[0]);
    }
    if (bind_args("copy", names, 1, args, nargs, kwnames, slots) < 0) {
        return NULL;
    }
    return fdc_shallow_copy(slots[0]);
}

static PyObject *
py_copy(PyObject *module, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    return fdc_copy_vectorcall(module, args, (size_t)nargs, kwnames);
}

#if FDC_REPLACE
/* copy.replace(obj, /, **changes) */
static PyObject *
py_replace(PyObject *module, PyObject *args, PyObject *kwargs)
{
    if (PyTuple_GET_SIZE(args) == 0) {
        /* obj is positional-only: obj=... is one of the **changes */
        PyErr_SetString(PyExc_TypeError,
                        "replace() missing 1 required positional argument: 'obj'");
        return NULL;
    }
    if (PyTuple_GET_SIZE(args) != 1) {
        PyErr_Format(PyExc_TypeError,
                     "replace() takes 1 positional argument but %zd were given",
                     PyTuple_GET_SIZE(args));
        return NULL;
    }
    PyObject *obj = PyTuple_GET_ITEM(args, 0);
    PyObject *cls = PyObject_GetAttrString(obj, "__class__");
    if (cls == NULL) {
        return NULL;
    }
    PyObject *func;
    if (fdc_lookup_attr(cls, FDC.s_replace, &func) < 0) {
        Py_DECREF(cls);
        return NULL;
    }
    if (func == NULL || func == Py_None) {
        Py_XDECREF(func);
        PyObject *name = PyObject_GetAttrString(cls, "__name__");
        if (name != NULL) {
            PyErr_Format(PyExc_TypeError, "replace() does not support %S objects", name);
            Py_DECREF(name);
        }
        Py_DECREF(cls);
        return NULL;
    }
    Py_DECREF(cls);
    PyObject *res = PyObject_Call(func, args, kwargs);
    Py_DECREF(func);
    return res;
}
#endif

static PyObject *
py_stats(PyObject *module, PyObject *unused)
{
    return fdc_stats_as_dict();
}

static PyObject *
py_reset_stats(PyObject *module, PyObject *unused)
{
    fdc_stats_reset();
    Py_RETURN_NONE;
}

static PyObject *
py_memo_bytes(PyObject *module, PyObject *unused)
{
    fdc_tstate *ts = fdc_tstate_get();
    if (ts == NULL) {
        return NULL;
    }
    return PyLong_FromSize_t(fdc_memo_bytes(&ts->memo));
}

static PyMethodDef engine_methods[] = {
    {"deepcopy", (PyCFunction)(void (*)(void))py_deepcopy, METH_FASTCALL | METH_KEYWORDS,
     DEEPCOPY_SIGNATURE "\n--\n\nDeep copy operation on arbitrary Python objects."},
    {"copy", (PyCFunction)(void (*)(void))py_copy, METH_FASTCALL | METH_KEYWORDS, "copy(x)\n--\n\nShallow copy operation on arbitrary Python objects."},
#if FDC_REPLACE
    {"replace", (PyCFunction)(void (*)(void))py_replace, METH_VARARGS | METH_KEYWORDS,
     "replace(obj, /, **changes)\n--\n\nReturn a new object replacing specified fields."},
#endif
    {"stats", py_stats, METH_NOARGS, "Counters of this process."},
    {"reset_stats", py_reset_stats, METH_NOARGS, "Zero the counters."},
    {"_memo_bytes", py_memo_bytes, METH_NOARGS, "Bytes retained by this thread's memo."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef engine_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "fastdeepcopy._engine",
    .m_doc = "C implementation of copy.deepcopy and copy.copy.",
    .m_size = -1,
    .m_methods = engine_methods,
};

PyMODINIT_FUNC
PyInit__engine(void)
{
    if (FDC.copy_module == NULL && fdc_env_init() < 0) {
        /* let a later import try again from the start */
        Py_CLEAR(FDC.copy_module);
        Py_CLEAR(FDC.copyreg_module);
        return NULL;
    }
    PyObject *m = PyModule_Create(&engine_module);
    if (m == NULL) {
        return NULL;
    }
    /* copy.Error may have been deleted before we were imported: then no Error. */
    if ((FDC.copy_error != NULL &&
         PyModule_AddObjectRef(m, "Error", FDC.copy_error) < 0) ||
        fdc_patch_init(m) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
