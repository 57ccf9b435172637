/* deepcopy.c — the recursion of copy.deepcopy: entry, memo, per-object dispatch.
 *
 * Mirrors Lib/copy.py's deepcopy() branch by branch:
 *   (3.14+: cls in _atomic_types ->) memo lookup -> copy._deepcopy_dispatch ->
 *   classes are atomic ->
 *   __deepcopy__ -> copyreg.dispatch_table / __reduce_ex__(4) / __reduce__ ->
 *   memo[id(x)] = y and the keep-alive, when y is not x.
 *
 * The memo is native (memo.c) until Python code needs to see it (a __deepcopy__
 * method, a user entry of the dispatch table, a caller-supplied memo); from then
 * on the context works on a real dict with exactly stdlib's operations.
 */
#include "fdc.h"

fdc_stats_t FDC_STATS;

/* ---- memo operations ------------------------------------------------------ */

/* Append to an existing keep-alive container: 0 ok, 1 KeyError raised, -1 error. */
static int
append_kept(PyObject *kept, PyObject *x)
{
    int r;
    if (PyList_CheckExact(kept)) {
        r = PyList_Append(kept, x);
    }
    else {
        PyObject *res = PyObject_CallMethodOneArg(kept, FDC.s_append, x);
        r = res ? 0 : -1;
        Py_XDECREF(res);
    }
    if (r < 0 && PyErr_ExceptionMatches(PyExc_KeyError)) {
        PyErr_Clear();
        return 1;
    }
    return r;
}

/* _keep_alive on a mirrored memo: the list memo[id(memo)] is remembered while
 * the dict does not change.  1: the mirror cannot serve (use the dict). */
static int
mirror_keep_alive(fdc_ctx *ctx, PyObject *x)
{
    fdc_mirror *m = ctx->mirror;
    int r = fdc_mirror_check(m);
    if (r != 0) {
        return r;
    }
    if (m->kept == NULL) {
        PyObject *kept;
        if (fdc_mirror_lookup(m, m->dict, &kept) == 2) {
            /* the dict's keys are ints and strs: the lookup runs no user code */
            kept = PyDict_GetItemWithError(m->dict, ctx->pymemo_id);
            if (kept == NULL && PyErr_Occurred()) {
                return -1;
            }
        }
        if (kept == NULL) {
            PyObject *list = PyList_New(1);
            if (list == NULL) {
                return -1;
            }
            PyList_SET_ITEM(list, 0, Py_NewRef(x));
            r = fdc_mirror_setitem(m, m->dict, m->dict_id, list);
            Py_DECREF(list);
            return r;
        }
        if (!PyList_CheckExact(kept)) {
            return 1;
        }
        m->kept = kept;
    }
    return PyList_Append(m->kept, x);
}

static int
pymemo_keep_alive(fdc_ctx *ctx, PyObject *x)
{
    /* try: memo[id(memo)].append(x)
     * except KeyError: memo[id(memo)] = [x] */
    PyObject *memo = ctx->pymemo, *key = ctx->pymemo_id;
    PyObject *kept;
    if (ctx->pymemo_exact) {
        kept = Py_XNewRef(PyDict_GetItemWithError(memo, key));
        if (kept == NULL && PyErr_Occurred()) {
            return -1;
        }
    }
    else {
        kept = PyObject_GetItem(memo, key);
        if (kept == NULL) {
            if (!PyErr_ExceptionMatches(PyExc_KeyError)) {
                return -1;
            }
            PyErr_Clear();
        }
    }
    if (kept != NULL) {
        int r = append_kept(kept, x);
        Py_DECREF(kept);
        if (r <= 0) {
            return r;
        }
    }
    PyObject *list = PyList_New(1);
    if (list == NULL) {
        return -1;
    }
    Py_INCREF(x);
    PyList_SET_ITEM(list, 0, x);
    int r = PyObject_SetItem(memo, key, list);
    Py_DECREF(list);
    return r;
}

