/* typecache.c — deciding once per class how its instances copy.
 *
 * For most user classes the stdlib protocol ends in object.__reduce_ex__(4),
 * which builds (copyreg.__newobj__, (cls,), state, None, None) with state the
 * instance __dict__ (None when empty) and/or a dict of the __slots__ values.
 * When a class provably takes that road (no __deepcopy__, no copyreg entry, no
 * overridden __reduce_ex__/__reduce__/__getstate__/__getnewargs*__/__setstate__,
 * generic attribute access, object.__new__, a layout of pure-Python classes)
 * we build the same state natively and run the same reconstruction, skipping
 * the reduce tuple.  Classes whose __deepcopy__ returns self (enum.Enum's,
 * fractions.Fraction's, a few C types': selfhook.c) are their own copy.
 *
 * The decision is cached per type, keyed by the type's version tag (changed by
 * any assignment to the class or its bases) and the env epoch (changed when the
 * dispatch tables change).
 */
#include "fdc.h"
#include <string.h>
#if FDC_SET_VECTORCALL
#define FDC_T_OBJECT_EX Py_T_OBJECT_EX
#else
#include <structmember.h>
#define FDC_T_OBJECT_EX T_OBJECT_EX
#endif

#define FDC_TYPECACHE_SIZE 512

typedef struct {
    PyTypeObject *type;       /* not owned: the version tag makes reuse safe */
    unsigned int version;
    uint64_t epoch;
    int kind;
    PyObject *slotnames;      /* owned, PLAIN only: the class's __slotnames__ list */
    Py_ssize_t *offsets;      /* PLAIN only, PyMem: where each of those slots lives, when
                                 every one is a plain __slots__ member; else NULL */
    PyObject *offset_names;   /* owned, with offsets: the names they are for, a tuple
                                 (the __slotnames__ list itself may be changed later) */
    Py_ssize_t nfields;       /* NAMEDTUPLE: arguments of the generated __new__;
                                 DATETIME: which of the datetime types;
                                 PLAIN: the built-in base (FDC_BASE_*) */
    int defer_misses;         /* PLAIN: instances in a row whose state could not be
                                 put off (pending.c); past FDC_DEFER_MISSES, only one
                                 instance in FDC_DEFER_RETRY is tried */
    unsigned int defer_skipped;
    fdc_self_hook hook;       /* SELF only: the hook, checked again on each use */
} typecache_entry;

#define FDC_DEFER_MISSES 8
#define FDC_DEFER_RETRY 64

static typecache_entry cache[FDC_TYPECACHE_SIZE];

static size_t
cache_slot(PyTypeObject *tp)
{
    uintptr_t h = (uintptr_t)tp;
    return (size_t)((h >> 4) ^ (h >> 13)) & (FDC_TYPECACHE_SIZE - 1);
}

static int
version_is_valid(PyTypeObject *tp)
{
#if FDC_TYPE_TAG_ZERO
    /* 3.13 no longer sets Py_TPFLAGS_VALID_VERSION_TAG: a modified type gets
     * tag 0, and a new tag is never reused */
    return tp->tp_version_tag != 0;
#else
    return (tp->tp_flags & Py_TPFLAGS_VALID_VERSION_TAG) && tp->tp_version_tag != 0;
#endif
}

int
fdc_type_version_unchanged(PyTypeObject *tp, unsigned int version)
{
    return tp->tp_version_tag == version && version_is_valid(tp);
}

/* ---- deciding the kind -------------------------------------------------------- */

static int
inherits_from_object(PyTypeObject *tp, PyObject *name)
{
    return _PyType_Lookup(tp, name) == _PyType_Lookup(&PyBaseObject_Type, name);
}

/* Only pure-Python classes down to `object`, `dict` or `list` (FDC_BASE_*;
 * 0: none of those), with the base's tp_new.  Down to object, the instance
 * layout is what object.__reduce_ex__'s size check expects.  Down to dict or
 * list, object.__reduce_ex__ adds the items, iter(x.items()) or iter(x), made
 * here the same way (an override of either is called as it calls it). */
static int
plain_base(PyTypeObject *tp)
{
    if (tp->tp_itemsize != 0 || !(tp->tp_flags & Py_TPFLAGS_HEAPTYPE)) {
        return 0;
    }
    PyTypeObject *b = tp;
    while (b != NULL && (b->tp_flags & Py_TPFLAGS_HEAPTYPE)) {
        b = b->tp_base;
    }
    if (b == &PyBaseObject_Type) {
        return tp->tp_new == PyBaseObject_Type.tp_new ? FDC_BASE_OBJECT : 0;
    }
    if (b == &PyDict_Type) {
        return tp->tp_new == PyDict_Type.tp_new ? FDC_BASE_DICT : 0;
    }
    if (b == &PyList_Type) {
        return tp->tp_new == PyList_Type.tp_new ? FDC_BASE_LIST : 0;
    }
    return 0;
}

static int
in_table(PyObject *table, PyTypeObject *tp)
{
    if (table == NULL || !PyDict_CheckExact(table)) {
        return 1;   /* unknown mapping: assume it may hold the type */
    }
    PyObject *v = PyDict_GetItemWithError(table, (PyObject *)tp);
    if (v == NULL && PyErr_Occurred()) {
        PyErr_Clear();
        return 1;
    }
    return v != NULL;
}

