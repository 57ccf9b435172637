/* patch.c — routing an existing Python function object to the engine, in place.
 *
 * copy.deepcopy is a plain Python function that other modules may have bound
 * by name (`from copy import deepcopy`) long before we are imported, so the
 * shim cannot just rebind the module attribute: it changes what the existing
 * function object does when called.
 *
 * On CPython 3.12+ that is PyFunction_SetVectorcall(): every call of the
 * function object goes straight to our vectorcall, with no Python frame, and
 * the interpreter's call specializations see the non-default vectorcall and
 * stay away.  Restoring puts back the vectorcall every plain Python function
 * has (3.13 no longer exports _PyFunction_Vectorcall, so we read it off a
 * function we create at import).  Before 3.12 the specializer of 3.11 would
 * bypass a replaced vectorcall, so the Python side swaps __code__ for a
 * one-line trampoline instead (shim/fastdeepcopy/__init__.py).
 *
 * Module functions added here (all private to the shim):
 *   _set_vectorcall(func, kind)   kind is "deepcopy" or "copy"; 3.12+ only
 *   _restore_vectorcall(func)     -> True if ours was removed, else False
 *   _is_vectorcall_patched(func)  -> bool
 *   _vectorcall_kind(func)        -> "deepcopy" | "copy" | "default" | "foreign"
 *   _VECTORCALL_PATCH             True where _set_vectorcall is available
 */
#include "fdc.h"

int fdc_patch_init(PyObject *module);

/* The vectorcall of a plain Python function, captured at import. */
static vectorcallfunc default_vectorcall;

/* Borrowed: the function object behind `arg`, or NULL with TypeError. */
static PyFunctionObject *
as_function(PyObject *arg)
{
    if (!PyFunction_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "expected a Python function, got %.200s",
                     Py_TYPE(arg)->tp_name);
        return NULL;
    }
    return (PyFunctionObject *)arg;
}

static const char *
kind_of(vectorcallfunc vc)
{
    if (vc == fdc_deepcopy_vectorcall) {
        return "deepcopy";
    }
    if (vc == fdc_copy_vectorcall) {
        return "copy";
    }
    if (vc == default_vectorcall) {
        return "default";
    }
    return "foreign";
}

static int
is_ours(vectorcallfunc vc)
{
    return vc == fdc_deepcopy_vectorcall || vc == fdc_copy_vectorcall;
}

static PyObject *
py_set_vectorcall(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError,
                     "_set_vectorcall() takes exactly 2 arguments (%zd given)", nargs);
        return NULL;
    }
    PyFunctionObject *func = as_function(args[0]);
    if (func == NULL) {
        return NULL;
    }
    if (!PyUnicode_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "kind must be a str");
        return NULL;
    }
    vectorcallfunc target;
    if (PyUnicode_CompareWithASCIIString(args[1], "deepcopy") == 0) {
        target = fdc_deepcopy_vectorcall;
    }
    else if (PyUnicode_CompareWithASCIIString(args[1], "copy") == 0) {
        target = fdc_copy_vectorcall;
    }
    else {
        PyErr_Format(PyExc_ValueError,
                     "kind must be 'deepcopy' or 'copy', not %R", args[1]);
        return NULL;
    }
#if FDC_SET_VECTORCALL
    vectorcallfunc current = func->vectorcall;
    if (current != default_vectorcall && !is_ours(current)) {
        /* Someone else routed this function already: do not stack on top of
         * them, and do not make their patch impossible to undo. */
        PyErr_Format(PyExc_RuntimeError,
                     "%U already has a foreign vectorcall; not patching it",
                     func->func_qualname);
        return NULL;
    }
    if (current != target) {
        PyFunction_SetVectorcall(func, target);
    }
    Py_RETURN_NONE;
#else
    (void)target;
    PyErr_SetString(PyExc_NotImplementedError,
                    "patching a function's vectorcall needs CPython 3.12 or later");
    return NULL;
#endif
}

static PyObject *
py_restore_vectorcall(PyObject *module, PyObject *arg)
{
    PyFunctionObject *func = as_function(arg);
    if (func == NULL) {
        return NULL;
    }
#if FDC_SET_VECTORCALL
    if (is_ours(func->vectorcall)) {
        PyFunction_SetVectorcall(func, default_vectorcall);
        Py_RETURN_TRUE;
    }
#endif
    Py_RETURN_FALSE;
}

static PyObject *
py_is_vectorcall_patched(PyObject *module, PyObject *arg)
{
    PyFunctionObject *func = as_function(arg);
    if (func == NULL) {
        return NULL;
    }
    return PyBool_FromLong(is_ours(func->vectorcall));
}

static PyObject *
py_vectorcall_kind(PyObject *module, PyObject *arg)
{
    PyFunctionObject *func = as_function(arg);
    if (func == NULL) {
        return NULL;
    }
    return PyUnicode_FromString(kind_of(func->vectorcall));
}

static PyMethodDef patch_methods[] = {
    {"_set_vectorcall", (PyCFunction)(void (*)(void))py_set_vectorcall, METH_FASTCALL,
     "_set_vectorcall(func, kind)\n--\n\n"
     "Route calls of the Python function `func` to the engine's deepcopy or copy\n"
     "(kind 'deepcopy' or 'copy'), in place.  CPython 3.12+ only."},
    {"_restore_vectorcall", py_restore_vectorcall, METH_O,
     "_restore_vectorcall(func)\n--\n\n"
     "Undo _set_vectorcall; return True if `func` was routed to the engine."},
    {"_is_vectorcall_patched", py_is_vectorcall_patched, METH_O,
     "_is_vectorcall_patched(func)\n--\n\n"
     "Is `func` routed to the engine through its vectorcall?"},
    {"_vectorcall_kind", py_vectorcall_kind, METH_O,
     "_vectorcall_kind(func)\n--\n\n"
     "'deepcopy' or 'copy' (routed to the engine), 'default' (a plain Python\n"
     "function) or 'foreign' (routed elsewhere by someone else)."},
    {NULL, NULL, 0, NULL},
};

/* Read the vectorcall every plain Python function starts with. */
static int
capture_default_vectorcall(void)
{
    PyCodeObject *code = PyCode_NewEmpty("<fastdeepcopy>", "probe", 0);
    if (code == NULL) {
        return -1;
    }
    PyObject *globals = PyDict_New();
    if (globals == NULL) {
        Py_DECREF(code);
        return -1;
    }
    PyObject *func = PyFunction_New((PyObject *)code, globals);
    Py_DECREF(globals);
    Py_DECREF(code);
    if (func == NULL) {
        return -1;
    }
    default_vectorcall = ((PyFunctionObject *)func)->vectorcall;
    Py_DECREF(func);
    if (default_vectorcall == NULL) {
        PyErr_SetString(PyExc_SystemError, "Python functions have no vectorcall");
        return -1;
    }
    return 0;
}

int
fdc_patch_init(PyObject *module)
{
    if (default_vectorcall == NULL && capture_default_vectorcall() < 0) {
        return -1;
    }
    if (PyModule_AddFunctions(module, patch_methods) < 0) {
        return -1;
    }
    PyObject *available = PyBool_FromLong(FDC_SET_VECTORCALL);
    int rc = PyModule_AddObjectRef(module, "_VECTORCALL_PATCH", available);
    Py_DECREF(available);
    return rc;
}