#if FDC_MEMO_CONTAINS
/* if d in memo: return memo[d] -- new reference, or NULL (with an exception
 * on error) */
static PyObject *
pymemo_lookup(fdc_ctx *ctx, PyObject *key)
{
    if (ctx->pymemo_exact) {
        int found = PyDict_Contains(ctx->pymemo, key);
        if (found <= 0) {
            return NULL;
        }
        PyObject *v = PyDict_GetItemWithError(ctx->pymemo, key);
        if (v == NULL && !PyErr_Occurred()) {
            /* (a key's __eq__ removed it in between) */
            PyErr_SetObject(PyExc_KeyError, key);
        }
        return Py_XNewRef(v);
    }
    int found = PySequence_Contains(ctx->pymemo, key);
    if (found <= 0) {
        return NULL;
    }
    return PyObject_GetItem(ctx->pymemo, key);
}
#else
/* y = memo.get(d, _nil); if y is not _nil: return y -- new reference, or NULL
 * (with an exception on error) */
static PyObject *
pymemo_lookup(fdc_ctx *ctx, PyObject *key)
{
    PyObject *v;
    if (ctx->pymemo_exact) {
        v = Py_XNewRef(PyDict_GetItemWithError(ctx->pymemo, key));
    }
    else {
        v = PyObject_CallMethodObjArgs(ctx->pymemo, FDC.s_get, key, ctx->nil, NULL);
    }
    if (v == ctx->nil) {
        Py_CLEAR(v);
    }
    return v;
}
#endif