/* cls.__dict__['__slotnames__'] (borrowed) if object.__reduce_ex__ already
 * computed it, else NULL (no exception). */
static PyObject *
cached_slotnames(PyTypeObject *tp)
{
    if (!(tp->tp_flags & Py_TPFLAGS_HEAPTYPE) || tp->tp_dict == NULL) {
        /* static types (object itself, ...) keep no __slotnames__ we can read */
        return NULL;
    }
    PyObject *names = PyDict_GetItemWithError(tp->tp_dict, FDC.s_slotnames);
    if (names == NULL || !PyList_CheckExact(names)) {
        PyErr_Clear();
        return NULL;
    }
    return names;
}

/* `__dict__` of the class is the getset descriptor type() made (or absent). */
static int
standard_dict_attr(PyTypeObject *tp)
{
    PyObject *d = _PyType_Lookup(tp, FDC.s_dict);
    if (tp->tp_dictoffset == 0) {
        return d == NULL;
    }
    return d != NULL && Py_IS_TYPE(d, &PyGetSetDescr_Type);
}

/* Hooks every fast class must leave to object's defaults. */
static int
default_reduce_protocol(PyTypeObject *tp)
{
    return FDC.newobj_ok &&
           tp->tp_getattro == PyObject_GenericGetAttr &&
           !in_table(FDC.reduce_table, tp) &&
           _PyType_Lookup(tp, FDC.s_deepcopy) == NULL &&
           _PyType_Lookup(tp, FDC.s_getnewargs_ex) == NULL &&
           inherits_from_object(tp, FDC.s_reduce_ex) &&
           inherits_from_object(tp, FDC.s_reduce) &&
           inherits_from_object(tp, FDC.s_getstate);
}

static PyObject *tuple_new_builtin;          /* tuple.__new__ (owned) */
static PyObject *namedtuple_getnewargs_code; /* code of namedtuple's __getnewargs__ */

/* Learn what collections.namedtuple generates by making one class (only when
 * collections is already imported: we never import it ourselves).
 * 0 learned, -1 not available (no exception). */
static int
learn_namedtuple(void)
{
    if (namedtuple_getnewargs_code != NULL) {
        return 0;
    }
    PyObject *name = PyUnicode_FromString("collections");
    PyObject *mod = name ? PyImport_GetModule(name) : NULL;
    Py_XDECREF(name);
    if (mod == NULL) {
        PyErr_Clear();
        return -1;
    }
    PyObject *cls = PyObject_CallMethod(mod, "namedtuple", "ss", "_fdc_probe", "a");
    Py_DECREF(mod);
    PyObject *fn = cls ? PyObject_GetAttrString(cls, "__getnewargs__") : NULL;
    Py_XDECREF(cls);
    PyObject *code = fn ? PyObject_GetAttrString(fn, "__code__") : NULL;
    Py_XDECREF(fn);
    if (tuple_new_builtin == NULL) {
        tuple_new_builtin = PyObject_GetAttr((PyObject *)&PyTuple_Type, FDC.s_new);
    }
    if (code == NULL || tuple_new_builtin == NULL) {
        Py_XDECREF(code);
        PyErr_Clear();
        return -1;
    }
    namedtuple_getnewargs_code = code;
    return 0;
}

/* Is f the __new__ namedtuple generates: `lambda _cls, a, b: _tuple_new(_cls, (a, b))`
 * evaluated in a namespace named 'namedtuple_<typename>'?  Returns the number
 * of fields it takes, or -1. */
static Py_ssize_t
namedtuple_new_fields(PyObject *f)
{
    if (!PyFunction_Check(f)) {
        return -1;
    }
    PyObject *globals = PyFunction_GET_GLOBALS(f);
    PyObject *tn = PyDict_GetItemWithError(globals, FDC.s_tuple_new);
    PyObject *modname = PyDict_GetItemWithError(globals, FDC.s_name);
    if (tn == NULL || tn != tuple_new_builtin || modname == NULL || !PyUnicode_Check(modname)) {
        PyErr_Clear();
        return -1;
    }
    const char *mn = PyUnicode_AsUTF8(modname);
    if (mn == NULL || strncmp(mn, "namedtuple_", 11) != 0) {
        PyErr_Clear();
        return -1;
    }
    PyCodeObject *code = (PyCodeObject *)PyFunction_GET_CODE(f);
    if (code->co_kwonlyargcount != 0 || (code->co_flags & (CO_VARARGS | CO_VARKEYWORDS)) != 0) {
        return -1;
    }
    return code->co_argcount - 1;
}

