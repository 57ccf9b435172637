/* env.c — what the stdlib `copy` and `copyreg` modules currently say.
 *
 * stdlib consults copy._deepcopy_dispatch and copyreg.dispatch_table on every
 * object, and users may change either at run time.  We keep a snapshot of the
 * relevant globals and decide which native fast paths still agree with them;
 * the snapshot is re-taken whenever the version tag of one of the four watched
 * dicts (copy.__dict__, copyreg.__dict__, the two dispatch tables) changes.
 */
#include "fdc.h"
#include <string.h>

fdc_env FDC;

PyTypeObject *fdc_atomic_table[FDC_ATOMIC_TABLE_SIZE];
unsigned int fdc_atomic_shift;

#define N_ATOMIC 16
static PyTypeObject *atomic_types[N_ATOMIC];

static void
init_atomic_types(void)
{
    PyTypeObject *types[N_ATOMIC] = {
        &PyLong_Type, &PyUnicode_Type, &PyFloat_Type, Py_TYPE(Py_None),
        &PyBool_Type, &PyBytes_Type, &PyComplex_Type, &PyType_Type, &PyRange_Type,
        &PyFunction_Type, &PyCFunction_Type, &PyCode_Type, &PyProperty_Type,
        &_PyWeakref_RefType, Py_TYPE(Py_Ellipsis), Py_TYPE(Py_NotImplemented),
    };
    for (int i = 0; i < N_ATOMIC; i++) {
        atomic_types[i] = types[i];
    }
}

/* Find a shift that maps every atomic type to its own slot. */
static int
build_atomic_table(void)
{
    for (unsigned int shift = 0; shift < 24; shift++) {
        memset(fdc_atomic_table, 0, sizeof(fdc_atomic_table));
        int ok = 1;
        for (int i = 0; i < N_ATOMIC && ok; i++) {
            uintptr_t h = ((uintptr_t)atomic_types[i] >> shift) & (FDC_ATOMIC_TABLE_SIZE - 1);
            if (fdc_atomic_table[h] != NULL) {
                ok = 0;
            }
            fdc_atomic_table[h] = atomic_types[i];
        }
        if (ok) {
            fdc_atomic_shift = shift;
            return 0;
        }
    }
    PyErr_SetString(PyExc_ImportError, "fastdeepcopy: no collision-free atomic type table");
    return -1;
}

/* Borrowed value of `name` in dict `d`, or NULL (no exception) when absent. */
static PyObject *
dict_get_str(PyObject *d, const char *name)
{
    PyObject *v = PyDict_GetItemString(d, name);
    return v;
}

static void
set_ref(PyObject **slot, PyObject *value)
{
    Py_XINCREF(value);
    Py_XSETREF(*slot, value);
}

