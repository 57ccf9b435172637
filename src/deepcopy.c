/* deepcopy.c — the recursion of copy.deepcopy: entry and per-object dispatch.
 *
 * Mirrors Lib/copy.py's deepcopy() branch by branch:
 *   (3.14+: cls in _atomic_types ->) memo lookup -> copy._deepcopy_dispatch ->
 *   classes are atomic ->
 *   __deepcopy__ -> copyreg.dispatch_table / __reduce_ex__(4) / __reduce__ ->
 *   memo[id(x)] = y and the keep-alive, when y is not x.
 *
 * The memo operations (memoctx.c) hide whether the memo is native, a mirrored
 * dict or a caller's mapping; the copiers (containers.c, reduce.c,
 * typecache.c, ...) call them and this file's recursion for their items.
 */
#include "fdc.h"

fdc_stats_t FDC_STATS;

/* ---- per-object dispatch -------------------------------------------------- */

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
static int
memoize_copy(fdc_ctx *ctx, PyObject *x, PyObject *y, int stored, uint64_t resyncs)
{
    if (ctx->native == NULL) {
        /* a Python memo sees every store, the repeated one included -- except
         * on a mirrored dict where only we wrote since: there it is a no-op */
        int holds = stored ? fdc_mirror_still_holds(ctx, resyncs) : 0;
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
        r = fdc_ctx_start_native(&ctx);
    }
    else {
        r = fdc_ctx_start_python(&ctx, memo);
    }
    if (r < 0) {
        return NULL;
    }
    PyObject *y = fdc_deepcopy_rec(&ctx, x);
    fdc_ctx_finish(&ctx);
    if (y == NULL) {
        FDC_STATS.errors++;
    }
    return y;
}