static int
decide_namedtuple(PyTypeObject *tp, Py_ssize_t *nfields)
{
    if (!PyType_IsSubtype(tp, &PyTuple_Type) || tp == &PyTuple_Type ||
        !default_reduce_protocol(tp) || learn_namedtuple() < 0) {
        return 0;
    }
    PyObject *names = cached_slotnames(tp);
    if (names == NULL || PyList_GET_SIZE(names) != 0) {
        return 0;
    }
    PyObject *gna = _PyType_Lookup(tp, FDC.s_getnewargs);
    if (gna == NULL || !PyFunction_Check(gna) ||
        PyFunction_GET_CODE(gna) != namedtuple_getnewargs_code) {
        return 0;
    }
    /* its closure cell `_tuple` must still be the builtin tuple */
    PyObject *closure = PyFunction_GET_CLOSURE(gna);
    if (closure == NULL || PyTuple_GET_SIZE(closure) != 1 ||
        PyCell_GET(PyTuple_GET_ITEM(closure, 0)) != (PyObject *)&PyTuple_Type) {
        return 0;
    }
    PyObject *sm = _PyType_Lookup(tp, FDC.s_new);
    if (sm == NULL) {
        return 0;
    }
    PyObject *fn = PyObject_GetAttr(sm, FDC.s_func);
    if (fn == NULL) {
        PyErr_Clear();
        return 0;
    }
    *nfields = namedtuple_new_fields(fn);
    Py_DECREF(fn);
    return *nfields >= 0;
}

/* FDC_BASE_* when tp is PLAIN, else 0. */
static int
decide_plain(PyTypeObject *tp, PyObject **slotnames)
{
    int base = plain_base(tp);
    if (base == 0 || !default_reduce_protocol(tp) ||
        tp->tp_setattro != PyObject_GenericSetAttr || !standard_dict_attr(tp) ||
        _PyType_Lookup(tp, FDC.s_setstate) != NULL ||
        _PyType_Lookup(tp, FDC.s_getnewargs) != NULL) {
        return 0;
    }
    /* object.__reduce_ex__ reads cls.__dict__['__slotnames__'], computing and
     * storing it on first use: let the full protocol do that first. */
    PyObject *names = cached_slotnames(tp);
    if (names == NULL) {
        return 0;
    }
    *slotnames = Py_NewRef(names);
    return base;
}

static int
decide_self(PyTypeObject *tp, fdc_self_hook *hook)
{
    if (tp->tp_getattro != PyObject_GenericGetAttr) {
        return 0;
    }
    PyObject *f = _PyType_Lookup(tp, FDC.s_deepcopy);
    if (f == NULL) {
        return 0;
    }
    return fdc_self_hook_decide(tp, f, hook);
}

/* getattr(x, "__deepcopy__") finds nothing on the class, and getattr(x,
 * "__reduce_ex__")(4) is object.__reduce_ex__, which finds the class's own
 * __reduce__ (a Python function) by getattr(x, ...) and getattr(cls, ...)
 * (cls's metaclass being type itself, nothing can come between), and calls it. */
static int
decide_own_reduce(PyTypeObject *tp)
{
    if (Py_TYPE(tp) != &PyType_Type || tp->tp_getattro != PyObject_GenericGetAttr ||
        in_table(FDC.reduce_table, tp) || _PyType_Lookup(tp, FDC.s_deepcopy) != NULL ||
        !inherits_from_object(tp, FDC.s_reduce_ex)) {
        return 0;
    }
    PyObject *f = _PyType_Lookup(tp, FDC.s_reduce);
    return f != NULL && Py_IS_TYPE(f, &PyFunction_Type);
}

static int
decide_kind(PyTypeObject *tp, PyObject **slotnames, Py_ssize_t *nfields, fdc_self_hook *hook)
{
    *slotnames = NULL;
    *nfields = -1;
    if (in_table(FDC.deepcopy_dispatch, tp) || PyType_IsSubtype(tp, &PyType_Type)) {
        return FDC_KIND_GENERIC;
    }
    int base = decide_plain(tp, slotnames);
    if (base != 0) {
        *nfields = base;
        return FDC_KIND_PLAIN;
    }
    if (decide_self(tp, hook)) {
        return FDC_KIND_SELF;
    }
    if (_PyType_Lookup(tp, FDC.s_deepcopy) != NULL) {
        return FDC_KIND_HOOK;
    }
    if (decide_namedtuple(tp, nfields)) {
        return FDC_KIND_NAMEDTUPLE;
    }
    if (!in_table(FDC.reduce_table, tp) && (*nfields = fdc_datetime_kind(tp)) > 0) {
        return FDC_KIND_DATETIME;
    }
    if (decide_own_reduce(tp)) {
        return FDC_KIND_OWN_REDUCE;
    }
    return FDC_KIND_GENERIC;
}

/* Offsets of the slots named by `names` when each name finds, on the class, an
 * ordinary __slots__ member (object, settable, no audit): getattr/setattr of
 * the name then read/write exactly that field.  NULL otherwise (or no memory). */
