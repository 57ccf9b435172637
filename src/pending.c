/* pending.c — the state dict of a plain instance, put off until someone looks.
 *
 * stdlib copies an instance x of a plain class (object.__reduce_ex__, no
 * __setstate__) as
 *
 *     y = cls.__new__(cls); memo[id(x)] = y
 *     state = deepcopy(x.__dict__, memo)     # memo[id(x.__dict__)] = state,
 *                                            # then x.__dict__ kept alive
 *     y.__dict__.update(state)
 *
 * `state` is a temporary: afterwards it lives on only as a memo value.  While
 * the memo is native, no user code has seen it; when copying the values of
 * x.__dict__ runs no user code either (each is its own copy or a flat
 * container), the items go straight into y.__dict__ and the memo entry holds a
 * snapshot (a private object, never seen outside) of the keys and their copies.
 * The dict stdlib holds there is built from it the moment anyone could see it:
 * when the memo is handed to user code (fdc_memo_resolve_all, before the memo
 * becomes a dict), or when x.__dict__ is met again (a memo hit on the entry,
 * fdc_pending_resolve).  It then has the same keys, values and order as
 * stdlib's; nothing could have changed it in between, since nothing held it.
 */
#include "fdc.h"
#include <stddef.h>
#include <string.h>

/* States of more items than this take stdlib's way (a scan buffer's worth). */
#define FDC_PENDING_MAX 16

/* A snapshot: ob_size (key, copy) pairs, owned.  Not tracked by the GC: it
 * holds str keys and flat values, which cannot lead back to it. */
typedef struct {
    PyObject_VAR_HEAD
    PyObject *items[1];   /* k0, v0, k1, v1, ... */
} pending_object;

static void
pending_dealloc(PyObject *self)
{
    pending_object *p = (pending_object *)self;
    for (Py_ssize_t i = 0; i < 2 * Py_SIZE(p); i++) {
        Py_XDECREF(p->items[i]);
    }
    PyObject_Free(self);
}

PyTypeObject fdc_PendingType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "fastdeepcopy._engine.pending_state",
    .tp_basicsize = offsetof(pending_object, items),
    .tp_itemsize = 2 * sizeof(PyObject *),
    .tp_dealloc = pending_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "a state dict not built yet (internal to the native memo)",
};

/* A new snapshot of n pairs, all slots empty. */
static PyObject *
pending_new(Py_ssize_t n)
{
    pending_object *p = PyObject_NewVar(pending_object, &fdc_PendingType, n);
    if (p == NULL) {
        return NULL;
    }
    memset(p->items, 0, sizeof(PyObject *) * 2 * (size_t)n);
    return (PyObject *)p;
}

/* x.__dict__'s items (borrowed), when copying them runs no user code: str
 * keys, flat values, dicts copied by the native copier.  Returns the number
 * of items read into keys/values, or -1 when not applicable. */
static Py_ssize_t
read_flat_state(PyObject *sx, PyObject **keys, PyObject **values)
{
    if (!PyDict_CheckExact(sx) || PyDict_GET_SIZE(sx) > FDC_PENDING_MAX ||
        !FDC.dict_ok || !FDC.atomic_ok) {
        return -1;
    }
    int tuple_ok = FDC.tuple_ok;
    Py_ssize_t pos = 0, n = 0;
    PyObject *key, *value;
    while (PyDict_Next(sx, &pos, &key, &value)) {
        if (!PyUnicode_CheckExact(key) || !fdc_is_flat_value(value, tuple_ok)) {
            return -1;
        }
        keys[n] = key;
        values[n] = value;
        n++;
    }
    return n;
}