int
fdc_memo_get(fdc_ctx *ctx, PyObject *x, PyObject **result)
{
    if (ctx->native != NULL) {
        size_t hash = fdc_memo_hash(x);
        PyObject *v = fdc_memo_lookup(ctx->native, x, hash);
        if (v == NULL) {
            return 0;
        }
        *result = fdc_memo_hit_ref(ctx->native, x, hash, v);
        return *result != NULL ? 1 : -1;
    }
    if (ctx->mirror != NULL) {
        int r = fdc_mirror_check(ctx->mirror);
        if (r < 0) {
            return -1;
        }
        PyObject *v;
        int found = r == 0 ? fdc_mirror_lookup(ctx->mirror, x, &v) : 2;
        if (found == 0 || (found == 1 && v == ctx->nil)) {
            return 0;
        }
        if (found == 1) {
            *result = Py_NewRef(v);
            return 1;
        }
        /* only the dict can tell */
    }
    PyObject *key = PyLong_FromVoidPtr(x);
    if (key == NULL) {
        return -1;
    }
    PyObject *v = pymemo_lookup(ctx, key);
    Py_DECREF(key);
    if (v == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    *result = v;
    return 1;
}

int
fdc_memo_set(fdc_ctx *ctx, PyObject *x, PyObject *y)
{
    if (ctx->native != NULL) {
        return fdc_memo_store(ctx->native, x, fdc_memo_hash(x), y);
    }
    if (ctx->mirror != NULL) {
        int r = fdc_mirror_check(ctx->mirror);
        if (r <= 0) {
            return r < 0 ? -1 : fdc_mirror_setitem(ctx->mirror, x, NULL, y);
        }
    }
    PyObject *key = PyLong_FromVoidPtr(x);
    if (key == NULL) {
        return -1;
    }
    int r = ctx->pymemo_exact ? PyDict_SetItem(ctx->pymemo, key, y)
                              : PyObject_SetItem(ctx->pymemo, key, y);
    Py_DECREF(key);
    return r;
}

int
fdc_memo_keep_alive(fdc_ctx *ctx, PyObject *x)
{
    if (ctx->native != NULL) {
        return fdc_memo_keep(ctx->native, x);
    }
    if (ctx->mirror != NULL) {
        int r = mirror_keep_alive(ctx, x);
        if (r <= 0) {
            return r;
        }
    }
    return pymemo_keep_alive(ctx, x);
}

static void
release_native(fdc_ctx *ctx)
{
    fdc_memo *m = ctx->native;
    ctx->native = NULL;
    if (m == NULL) {
        return;
    }
    if (ctx->owns_native == FDC_NATIVE_CACHED) {
        fdc_memo_clear(m);
        ctx->ts->memo_in_use = 0;
    }
    else if (ctx->owns_native == FDC_NATIVE_TEMP) {
        fdc_memo_free(m);
        PyMem_Free(m);
    }
    ctx->owns_native = 0;
}

static void
remember_exposed_len(fdc_tstate *ts, Py_ssize_t len)
{
    ts->exposed_len[0] = ts->exposed_len[1];
    ts->exposed_len[1] = len;
}

/* The most room a memo dict is made with (about 100 KiB): past it, a dict
 * that grows costs time in proportion to what the call stores in it, and a
 * wrong guess costs a small call at most this much. */
#define FDC_EXPOSED_ROOM_MAX 4096

/* Room for the entries a memo dict about to be handed out is expected to
 * get: as many as the smaller of the last two reached on this thread (the
 * resizes of a growing dict are most of its cost; the smaller of two keeps
 * one big call from inflating the memos of the small calls after it). */
static Py_ssize_t
expected_exposed_len(const fdc_tstate *ts)
{
    Py_ssize_t a = ts->exposed_len[0], b = ts->exposed_len[1];
    Py_ssize_t room = a < b ? a : b;
    return room < FDC_EXPOSED_ROOM_MAX ? room : FDC_EXPOSED_ROOM_MAX;
}

PyObject *
fdc_memo_expose(fdc_ctx *ctx)
{
    if (ctx->pymemo != NULL) {
        return ctx->pymemo;
    }
    /* (the snapshots first: one may be built from a stand-in's entry) */
    if (fdc_memo_resolve_all(ctx->native) < 0 || fdc_memo_build_standins(ctx->native) < 0) {
        return NULL;
    }
    PyObject *id;
    PyObject *d = fdc_memo_to_dict(ctx->native, expected_exposed_len(ctx->ts), &id);
    if (d == NULL) {
        return NULL;
    }
    ctx->pymemo = d;
    ctx->pymemo_id = id;
    ctx->pymemo_exact = 1;
    FDC_STATS.memo_exposed++;
    fdc_mirror *m = &ctx->ts->mirror;
    if (m->dict != NULL) {
        /* this thread already mirrors another memo: plain dict from now on */
        release_native(ctx);
        return d;
    }
    /* From now on the native table is the dict's index (ctx_finish ends it). */
    ctx->mirror = m;
    ctx->mirror_index = ctx->native;
    ctx->native = NULL;
    if (fdc_mirror_start(m, d, id, ctx->mirror_index) < 0) {
        return NULL;
    }
    return d;
}

/* ---- per-object dispatch -------------------------------------------------- */

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

static PyObject *
call_with_memo(fdc_ctx *ctx, PyObject *func, PyObject *x)
{
    PyObject *memo = fdc_memo_expose(ctx);
    if (memo == NULL) {
        return NULL;
    }
    Py_INCREF(memo);   /* the call may replace nothing of ours, but be safe */
    PyObject *y = x ? PyObject_CallFunctionObjArgs(func, x, memo, NULL)
                    : PyObject_CallOneArg(func, memo);
    Py_DECREF(memo);
    return y;
}

static PyObject *
copy_generic(fdc_ctx *ctx, PyObject *x, PyTypeObject *tp)
{
    int hook = 0;
    if (FDC.atomic_ok) {
        /* (the per-class decisions take the atomic types as atomic: a class
         * in a reduce value's args, the atomic values of a state) */
        PyObject *y = fdc_copy_known_class(ctx, x, &hook);
        if (y != NULL || PyErr_Occurred()) {
            return y;
        }
    }
    PyObject *y;
    PyObject *copier;
    if (!hook) {
        /* copier = _deepcopy_dispatch.get(cls); if copier is not None: ... */
        copier = fdc_table_get(FDC.deepcopy_dispatch, "_deepcopy_dispatch", (PyObject *)tp);
        if (copier == Py_None) {
            Py_CLEAR(copier);
        }
        if (copier != NULL) {
            FDC_STATS.hook_dispatch++;
            y = call_with_memo(ctx, copier, x);
            Py_DECREF(copier);
            return y;
        }
        if (PyErr_Occurred()) {
            return NULL;
        }
        if (PyType_IsSubtype(tp, &PyType_Type)) {
            return Py_NewRef(x);
        }
    }
    if (fdc_lookup_attr(x, FDC.s_deepcopy, &copier) < 0) {
        return NULL;
    }
    if (copier == Py_None) {   /* getattr(x, "__deepcopy__", None) is None */
        Py_CLEAR(copier);
    }
    if (copier != NULL) {
        FDC_STATS.hook_deepcopy++;
        /* (a method that never reads the memo is not given one made for it) */
        y = fdc_hook_ignores_memo(copier, x) ? PyObject_CallOneArg(copier, Py_None)
                                             : call_with_memo(ctx, copier, NULL);
        Py_DECREF(copier);
        return y;
    }
    return fdc_copy_via_reduce(ctx, x, 1);
}

/* *stored tells whether the copier already did memo[id(x)] = y. */
static PyObject *
copy_by_type(fdc_ctx *ctx, PyObject *x, PyTypeObject *tp, int *stored)
{
#if FDC_ATOMIC_SET
    if (!FDC.atomic_ok && ctx->native != NULL) {
        /* copy._atomic_types was changed: ask it (a Python memo asked it
         * before its lookup) */
        int atomic = fdc_in_atomic_set(tp);
        if (atomic != 0) {
            return atomic > 0 ? Py_NewRef(x) : NULL;
        }
    }
#endif
    if (tp == &PyList_Type && FDC.list_ok) {
        return fdc_copy_list(ctx, x, stored);
    }
    if (tp == &PyDict_Type && FDC.dict_ok) {
        return fdc_copy_dict(ctx, x, stored);
    }
    if (tp == &PyTuple_Type && FDC.tuple_ok) {
        return fdc_copy_tuple(ctx, x);
    }
    if ((tp == &PySet_Type && FDC.set_ok) || (tp == &PyFrozenSet_Type && FDC.frozenset_ok)) {
        return fdc_copy_set(ctx, x);
    }
    if (tp == &PyByteArray_Type && FDC.bytearray_ok && ctx->native != NULL) {
        return fdc_copy_bytearray(ctx, x);
    }
    if (tp == &PyMethod_Type && FDC.method_ok) {
        return fdc_copy_method(ctx, x);
    }
#if FDC_FROZENDICT
    if (tp == &PyFrozenDict_Type && FDC.frozendict_ok) {
        return fdc_copy_frozendict(ctx, x);
    }
#endif
    if (FDC.atomic_ok && fdc_is_atomic_type(tp)) {
        return Py_NewRef(x);
    }
    return copy_generic(ctx, x, tp);
}

/* memo[id(x)] = y; _keep_alive(x, memo) -- the end of stdlib's deepcopy(). */
/* Is memo[id(x)] certainly still y, as the copier stored it when the mirror
 * had caught up `resyncs` times?  Then storing it again changes nothing.
 * 1 yes, 0 no, -1 error. */
static int
mirror_still_holds(fdc_ctx *ctx, uint64_t resyncs)
{
    fdc_mirror *m = ctx->mirror;
    if (m == NULL) {
        return 0;
    }
    int r = fdc_mirror_check(m);
    if (r < 0) {
        return -1;
    }
    return r == 0 && m->resyncs == resyncs;
}

static int
memoize_copy(fdc_ctx *ctx, PyObject *x, PyObject *y, int stored, uint64_t resyncs)
{
    if (ctx->native == NULL) {
        /* a Python memo sees every store, the repeated one included -- except
         * on a mirrored dict where only we wrote since: there it is a no-op */
        int holds = stored ? mirror_still_holds(ctx, resyncs) : 0;
        if (holds < 0 || (!holds && fdc_memo_set(ctx, x, y) < 0)) {
            return -1;
        }
        return fdc_memo_keep_alive(ctx, x);
    }
    if (ctx->depth == 0) {
        /* the object the call was made for: its copy is finished, and a
         * native memo is dropped unseen when the call returns */
        return 0;
    }
    if (!stored && fdc_memo_set(ctx, x, y) < 0) {
        return -1;
    }
    return fdc_memo_keep_alive(ctx, x);
}

/* Everything after the memo lookup missed: copy, then memoize as stdlib does. */
PyObject *
fdc_copy_and_memoize(fdc_ctx *ctx, PyObject *x)
{
    if (fdc_may_copy_as_self(Py_TYPE(x))) {
        /* enum members and the like: their own copy, decided per class */
        int pure;
        PyObject *self = fdc_copy_self_kind(x, &pure);
        if (self != NULL || PyErr_Occurred()) {
            return self;
        }
    }
    return fdc_copy_not_self(ctx, x);
}

static PyObject *copy_not_self_here(fdc_ctx *ctx, PyObject *x);

PyObject *
fdc_copy_not_self(fdc_ctx *ctx, PyObject *x)
{
    if (fdc_stack_low(ctx)) {
        return fdc_call_on_segment(ctx, x, copy_not_self_here);
    }
    return copy_not_self_here(ctx, x);
}

static PyObject *
copy_not_self_here(fdc_ctx *ctx, PyObject *x)
{
    if (fdc_enter_level(ctx) < 0) {
        return NULL;
    }
    int stored = 0;
    uint64_t resyncs = ctx->mirror != NULL ? ctx->mirror->resyncs : 0;
    PyObject *y = copy_by_type(ctx, x, Py_TYPE(x), &stored);
    fdc_leave_level(ctx);
#ifdef FDC_DEBUG
    if (y != NULL && PyErr_Occurred()) {
        fprintf(stderr, "fastdeepcopy: stray exception after copying a %s\n", Py_TYPE(x)->tp_name);
        abort();
    }
#endif
    if (y == NULL) {
        return NULL;
    }
    if (y != x && memoize_copy(ctx, x, y, stored, resyncs) < 0) {
        Py_DECREF(y);
        return NULL;
    }
    /* User code may have changed the dispatch tables. */
    if (fdc_env_refresh() < 0) {
        Py_DECREF(y);
        return NULL;
    }
    return y;
}

/* The recursion on a Python memo: memo lookup first for every object, as
 * stdlib does (a caller may have stored anything under any id). */
PyObject *
fdc_deepcopy_rec_pymemo(fdc_ctx *ctx, PyObject *x)
{
    FDC_STATS.objects++;
#if FDC_ATOMIC_SET
    /* if cls in _atomic_types: return x -- before the memo */
    int atomic = FDC.atomic_ok ? fdc_is_atomic_type(Py_TYPE(x)) : fdc_in_atomic_set(Py_TYPE(x));
    if (atomic != 0) {
        return atomic > 0 ? Py_NewRef(x) : NULL;
    }
#endif
    PyObject *hit;
    int r = fdc_memo_get(ctx, x, &hit);
    if (r != 0) {
        return r > 0 ? hit : NULL;
    }
#if !FDC_ATOMIC_SET
    if (FDC.atomic_ok && fdc_is_atomic_type(Py_TYPE(x))) {
        return Py_NewRef(x);
    }
#endif
    return fdc_copy_and_memoize(ctx, x);
}

#if FDC_ATOMIC_SET
int
fdc_in_atomic_set(PyTypeObject *tp)
{
    if (FDC.atomic_types == NULL) {
        PyErr_SetString(PyExc_NameError, "name '_atomic_types' is not defined");
        return -1;
    }
    return PySequence_Contains(FDC.atomic_types, (PyObject *)tp);
}
#endif

/* ---- top-level entry ------------------------------------------------------ */

static void
ctx_finish(fdc_ctx *ctx)
{
    if (ctx->mirror_index != NULL) {
        remember_exposed_len(ctx->ts, PyDict_GET_SIZE(ctx->mirror->dict));
        ctx->native = fdc_mirror_stop(ctx->mirror);
        ctx->mirror_index = NULL;
    }
    ctx->mirror = NULL;
    release_native(ctx);
    Py_CLEAR(ctx->pymemo);
    Py_CLEAR(ctx->pymemo_id);
}

static int
ctx_start_native(fdc_ctx *ctx)
{
    fdc_tstate *ts = ctx->ts;
    if (!ts->memo_in_use) {
        ts->memo_in_use = 1;
        ctx->native = &ts->memo;
        ctx->owns_native = FDC_NATIVE_CACHED;
        return 0;
    }
    /* A copy is already running on this thread (we were called from a hook
     * without a memo): use an independent, temporary memo. */
    fdc_memo *m = PyMem_Malloc(sizeof(fdc_memo));
    if (m == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    fdc_memo_init(m);
    ctx->native = m;
    ctx->owns_native = FDC_NATIVE_TEMP;
    return 0;
}

static int
ctx_start_python(fdc_ctx *ctx, PyObject *memo)
{
    fdc_mirror *m = &ctx->ts->mirror;
    if (m->dict == memo && !m->broken) {
        /* a __deepcopy__ passing on the memo it was given */
        ctx->mirror = m;
        ctx->pymemo = Py_NewRef(memo);
        ctx->pymemo_id = Py_NewRef(m->dict_id);
        ctx->pymemo_exact = 1;
        return 0;
    }
    PyObject *id = PyLong_FromVoidPtr(memo);
    if (id == NULL) {
        return -1;
    }
    ctx->pymemo = Py_NewRef(memo);
    ctx->pymemo_id = id;
    ctx->pymemo_exact = PyDict_CheckExact(memo);
    return 0;
}

PyObject *
fdc_deepcopy_entry(PyObject *x, PyObject *memo, PyObject *nil)
{
    FDC_STATS.calls++;
    if (fdc_env_refresh() < 0) {
        return NULL;
    }
    int no_memo = (memo == NULL || memo == Py_None);
    if (no_memo && fdc_is_common_atomic_type(Py_TYPE(x)) && FDC.atomic_ok) {
        return Py_NewRef(x);
    }
    if (no_memo) {
        /* a list or dict of atomic values and a few flat containers: no memo */
        PyObject *y = fdc_copy_flat_root(x);
        if (y != NULL || PyErr_Occurred()) {
            FDC_STATS.toplevel++;
            FDC_STATS.errors += (y == NULL);
            return y;
        }
    }
    fdc_ctx ctx = {0};
#if FDC_MEMO_CONTAINS
    ctx.nil = NULL;   /* (no _nil: a memo hit is `d in memo`) */
#else
    ctx.nil = nil ? nil : FDC.nil;
#endif
    ctx.ts = fdc_tstate_get();
    if (ctx.ts == NULL) {
        return NULL;
    }
    fdc_levels_start(ctx.ts);
    int r;
    if (no_memo) {
        FDC_STATS.toplevel++;
        r = ctx_start_native(&ctx);
    }
    else {
        r = ctx_start_python(&ctx, memo);
    }
    if (r < 0) {
        return NULL;
    }
    PyObject *y = fdc_deepcopy_rec(&ctx, x);
    ctx_finish(&ctx);
    if (y == NULL) {
        FDC_STATS.errors++;
    }
    return y;
}