static Py_ssize_t *
member_offsets(PyTypeObject *tp, PyObject *names)
{
    Py_ssize_t n = names != NULL ? PyList_GET_SIZE(names) : 0;
    if (n == 0) {
        return NULL;
    }
    Py_ssize_t *offsets = PyMem_Malloc(sizeof(Py_ssize_t) * (size_t)n);
    if (offsets == NULL) {
        return NULL;   /* the generic path does the same work */
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *name = PyList_GET_ITEM(names, i);
        PyObject *d = PyUnicode_CheckExact(name) ? _PyType_Lookup(tp, name) : NULL;
        /* (a member of another class, put on tp by assignment, would be
         * refused by its own __get__/__set__: not one of tp's fields) */
        PyMemberDef *m = (d != NULL && Py_IS_TYPE(d, &PyMemberDescr_Type) &&
                          PyType_IsSubtype(tp, ((PyDescrObject *)d)->d_type))
                         ? ((PyMemberDescrObject *)d)->d_member : NULL;
        if (m == NULL || m->type != FDC_T_OBJECT_EX || m->flags != 0) {
            PyMem_Free(offsets);
            return NULL;
        }
        offsets[i] = m->offset;
    }
    return offsets;
}

static void
set_offsets(typecache_entry *e, PyTypeObject *tp, PyObject *names)
{
    e->offsets = member_offsets(tp, names);
    if (e->offsets != NULL) {
        e->offset_names = PyList_AsTuple(names);
        if (e->offset_names == NULL) {
            PyErr_Clear();   /* no offsets: getattr and setattr do the same */
            PyMem_Free(e->offsets);
            e->offsets = NULL;
        }
    }
}

/* tp's entry when it holds a decision for tp's current version and the
 * current dispatch tables, else NULL. */
static typecache_entry *
current_entry(PyTypeObject *tp)
{
    typecache_entry *e = &cache[cache_slot(tp)];
    if (e->type == tp && e->version == tp->tp_version_tag && e->epoch == FDC.epoch &&
        version_is_valid(tp)) {
        return e;
    }
    return NULL;
}

/* The cache entry for `tp`, brought up to date; NULL when the type cannot be
 * cached (then it takes the full protocol). */
static typecache_entry *
type_entry(PyTypeObject *tp)
{
    typecache_entry *e = current_entry(tp);
    if (e != NULL) {
        return e;
    }
    e = &cache[cache_slot(tp)];
    /* A lookup gives the type a version tag if it can have one.  Deciding may
     * run Python code (learning namedtuple's code, a metaclass __eq__ in a
     * table lookup): a decision made while the class changed is not kept. */
    (void)_PyType_Lookup(tp, FDC.s_deepcopy);
    unsigned int tag = tp->tp_version_tag;
    PyObject *names;
    Py_ssize_t nfields;
    fdc_self_hook hook = {0};
    int kind = decide_kind(tp, &names, &nfields, &hook);
    if (!version_is_valid(tp) || tp->tp_version_tag != tag) {
        Py_XDECREF(names);
        fdc_self_hook_clear(&hook);
        return NULL;
    }
    fdc_self_hook_clear(&e->hook);
    e->hook = hook;
    PyMem_Free(e->offsets);
    e->offsets = NULL;
    Py_CLEAR(e->offset_names);
    if (kind == FDC_KIND_PLAIN) {
        set_offsets(e, tp, names);
    }
    Py_XSETREF(e->slotnames, names);
    e->type = tp;
    e->version = tp->tp_version_tag;
    e->epoch = FDC.epoch;
    e->kind = kind;
    e->nfields = nfields;
    e->defer_misses = 0;
    e->defer_skipped = 0;
    return e;
}

/* ---- per-instance checks and the PLAIN copy ------------------------------------ */

/* Does the instance dict shadow one of the hooks the protocol looks up on the
 * instance (getattr(x, name) finds instance attributes first)?  `last` is the
 * third name looked up: __getstate__ for PLAIN, __reduce__ for OWN_REDUCE. */
static int
dict_shadows_hooks(PyObject *dict, PyObject *last)
{
    PyObject *names[3] = {FDC.s_deepcopy, FDC.s_reduce_ex, last};
    for (int i = 0; i < 3; i++) {
        if (PyDict_GetItemWithError(dict, names[i]) != NULL) {
            return 1;
        }
        if (PyErr_Occurred()) {
            return -1;
        }
    }
    return 0;
}

/* The instance dict (new ref) or NULL without exception when there is none. */
static PyObject *
instance_dict(PyObject *x)
{
    if (Py_TYPE(x)->tp_dictoffset == 0) {
        return NULL;
    }
#if FDC_GENERIC_GETDICT
    return PyObject_GenericGetDict(x, NULL);
#else
    PyObject **ptr = _PyObject_GetDictPtr(x);
    return (ptr && *ptr) ? Py_NewRef(*ptr) : NULL;
#endif
}

/* getattr(x, name) of the i-th slot name, an AttributeError counting as
 * "not set" (object.__reduce_ex__ skips those): 1 and a new reference in
 * *value, 0 when not set, -1 on error. */
static int
slot_value(PyObject *x, PyObject *name, const Py_ssize_t *offsets, Py_ssize_t i,
           PyObject **value)
{
    if (offsets != NULL) {
        *value = Py_XNewRef(*(PyObject **)((char *)x + offsets[i]));
        return *value != NULL;
    }
    *value = PyObject_GetAttr(x, name);
    if (*value != NULL) {
        return 1;
    }
    if (!PyErr_ExceptionMatches(PyExc_AttributeError)) {
        return -1;
    }
    PyErr_Clear();
    return 0;
}

/* The slot offsets of tp's cache entry, if it is still current and the
 * `slotnames` list still holds the names they were computed for; NULL
 * otherwise (then getattr is used).  Valid until user code runs. */