/* Does `table` (the dispatch dict) map `tp` to `expected`?  Non-dicts: no. */
static int
maps_to(PyObject *table, PyTypeObject *tp, PyObject *expected)
{
    if (table == NULL || !PyDict_CheckExact(table) || expected == NULL) {
        return 0;
    }
    PyObject *v = PyDict_GetItemWithError(table, (PyObject *)tp);
    if (v == NULL && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    return v == expected;
}

static int
absent_from(PyObject *table, PyTypeObject *tp)
{
    if (table == NULL || !PyDict_CheckExact(table)) {
        return 0;
    }
    PyObject *v = PyDict_GetItemWithError(table, (PyObject *)tp);
    if (v == NULL && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    return v == NULL;
}

static void
decide_fast_paths(void)
{
    PyObject *dd = FDC.deepcopy_dispatch, *rt = FDC.reduce_table;
    int ok = 1;
    for (int i = 0; i < N_ATOMIC; i++) {
        ok = ok && maps_to(dd, atomic_types[i], FDC.deepcopy_atomic);
    }
    FDC.atomic_ok = ok;
    FDC.list_ok = maps_to(dd, &PyList_Type, FDC.deepcopy_list);
    FDC.tuple_ok = maps_to(dd, &PyTuple_Type, FDC.deepcopy_tuple);
    FDC.dict_ok = maps_to(dd, &PyDict_Type, FDC.deepcopy_dict);
    FDC.method_ok = maps_to(dd, &PyMethod_Type, FDC.deepcopy_method);
    FDC.set_ok = absent_from(dd, &PySet_Type) && absent_from(rt, &PySet_Type);
    FDC.frozenset_ok = absent_from(dd, &PyFrozenSet_Type) && absent_from(rt, &PyFrozenSet_Type);
    FDC.bytearray_ok = absent_from(dd, &PyByteArray_Type) && absent_from(rt, &PyByteArray_Type);
    FDC.newobj_ok = FDC.newobj != NULL && FDC.newobj == FDC.newobj_orig;
}

static void
take_versions(void)
{
    FDC.watched[0] = FDC.copy_dict;
    FDC.watched[1] = FDC.copyreg_dict;
    /* A replaced table that is not a dict is never "unchanged": watch copy's
     * dict instead (any further change to copy.__dict__ is noticed anyway). */
    FDC.watched[2] = (FDC.deepcopy_dispatch && PyDict_Check(FDC.deepcopy_dispatch))
                     ? FDC.deepcopy_dispatch : FDC.copy_dict;
    FDC.watched[3] = (FDC.reduce_table && PyDict_Check(FDC.reduce_table))
                     ? FDC.reduce_table : FDC.copyreg_dict;
    for (int i = 0; i < 4; i++) {
        FDC.versions[i] = fdc_dict_version(FDC.watched[i]);
    }
}

int
fdc_env_refresh_slow(void)
{
    PyObject *cd = FDC.copy_dict;
    set_ref(&FDC.deepcopy_dispatch, dict_get_str(cd, "_deepcopy_dispatch"));
    set_ref(&FDC.reduce_table, dict_get_str(cd, "dispatch_table"));
    set_ref(&FDC.copy_error, dict_get_str(cd, "Error"));
    set_ref(&FDC.reconstruct, dict_get_str(cd, "_reconstruct"));
    set_ref(&FDC.deepcopy_atomic, dict_get_str(cd, "_deepcopy_atomic"));
    set_ref(&FDC.deepcopy_list, dict_get_str(cd, "_deepcopy_list"));
    set_ref(&FDC.deepcopy_tuple, dict_get_str(cd, "_deepcopy_tuple"));
    set_ref(&FDC.deepcopy_dict, dict_get_str(cd, "_deepcopy_dict"));
    set_ref(&FDC.deepcopy_method, dict_get_str(cd, "_deepcopy_method"));
    set_ref(&FDC.copy_dispatch, dict_get_str(cd, "_copy_dispatch"));
    set_ref(&FDC.newobj, dict_get_str(FDC.copyreg_dict, "__newobj__"));
    decide_fast_paths();
    take_versions();
    FDC.epoch++;
    return 0;
}

static PyObject *
intern(const char *s)
{
    return PyUnicode_InternFromString(s);
}

int
fdc_env_init(void)
{
    init_atomic_types();
    if (build_atomic_table() < 0) {
        return -1;
    }
    FDC.copy_module = PyImport_ImportModule("copy");
    if (FDC.copy_module == NULL) {
        return -1;
    }
    FDC.copyreg_module = PyImport_ImportModule("copyreg");
    if (FDC.copyreg_module == NULL) {
        return -1;
    }
    FDC.copy_dict = PyModule_GetDict(FDC.copy_module);
    FDC.copyreg_dict = PyModule_GetDict(FDC.copyreg_module);
    if (!(FDC.s_new = intern("__new__")) ||
        !(FDC.s_func = intern("__func__")) ||
        !(FDC.s_name = intern("__name__")) ||
        !(FDC.s_tuple_new = intern("_tuple_new")) ||
        !(FDC.s_deepcopy = intern("__deepcopy__")) ||
        !(FDC.s_reduce_ex = intern("__reduce_ex__")) ||
        !(FDC.s_reduce = intern("__reduce__")) ||
        !(FDC.s_setstate = intern("__setstate__")) ||
        !(FDC.s_dict = intern("__dict__")) ||
        !(FDC.s_update = intern("update")) ||
        !(FDC.s_items = intern("items")) ||
        !(FDC.s_append = intern("append")) ||
        !(FDC.s_get = intern("get")) ||
        !(FDC.s_copy = intern("__copy__")) ||
        !(FDC.s_replace = intern("__replace__")) ||
        !(FDC.s_slotnames = intern("__slotnames__")) ||
        !(FDC.s_getstate = intern("__getstate__")) ||
        !(FDC.s_getnewargs = intern("__getnewargs__")) ||
        !(FDC.s_getnewargs_ex = intern("__getnewargs_ex__"))) {
        return -1;
    }
    FDC.empty_tuple = PyTuple_New(0);
    FDC.four = PyLong_FromLong(4);
    FDC.nil = PyList_New(0);
    if (FDC.empty_tuple == NULL || FDC.four == NULL || FDC.nil == NULL) {
        return -1;
    }
    FDC.newobj_orig = Py_XNewRef(PyDict_GetItemString(FDC.copyreg_dict, "__newobj__"));
    return fdc_env_refresh_slow();
}
