/* memoctx.c — the copy's memo, one interface over its three forms.
 *
 * A copy's memo is native (memo.c: a pointer-keyed table with its keep-alive
 * array and pending snapshots, pending.c) until Python code needs to see it;
 * then a real dict, whose native index follows it (mirror.c); or, from the
 * start, a caller's memo (any mapping).  fdc_memo_get/set/keep_alive do
 * stdlib's memo[d] lookups and stores on whichever it is, fdc_memo_expose
 * turns a native memo into the dict, and the fdc_ctx_* functions set a
 * context's memo up and down.  The copiers use nothing else of the memo.
 */
#include "fdc.h"


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

/* Is memo[id(x)] certainly still y, as the copier stored it when the mirror
 * had caught up `resyncs` times?  Then storing it again changes nothing.
 * 1 yes, 0 no, -1 error. */
int
fdc_mirror_still_holds(fdc_ctx *ctx, uint64_t resyncs)
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

void
fdc_ctx_finish(fdc_ctx *ctx)
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

int
fdc_ctx_start_native(fdc_ctx *ctx)
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

int
fdc_ctx_start_python(fdc_ctx *ctx, PyObject *memo)
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
