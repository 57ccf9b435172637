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
PyTypeObject *fdc_atomic_key_table[FDC_ATOMIC_TABLE_SIZE];
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

/* The atomic types that the fast paths may hash (fdc_is_atomic_key_type): not
 * a weak reference (comparing two compares their referents) nor a range (its
 * hash allocates). */
static void
build_atomic_key_table(void)
{
    memcpy(fdc_atomic_key_table, fdc_atomic_table, sizeof(fdc_atomic_key_table));
    for (size_t h = 0; h < FDC_ATOMIC_TABLE_SIZE; h++) {
        PyTypeObject *tp = fdc_atomic_key_table[h];
        if (tp == &_PyWeakref_RefType || tp == &PyRange_Type) {
            fdc_atomic_key_table[h] = NULL;
        }
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
            build_atomic_key_table();
            return 0;
        }
    }
    PyErr_SetString(PyExc_ImportError, "fastdeepcopy: no collision-free atomic type table");
    return -1;
}

/* The module globals we snapshot: (dict, name, slot).  Keys are interned once
 * at import, so re-reading them allocates nothing and cannot fail halfway. */
typedef struct {
    int in_copyreg;
    const char *name;
    PyObject **slot;
    PyObject *key;
} global_ref;

static global_ref globals_read[] = {
    {0, "_deepcopy_dispatch", &FDC.deepcopy_dispatch, NULL},
    {0, "dispatch_table", &FDC.reduce_table, NULL},
    {0, "Error", &FDC.copy_error, NULL},
    {0, "_reconstruct", &FDC.reconstruct, NULL},
#if FDC_ATOMIC_SET
    {0, "_atomic_types", &FDC.atomic_types, NULL},
#else
    {0, "_deepcopy_atomic", &FDC.deepcopy_atomic, NULL},
#endif
    {0, "_deepcopy_list", &FDC.deepcopy_list, NULL},
    {0, "_deepcopy_tuple", &FDC.deepcopy_tuple, NULL},
    {0, "_deepcopy_dict", &FDC.deepcopy_dict, NULL},
    {0, "_deepcopy_method", &FDC.deepcopy_method, NULL},
#if FDC_COPY_SETS
    {0, "_copy_atomic_types", &FDC.copy_atomic_types, NULL},
    {0, "_copy_builtin_containers", &FDC.copy_builtin_containers, NULL},
#else
    {0, "_copy_dispatch", &FDC.copy_dispatch, NULL},
#endif
#if FDC_FROZENDICT
    {0, "_deepcopy_frozendict", &FDC.deepcopy_frozendict, NULL},
#endif
    {1, "__newobj__", &FDC.newobj, NULL},
};
#define N_GLOBALS ((int)(sizeof(globals_read) / sizeof(globals_read[0])))