static const Py_ssize_t *
current_offsets(PyTypeObject *tp, PyObject *slotnames)
{
    typecache_entry *e = current_entry(tp);
    if (e == NULL || e->kind != FDC_KIND_PLAIN || e->offsets == NULL) {
        return NULL;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(e->offset_names);
    if (PyList_GET_SIZE(slotnames) != n) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (PyList_GET_ITEM(slotnames, i) != PyTuple_GET_ITEM(e->offset_names, i)) {
            return NULL;
        }
    }
    return e->offsets;
}

/* {name: getattr(x, name)} for the set slots, as object.__reduce_ex__ builds it.
 * Returns a new dict (possibly empty) or NULL on error. */
static PyObject *
slot_values(PyObject *x, PyObject *slotnames)
{
    PyObject *slots = PyDict_New();
    if (slots == NULL) {
        return NULL;
    }
    /* (after PyDict_New, whose collection may run finalizers that change the
     * class: the offsets are the cache entry's, valid until user code runs;
     * reading them and filling the dict runs none) */
    const Py_ssize_t *offsets = current_offsets(Py_TYPE(x), slotnames);
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(slotnames); i++) {
        PyObject *name = Py_NewRef(PyList_GET_ITEM(slotnames, i));
        PyObject *value;
        int r = slot_value(x, name, offsets, i, &value);
        if (r > 0) {
            r = PyDict_SetItem(slots, name, value);
            Py_DECREF(value);
        }
        Py_DECREF(name);
        if (r < 0) {
            Py_DECREF(slots);
            return NULL;
        }
    }
    return slots;
}

/* state as object.__reduce_ex__ computes it: dict-or-None, or (that, slots). */
static PyObject *
plain_state(PyObject *x, PyObject *dict, PyObject *slotnames)
{
    PyObject *state = (dict != NULL && PyDict_GET_SIZE(dict) > 0) ? dict : Py_None;
    if (PyList_GET_SIZE(slotnames) == 0) {
        return Py_NewRef(state);
    }
    PyObject *slots = slot_values(x, slotnames);
    if (slots == NULL) {
        return NULL;
    }
    if (PyDict_GET_SIZE(slots) == 0) {
        Py_DECREF(slots);
        return Py_NewRef(state);
    }
    PyObject *pair = PyTuple_Pack(2, state, slots);
    Py_DECREF(slots);
    return pair;
}

/* What object.__reduce_ex__ adds for a dict or list subclass, made when and
 * as it makes it (after the state, by a method call that finds an instance
 * attribute first, and by iter()): iter(x.items()) or iter(x). */
static FDC_NOINLINE PyObject *
plain_items(PyObject *x, const fdc_plain_class *plain)
{
    if (plain->base == FDC_BASE_LIST) {
        return PyObject_GetIter(x);
    }
    PyObject *view = PyObject_CallMethodNoArgs(x, FDC.s_items);
    if (view == NULL) {
        return NULL;
    }
    PyObject *it = PyObject_GetIter(view);
    Py_DECREF(view);
    return it;
}

/* *defer: in, may the state be put off; out, 1 it was, 0 it could not be,
 * -1 there was nothing to put off. */
static PyObject *
copy_plain_with(fdc_ctx *ctx, PyObject *x, const fdc_plain_class *plain, PyObject *dict,
                PyObject *slotnames, int *defer)
{
    /* (the state of a dict or list subclass is not put off: its items follow) */
    int may_defer = *defer && plain->base == FDC_BASE_OBJECT;
    *defer = -1;
    if (may_defer && PyList_GET_SIZE(slotnames) > 0 && (dict == NULL || PyDict_GET_SIZE(dict) == 0)) {
        /* slots only: the reduction's temporaries may be stood in for */
        const Py_ssize_t *offsets = current_offsets(plain->type, slotnames);
        PyObject *y = NULL;
        int r = offsets != NULL ?
            fdc_copy_slots_standin(ctx, x, plain->type, slotnames, offsets, &y) : 0;
        if (r != 0) {
            *defer = r > 0;
            return y;
        }
    }
    PyObject *state = plain_state(x, dict, slotnames);
    if (state == NULL) {
        return NULL;
    }
    PyObject *items = plain->base == FDC_BASE_OBJECT ? Py_NewRef(Py_None) : plain_items(x, plain);
    if (items == NULL) {
        Py_DECREF(state);
        return NULL;
    }
    /* copyreg.__newobj__(cls) is cls.__new__(cls): object's, dict's or list's */
    PyTypeObject *tp = plain->type;
    PyObject *y = tp->tp_new(tp, FDC.empty_tuple, NULL);
    if (y == NULL) {
        Py_DECREF(items);
        Py_DECREF(state);
        return NULL;
    }
    /* a state of x.__dict__ alone, or of slots alone, may be put off (pending.c) */
    int r = 0, tried = may_defer && state != Py_None;
    if (tried && state == dict) {
        r = fdc_copy_state_deferred(ctx, x, y, state, plain);
    }
    else if (tried) {
        r = fdc_copy_slots_deferred(ctx, x, y, state);
    }
    *defer = tried ? r > 0 : -1;
    if (r == 0) {
        PyObject *listiter = plain->base == FDC_BASE_LIST ? items : Py_None;
        PyObject *dictiter = plain->base == FDC_BASE_DICT ? items : Py_None;
        r = fdc_reconstruct_rest(ctx, x, y, state, listiter, dictiter, 1, plain);
    }
    Py_DECREF(items);
    Py_DECREF(state);
    if (r < 0) {
        Py_DECREF(y);
        return NULL;
    }
    return y;
}