/* The copies of the items, into y.__dict__ and the snapshot, in order. */
static int
fill_state(fdc_ctx *ctx, PyObject *const *keys, PyObject *const *values, Py_ssize_t n,
           PyObject *ydict, pending_object *snapshot)
{
    FDC_STATS.objects += 1 + 2 * (uint64_t)n;   /* the state dict, its keys and values */
    for (Py_ssize_t i = 0; i < n; i++) {
        /* deepcopy(value), then deepcopy(key): a str, its own copy */
        FDC_STATS.objects--;   /* counted again by the recursion */
        PyObject *c = fdc_deepcopy_rec(ctx, values[i]);
        if (c == NULL) {
            return -1;
        }
        snapshot->items[2 * i] = Py_NewRef(keys[i]);
        snapshot->items[2 * i + 1] = c;
        if (PyDict_SetItem(ydict, keys[i], c) < 0) {
            return -1;
        }
    }
    return 0;
}

int
fdc_copy_state_deferred(fdc_ctx *ctx, PyObject *x, PyObject *y, PyObject *sx)
{
    fdc_memo *m = ctx->native;
    PyObject *keys[FDC_PENDING_MAX], *values[FDC_PENDING_MAX];
    Py_ssize_t n = m != NULL ? read_flat_state(sx, keys, values) : -1;
    if (n < 0 || fdc_memo_lookup(m, sx, fdc_memo_hash(sx)) != NULL) {
        return 0;   /* not applicable (a hit: the dict exists, or will) */
    }
    /* (nothing below runs user code: sx, keys and values stay as read) */
    PyObject *snapshot = pending_new(n);
    if (snapshot == NULL) {
        return -1;
    }
    /* memo[id(x)] = y, then memo[id(sx)] = state before its items */
    if (fdc_memo_set(ctx, x, y) < 0 || fdc_memo_set(ctx, sx, snapshot) < 0) {
        Py_DECREF(snapshot);
        return -1;
    }
    m->pending++;
    PyObject *ydict = PyObject_GenericGetDict(y, NULL);
    int r = ydict != NULL ? fill_state(ctx, keys, values, n, ydict,
                                       (pending_object *)snapshot) : -1;
    Py_XDECREF(ydict);
    Py_DECREF(snapshot);
    if (r < 0) {
        return -1;
    }
    /* the end of deepcopy(sx): memo[id(sx)] = state again, _keep_alive(sx) */
    return fdc_memo_keep_alive(ctx, sx) < 0 ? -1 : 1;
}

/* The dict a snapshot stands for: its keys and values, in order (a snapshot
 * left half-filled by an error stops at its first empty slot). */
static PyObject *
snapshot_to_dict(PyObject *snapshot)
{
    pending_object *p = (pending_object *)snapshot;
    PyObject *d = _PyDict_NewPresized(Py_SIZE(p));
    if (d == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < Py_SIZE(p) && p->items[2 * i + 1] != NULL; i++) {
        /* str keys: hashing and comparing them runs no user code */
        if (PyDict_SetItem(d, p->items[2 * i], p->items[2 * i + 1]) < 0) {
            Py_DECREF(d);
            return NULL;
        }
    }
    return d;
}

PyObject *
fdc_pending_resolve(fdc_memo *m, const void *key, size_t hash, PyObject *snapshot)
{
    PyObject *d = snapshot_to_dict(snapshot);
    if (d == NULL) {
        return NULL;
    }
    /* replacing the value in place keeps the entry's position */
    if (fdc_memo_store(m, (void *)key, hash, d) < 0) {
        Py_DECREF(d);
        return NULL;
    }
    m->pending--;
    return d;
}

int
fdc_memo_resolve_all(fdc_memo *m)
{
    for (Py_ssize_t k = 0; k < m->used && m->pending > 0; k++) {
        fdc_memo_entry *e = &m->entries[k];
        if (!fdc_is_pending(e->value)) {
            continue;
        }
        PyObject *d = snapshot_to_dict(e->value);
        if (d == NULL) {
            return -1;
        }
        PyObject *old = e->value;
        e->value = d;
        m->pending--;
        Py_DECREF(old);
    }
    return 0;
}