static int
intern_global_keys(void)
{
    for (int i = 0; i < N_GLOBALS; i++) {
        if (globals_read[i].key == NULL) {   /* (kept from a failed earlier init) */
            globals_read[i].key = PyUnicode_InternFromString(globals_read[i].name);
        }
        if (globals_read[i].key == NULL) {
            return -1;
        }
    }
    return 0;
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

#if FDC_ATOMIC_SET
/* Is `set` (copy._atomic_types) a set or frozenset of exactly the atomic
 * types?  Its items are compared by identity: no user code runs. */
static int
is_default_atomic_set(PyObject *set)
{
    if (set == NULL || !(PySet_CheckExact(set) || PyFrozenSet_CheckExact(set)) ||
        PySet_GET_SIZE(set) != N_ATOMIC) {
        return 0;
    }
    PyObject *it = PyObject_GetIter(set);
    if (it == NULL) {
        PyErr_Clear();
        return 0;
    }
    int ok = 1;
    PyObject *item;
    while (ok && (item = PyIter_Next(it)) != NULL) {
        ok = PyType_Check(item) && fdc_is_atomic_type((PyTypeObject *)item);
        Py_DECREF(item);
    }
    Py_DECREF(it);
    PyErr_Clear();
    return ok;
}

/* A mutable _atomic_types has no version: the fields that every change of its
 * content moves (see fdc_atomic_set_changed) are remembered instead. */
static void
take_atomic_set_fingerprint(void)
{
    PyObject *set = FDC.atomic_types;
    FDC.atomic_set_mutable = set != NULL && PySet_CheckExact(set);
    if (FDC.atomic_set_mutable) {
        fdc_set_fingerprint(set, &FDC.atomic_set_fp);
    }
}

static int
decide_atomic(void)
{
    take_atomic_set_fingerprint();
    return is_default_atomic_set(FDC.atomic_types);
}
#else
static int
decide_atomic(void)
{
    int ok = 1;
    for (int i = 0; i < N_ATOMIC; i++) {
        ok = ok && maps_to(FDC.deepcopy_dispatch, atomic_types[i], FDC.deepcopy_atomic);
    }
    return ok;
}
#endif

static void
decide_fast_paths(void)
{
    PyObject *dd = FDC.deepcopy_dispatch, *rt = FDC.reduce_table;
    FDC.atomic_ok = decide_atomic();
    FDC.list_ok = maps_to(dd, &PyList_Type, FDC.deepcopy_list);
    FDC.tuple_ok = maps_to(dd, &PyTuple_Type, FDC.deepcopy_tuple);
    FDC.dict_ok = maps_to(dd, &PyDict_Type, FDC.deepcopy_dict);
    FDC.method_ok = maps_to(dd, &PyMethod_Type, FDC.deepcopy_method);
    FDC.set_ok = absent_from(dd, &PySet_Type) && absent_from(rt, &PySet_Type);
    FDC.frozenset_ok = absent_from(dd, &PyFrozenSet_Type) && absent_from(rt, &PyFrozenSet_Type);
    FDC.bytearray_ok = absent_from(dd, &PyByteArray_Type) && absent_from(rt, &PyByteArray_Type);
    FDC.newobj_ok = FDC.newobj != NULL && FDC.newobj == FDC.newobj_orig;
#if FDC_FROZENDICT
    FDC.frozendict_ok = FDC.deepcopy_frozendict != NULL &&
                        maps_to(dd, &PyFrozenDict_Type, FDC.deepcopy_frozendict) &&
                        absent_from(rt, &PyFrozenDict_Type);
#endif
}

/* The dicts the snapshot depends on: copy.__dict__, copyreg.__dict__ and the
 * two dispatch tables.  A replaced table that is not a dict is never
 * "unchanged": copy's dict is followed in its place (any further change to
 * copy.__dict__ is noticed anyway). */
static void
dicts_to_follow(PyObject *dicts[4])
{
    dicts[0] = FDC.copy_dict;
    dicts[1] = FDC.copyreg_dict;
    dicts[2] = (FDC.deepcopy_dispatch && PyDict_Check(FDC.deepcopy_dispatch))
               ? FDC.deepcopy_dispatch : FDC.copy_dict;
    dicts[3] = (FDC.reduce_table && PyDict_Check(FDC.reduce_table))
               ? FDC.reduce_table : FDC.copyreg_dict;
}

/* Follow the dicts of the new snapshot (before it is committed: a failure
 * leaves the old one).  0 ok, -1 error. */
static int
follow_dicts(fdc_dictref refs[4])
{
    PyObject *dicts[4];
    dicts_to_follow(dicts);
    for (int i = 0; i < 4; i++) {
        refs[i] = fdc_dict_follow(dicts[i]);
        if (refs[i] == NULL) {
            while (--i >= 0) {
                fdc_dict_unfollow(refs[i]);
            }
            return -1;
        }
    }
    return 0;
}

static void
take_versions(fdc_dictref refs[4])
{
    for (int i = 0; i < 4; i++) {
        if (FDC.watched[i] != NULL) {
            fdc_dict_unfollow(FDC.watched[i]);
        }
        FDC.watched[i] = refs[i];
        FDC.versions[i] = fdc_dict_version(refs[i]);
    }
}

int
fdc_env_refresh_slow(void)
{
    /* Read everything first, then commit: a failure leaves the old snapshot
     * (and the old versions, so the next call tries again). */
    PyObject *values[N_GLOBALS];
    for (int i = 0; i < N_GLOBALS; i++) {
        PyObject *d = globals_read[i].in_copyreg ? FDC.copyreg_dict : FDC.copy_dict;
        values[i] = PyDict_GetItemWithError(d, globals_read[i].key);
        if (values[i] == NULL && PyErr_Occurred()) {
            for (int k = 0; k < i; k++) {
                Py_XDECREF(values[k]);
            }
            return -1;
        }
        Py_XINCREF(values[i]);   /* own them before any old value is released */
    }
    /* Commit the new snapshot and its versions before releasing the old one:
     * a finalizer run by that release may change the modules again (then the
     * versions move on and the next check reads them again). */
    PyObject *old[N_GLOBALS];
    for (int i = 0; i < N_GLOBALS; i++) {
        old[i] = *globals_read[i].slot;
        *globals_read[i].slot = values[i];   /* NULL: the global was deleted */
    }
    decide_fast_paths();
    fdc_dictref refs[4];
    int r = follow_dicts(refs);
    if (r == 0) {
        take_versions(refs);
    }
    else if (FDC.watched[0] != NULL) {
        FDC.versions[0] = fdc_dict_version(FDC.watched[0]) - 1;   /* try again */
    }
    FDC.epoch++;
    for (int i = 0; i < N_GLOBALS; i++) {
        Py_XDECREF(old[i]);
    }
    return r;
}

/* *slot = the interned string s, unless a failed earlier init already made
 * it (an import is retried from the start).  0 ok, -1 error. */
static int
intern(PyObject **slot, const char *s)
{
    if (*slot == NULL) {
        *slot = PyUnicode_InternFromString(s);
    }
    return *slot != NULL ? 0 : -1;
}

int
fdc_env_init(void)
{
    if (fdc_dictver_init() < 0) {
        return -1;
    }
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
    if (intern(&FDC.s_new, "__new__") < 0 ||
        intern(&FDC.s_func, "__func__") < 0 ||
        intern(&FDC.s_name, "__name__") < 0 ||
        intern(&FDC.s_tuple_new, "_tuple_new") < 0 ||
        intern(&FDC.s_deepcopy, "__deepcopy__") < 0 ||
        intern(&FDC.s_reduce_ex, "__reduce_ex__") < 0 ||
        intern(&FDC.s_reduce, "__reduce__") < 0 ||
        intern(&FDC.s_setstate, "__setstate__") < 0 ||
        intern(&FDC.s_dict, "__dict__") < 0 ||
        intern(&FDC.s_update, "update") < 0 ||
        intern(&FDC.s_items, "items") < 0 ||
        intern(&FDC.s_append, "append") < 0 ||
        intern(&FDC.s_get, "get") < 0 ||
        intern(&FDC.s_copy, "__copy__") < 0 ||
        intern(&FDC.s_copy_method, "copy") < 0 ||
        intern(&FDC.s_replace, "__replace__") < 0 ||
        intern(&FDC.s_slotnames, "__slotnames__") < 0 ||
        intern(&FDC.s_getstate, "__getstate__") < 0 ||
        intern(&FDC.s_getnewargs, "__getnewargs__") < 0 ||
        intern(&FDC.s_getnewargs_ex, "__getnewargs_ex__") < 0) {
        return -1;
    }
    /* (kept from a failed earlier init, if one made them) */
    if (FDC.empty_tuple == NULL) {
        FDC.empty_tuple = PyTuple_New(0);
    }
    if (FDC.four == NULL) {
        FDC.four = PyLong_FromLong(4);
    }
    if (FDC.nil == NULL) {
        FDC.nil = PyList_New(0);
    }
    if (FDC.temp_marker == NULL) {
        FDC.temp_marker = PyObject_CallNoArgs((PyObject *)&PyBaseObject_Type);
    }
    if (FDC.empty_tuple == NULL || FDC.four == NULL || FDC.nil == NULL ||
        FDC.temp_marker == NULL ||
        PyType_Ready(&fdc_PendingType) < 0 || PyType_Ready(&fdc_StandInType) < 0) {
        return -1;
    }
    if (intern_global_keys() < 0) {
        return -1;
    }
    Py_XSETREF(FDC.newobj_orig,
               Py_XNewRef(PyDict_GetItemString(FDC.copyreg_dict, "__newobj__")));
    return fdc_env_refresh_slow();
}

/* ---- reading what copy says ------------------------------------------------ */

/* `table.get(key)` for the dispatch tables: new reference, or NULL with or
 * without an exception (check PyErr_Occurred). */
PyObject *
fdc_table_get(PyObject *table, const char *global, PyObject *key)
{
    if (table == NULL) {
        /* the global was deleted from the copy module: stdlib's lookup fails */
        PyErr_Format(PyExc_NameError, "name '%s' is not defined", global);
        return NULL;
    }
    if (PyDict_CheckExact(table)) {
        PyObject *v = PyDict_GetItemWithError(table, key);
        return Py_XNewRef(v);
    }
    return PyObject_CallMethodOneArg(table, FDC.s_get, key);
}

int
fdc_lookup_attr(PyObject *obj, PyObject *name, PyObject **result)
{
#if FDC_GET_OPTIONAL_ATTR
    return PyObject_GetOptionalAttr(obj, name, result);
#else
    return _PyObject_LookupAttr(obj, name, result);
#endif
}