#if !FDC_TYPE_TAG_ZERO
/* Instances of SELF classes whose dict was seen without a `__deepcopy__` key,
 * with the dict's version then: an unchanged version is an unchanged dict (a
 * version is never reused, not even by a new dict at the same address).  Not
 * on 3.13+, where an attribute set while the dict shares the object's inline
 * values leaves the version alone. */
#define FDC_SELF_SEEN_SIZE 256

typedef struct {
    PyObject *obj;      /* not owned: only compared */
    PyObject *dict;     /* not owned: only compared */
    uint64_t version;
} self_seen_entry;

static self_seen_entry self_seen[FDC_SELF_SEEN_SIZE];

static self_seen_entry *
self_seen_slot(PyObject *x)
{
    uintptr_t h = (uintptr_t)x;
    return &self_seen[((h >> 4) ^ (h >> 12)) & (FDC_SELF_SEEN_SIZE - 1)];
}

/* Was x's dict d seen without a __deepcopy__ key, and is it unchanged since? */
static int
dict_seen_lacking_deepcopy(PyObject *x, PyObject *d)
{
    self_seen_entry *e = self_seen_slot(x);
    return e->obj == x && e->dict == d && e->version == fdc_dict_version(d);
}

/* No __deepcopy__ key in x's dict d, looked up (a miss is remembered for
 * dict_seen_lacking_deepcopy): 1, 0, or -1 on error. */
static int
dict_lacks_deepcopy(PyObject *x, PyObject *d)
{
    self_seen_entry *e = self_seen_slot(x);
    uint64_t version = fdc_dict_version(d);
    PyObject *v = PyDict_GetItemWithError(d, FDC.s_deepcopy);
    if (v != NULL || PyErr_Occurred()) {
        return v != NULL ? 0 : -1;
    }
    e->obj = x;
    e->dict = d;
    e->version = version;
    return 1;
}
#else
static int
dict_seen_lacking_deepcopy(PyObject *x, PyObject *d)
{
    (void)x;
    (void)d;
    return 0;
}

static int
dict_lacks_deepcopy(PyObject *x, PyObject *d)
{
    PyObject *v = PyDict_GetItemWithError(d, FDC.s_deepcopy);
    return v != NULL ? 0 : (PyErr_Occurred() ? -1 : 1);
}
#endif

/* Can looking an exact str up in the exact dict d run no Python code?  Yes
 * when all its keys are exact strs (a split table's always are): they are
 * compared as strs.  Counted for small dicts only. */
#define FDC_PURE_KEYS_MAX 16

static int
lookup_is_pure(PyObject *d)
{
    if (((PyDictObject *)d)->ma_values != NULL) {
        return 1;
    }
    if (PyDict_GET_SIZE(d) > FDC_PURE_KEYS_MAX) {
        return 0;
    }
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (PyDict_Next(d, &pos, &key, &value)) {
        if (!PyUnicode_CheckExact(key)) {
            return 0;
        }
    }
    return 1;
}

/* SELF kind: still honour an instance attribute named __deepcopy__.
 * 1 applies, 0 does not, -1 error.  *pure: decided without anything that
 * could run Python code -- x has no dict, or one seen before without the key
 * and unchanged since (before 3.13), or one whose lookup is pure. */
static int
self_applies(PyObject *x, int *pure)
{
    *pure = 0;
    if (Py_TYPE(x)->tp_dictoffset == 0) {
        *pure = 1;
        return 1;
    }
    PyObject **dictptr = _PyObject_GetDictPtr(x);
    PyObject *d = dictptr != NULL ? *dictptr : NULL;
    if (d != NULL && PyDict_CheckExact(d)) {
        if (dict_seen_lacking_deepcopy(x, d)) {
            *pure = 1;
            return 1;
        }
        *pure = lookup_is_pure(d);
        /* a key's __eq__ may replace x's dict during the lookup: hold it */
        Py_INCREF(d);
        int r = dict_lacks_deepcopy(x, d);
        Py_DECREF(d);
        return r;
    }
    PyObject *dict = instance_dict(x);
    if (dict == NULL) {
        return PyErr_Occurred() ? -1 : 1;
    }
    PyObject *v = PyDict_GetItemWithError(dict, FDC.s_deepcopy);
    int r = v != NULL ? 0 : (PyErr_Occurred() ? -1 : 1);
    Py_DECREF(dict);
    return r;
}

/* plain: x's class as the decision was made for it (held by the caller). */
static PyObject *
copy_plain(fdc_ctx *ctx, PyObject *x, const fdc_plain_class *plain, PyObject *slotnames,
           int *defer)
{
    int may_defer = *defer;
    *defer = -1;
    PyObject *dict = instance_dict(x);
    if (dict == NULL && PyErr_Occurred()) {
        return NULL;
    }
    int shadow = dict ? dict_shadows_hooks(dict, FDC.s_getstate) : 0;
    PyObject *y;
    if (shadow < 0) {
        y = NULL;
    }
    else if (shadow || Py_TYPE(x) != plain->type ||
             !fdc_type_version_unchanged(plain->type, plain->version)) {
        /* an instance attribute names a hook, or a key's __eq__ run by the
         * dict checks changed x's class or the class: the full protocol */
        y = NULL;
    }
    else {
        *defer = may_defer;
        y = copy_plain_with(ctx, x, plain, dict, slotnames, defer);
    }
    Py_XDECREF(dict);
    return y;
}

/* OWN_REDUCE: rv = type(x).__reduce__(x), unless an instance attribute
 * shadows one of the names stdlib looks up on the way (then NULL without an
 * exception: the full protocol). */
static PyObject *
copy_own_reduce(fdc_ctx *ctx, PyObject *x, unsigned int version)
{
    PyTypeObject *tp = Py_TYPE(x);
    PyObject *dict = instance_dict(x);
    if (dict == NULL && PyErr_Occurred()) {
        return NULL;
    }
    int shadow = dict ? dict_shadows_hooks(dict, FDC.s_reduce) : 0;
    Py_XDECREF(dict);
    if (shadow != 0) {
        return NULL;   /* -1: the error stands; 1: the full protocol */
    }
    /* the key comparisons of those lookups may have run user code */
    if (Py_TYPE(x) != tp || !fdc_type_version_unchanged(tp, version)) {
        return NULL;
    }
    PyObject *f = _PyType_Lookup(tp, FDC.s_reduce);
    if (f == NULL || !Py_IS_TYPE(f, &PyFunction_Type)) {
        return NULL;
    }
    FDC_STATS.reduce_calls++;
    Py_INCREF(f);
    PyObject *rv = PyObject_Vectorcall(f, &x, 1, NULL);
    Py_DECREF(f);
    if (rv == NULL) {
        return NULL;
    }
    PyObject *y = fdc_copy_from_reduce_value(ctx, x, rv, 1);
    Py_DECREF(rv);
    return y;
}

/* copyreg.__newobj__(cls, *items): cls.__new__(cls, *items), looked up now */
static PyObject *
call_class_new(PyTypeObject *tp, PyObject *items)
{
    PyObject *new = PyObject_GetAttr((PyObject *)tp, FDC.s_new);
    if (new == NULL) {
        return NULL;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(items);
    PyObject *args = PyTuple_New(n + 1);
    if (args == NULL) {
        Py_DECREF(new);
        return NULL;
    }
    PyTuple_SET_ITEM(args, 0, Py_NewRef(tp));
    for (Py_ssize_t i = 0; i < n; i++) {
        PyTuple_SET_ITEM(args, i + 1, Py_NewRef(PyTuple_GET_ITEM(items, i)));
    }
    PyObject *y = PyObject_Call(new, args, NULL);
    Py_DECREF(args);
    Py_DECREF(new);
    return y;
}

/* A namedtuple: (copyreg.__newobj__, (cls, *x), None) rebuilt as stdlib
 * would, with cls.__new__(cls, *args) being tuple.__new__(cls, args) while the
 * class is as it was decided (`version`): copying the items may run user code
 * that changes it. */
static PyObject *
copy_namedtuple(fdc_ctx *ctx, PyObject *x, Py_ssize_t nfields, unsigned int version)
{
    Py_ssize_t n = PyTuple_GET_SIZE(x);
    PyObject *dict = instance_dict(x);
    if (dict != NULL || PyErr_Occurred() || n != nfields) {
        /* instance attributes (a subclass without __slots__), or a length the
         * generated __new__ would reject: the full protocol */
        Py_XDECREF(dict);
        return PyErr_Occurred() ? NULL : fdc_copy_via_reduce(ctx, x, 1);
    }
    /* args = (cls, *x) copied one by one: cls is atomic */
    PyObject *items = PyTuple_New(n);
    if (items == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *c = fdc_deepcopy_rec(ctx, PyTuple_GET_ITEM(x, i));
        if (c == NULL) {
            Py_DECREF(items);
            return NULL;
        }
        PyTuple_SET_ITEM(items, i, c);
    }
    /* (x is a tuple: its class cannot have been reassigned) */
    PyTypeObject *tp = Py_TYPE(x);
    PyObject *y;
    if (fdc_type_version_unchanged(tp, version)) {
        PyObject *targs = PyTuple_Pack(1, items);
        y = targs ? PyTuple_Type.tp_new(tp, targs, NULL) : NULL;
        Py_XDECREF(targs);
    }
    else {
        y = call_class_new(tp, items);
    }
    Py_DECREF(items);
    if (y != NULL && fdc_memo_set(ctx, x, y) < 0) {
        Py_CLEAR(y);
    }
    return y;
}

/* For classes whose __deepcopy__ is `return self` (enum members): x itself
 * when that applies, else NULL (no exception set unless one occurred).
 * Cheap: no recursion guard is needed, no user code runs. */
PyObject *
fdc_copy_self_kind(PyObject *x, int *pure)
{
    PyTypeObject *tp = Py_TYPE(x);
    typecache_entry *e = current_entry(tp);
    if (e == NULL || e->kind != FDC_KIND_SELF || !fdc_self_hook_holds(&e->hook, tp)) {
        *pure = 1;
        return NULL;
    }
    int applies = self_applies(x, pure);
    return applies > 0 ? Py_NewRef(x) : NULL;
}

/* setattr(y, name, value) when y's class is a PLAIN class of the type cache and
 * `name` (the very string of its __slotnames__) is one of its __slots__
 * members: 1 done, 0 not applicable (nothing done).  *hint: where to start
 * looking (0 at first; updated). */
static int
set_plain_slot(PyObject *y, PyObject *name, PyObject *value, Py_ssize_t *hint)
{
    PyTypeObject *tp = Py_TYPE(y);
    typecache_entry *e = current_entry(tp);
    if (e == NULL || e->kind != FDC_KIND_PLAIN || e->offsets == NULL) {
        return 0;
    }
    /* the names come in __slotnames__ order: search on from the last one */
    Py_ssize_t n = PyTuple_GET_SIZE(e->offset_names);
    for (Py_ssize_t k = 0; k < n; k++) {
        Py_ssize_t i = (*hint + k) % n;
        if (PyTuple_GET_ITEM(e->offset_names, i) == name) {
            /* what the member descriptor's __set__ does */
            PyObject **field = (PyObject **)((char *)y + e->offsets[i]);
            PyObject *old = *field;
            *field = Py_NewRef(value);
            *hint = i + 1;
            Py_XDECREF(old);
            return 1;
        }
    }
    return 0;
}

/* Should this instance's state be offered to pending.c?  Yes, unless its
 * class's instances kept failing the test: then one in FDC_DEFER_RETRY. */
static int
defer_worth_trying(typecache_entry *e)
{
    if (e->defer_misses < FDC_DEFER_MISSES) {
        return 1;
    }
    e->defer_skipped++;
    return e->defer_skipped % FDC_DEFER_RETRY == 0;
}

int
fdc_setattr_plain(PyObject *y, PyObject *name, PyObject *value, Py_ssize_t *hint)
{
    int r = set_plain_slot(y, name, value, hint);
    return r > 0 ? 0 : PyObject_SetAttr(y, name, value);
}

PyObject *
fdc_copy_known_class(fdc_ctx *ctx, PyObject *x, int *hook)
{
    *hook = 0;
    typecache_entry *e = type_entry(Py_TYPE(x));
    if (e == NULL) {
        return NULL;
    }
    /* The entry is read once, here: user code run below (an instance dict
     * key's __eq__, a copy) may reuse it for another class. */
    int kind = e->kind;
    if (kind == FDC_KIND_HOOK) {
        *hook = 1;
        return NULL;
    }
    Py_ssize_t nfields = e->nfields;
    unsigned int version = e->version;
    if (kind == FDC_KIND_OWN_REDUCE) {
        /* (the memo, of any kind, sees the same operations as on the full road) */
        return copy_own_reduce(ctx, x, version);
    }
    if (ctx->native == NULL && kind != FDC_KIND_SELF) {
        /* A Python memo sees every lookup stdlib makes (even of the class in
         * the reduce args): take the full protocol. */
        return NULL;
    }
    if (kind == FDC_KIND_PLAIN) {
        PyTypeObject *tp = (PyTypeObject *)Py_NewRef(Py_TYPE(x));
        int deferred = defer_worth_trying(e);
        int tried = deferred;
        PyObject *slotnames = Py_NewRef(e->slotnames);
        fdc_plain_class plain = {tp, version, (int)nfields};
        PyObject *y = copy_plain(ctx, x, &plain, slotnames, &deferred);
        Py_DECREF(slotnames);
        if (tried && deferred >= 0 && e->type == tp && e->version == version) {
            /* (the copy may have run user code: still the entry of this class?) */
            if (deferred) {
                e->defer_misses = 0;
            }
            else if (e->defer_misses < FDC_DEFER_MISSES) {
                e->defer_misses++;
            }
        }
        Py_DECREF(tp);
        return y;
    }
    if (kind == FDC_KIND_SELF) {
        if (!fdc_self_hook_holds(&e->hook, Py_TYPE(x))) {
            return NULL;   /* the full protocol calls the hook */
        }
        int pure;
        int applies = self_applies(x, &pure);
        return applies > 0 ? Py_NewRef(x) : NULL;   /* 0: the full protocol */
    }
    if (kind == FDC_KIND_NAMEDTUPLE) {
        return copy_namedtuple(ctx, x, nfields, version);
    }
    if (kind == FDC_KIND_DATETIME) {
        PyObject *y = fdc_copy_datetime(ctx, x, (int)nfields);
        /* _reconstruct stores memo[id(x)] = y even when y is x (a cached
         * singleton such as 3.13's timedelta(0)) */
        if (y == x && fdc_memo_set(ctx, x, y) < 0) {
            Py_CLEAR(y);
        }
        return y;
    }
    return NULL;
}
