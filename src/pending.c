/* pending.c — the state of a plain instance, put off until someone looks.
 *
 * stdlib copies an instance x of a plain class (object.__reduce_ex__, no
 * __setstate__) through temporaries:
 *
 *   x with a __dict__ only:      y = cls.__new__(cls); memo[id(x)] = y
 *                                state = deepcopy(x.__dict__, memo)
 *                                y.__dict__.update(state)
 *   x with __slots__ only:       the reduction's state is a new tuple
 *                                T = (None, S), S = {slot: value}; then
 *                                state = deepcopy(T, memo), i.e. S' = deepcopy(S)
 *                                and T' = (None, S'); setattr(y, k, v) for S'
 *
 * The copies of those dicts and tuples (`state`, S', T') are temporaries: they
 * live on only as memo values (memo[id(x.__dict__)], memo[id(S)],
 * memo[id(T)]).  While the memo is native no user code has seen it; when
 * copying the values runs no user code either (str keys; each value its own
 * copy or a flat container), the copies go straight into y and each of those
 * memo entries holds a snapshot instead (a private object, never seen
 * outside): the keys and their copies, or for T' the entry of S' it is made
 * from.  The memo's entries and keep-alive list are otherwise stdlib's, in
 * stdlib's order.  The temporary is built from its snapshot the moment anyone
 * could see it: when the memo is handed to user code (fdc_memo_resolve_all,
 * before the memo becomes a dict), or when x.__dict__ is met again later in
 * the copy (a memo hit on its entry, fdc_pending_resolve).  It then has the
 * keys, values and order stdlib's has: nothing could change the snapshot in
 * between, since nothing else held it.
 */
#include "fdc.h"
#include <stddef.h>
#include <string.h>

/* States of more items than this take stdlib's way (a scan buffer's worth). */
#define FDC_PENDING_MAX 16

/* A snapshot.  With `link` NULL: the dict of its ob_size (key, copy) pairs.
 * Otherwise: the tuple (None, d), d being what the memo holds under id(link)
 * once resolved.  Everything owned.  Not tracked by the GC: it holds str keys,
 * flat values and a temporary dict, which cannot lead back to it.  The same
 * layout serves the stand-ins (fdc_StandInType). */
typedef struct {
    PyObject_VAR_HEAD
    PyObject *link;
    /* What it was made into, once resolved (a stand-in: built): an open
     * snapshot, still being filled while its values are copied, sends the
     * items still to come there. */
    PyObject *built;
    PyObject *items[1];   /* k0, v0, k1, v1, ... */
} pending_object;

static void
pending_dealloc(PyObject *self)
{
    pending_object *p = (pending_object *)self;
    Py_XDECREF(p->link);
    Py_XDECREF(p->built);
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
    .tp_doc = "a copied state not built yet (internal to the native memo)",
};

/* A stand-in for a temporary of object.__reduce_ex__ that stdlib only uses
 * as a memo key and keep-alive (see fdc_copy_slots_standin): the same layout,
 * with `built` the real object once made. */
PyTypeObject fdc_StandInType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "fastdeepcopy._engine.reduce_temporary",
    .tp_basicsize = offsetof(pending_object, items),
    .tp_itemsize = 2 * sizeof(PyObject *),
    .tp_dealloc = pending_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "a temporary of the reduction not built yet (internal to the native memo)",
};

/* A new snapshot of n pairs, all slots empty. */
static pending_object *
pending_new_of(PyTypeObject *type, Py_ssize_t n, PyObject *link)
{
    pending_object *p = PyObject_NewVar(pending_object, type, n);
    if (p == NULL) {
        return NULL;
    }
    p->link = Py_XNewRef(link);
    p->built = NULL;
    memset(p->items, 0, sizeof(PyObject *) * 2 * (size_t)n);
    return p;
}

static pending_object *
pending_new(Py_ssize_t n, PyObject *link)
{
    return pending_new_of(&fdc_PendingType, n, link);
}

/* The items of a dict about to be deep-copied (borrowed), when copying them
 * runs no user code: str keys, flat values, dicts copied by the native copier.
 * Returns how many were read into keys/values; -1 when not applicable; -2
 * when only the values are not flat (every key an exact str). */
static Py_ssize_t
read_flat_items(PyObject *d, PyObject **keys, PyObject **values)
{
    if (!PyDict_CheckExact(d) || PyDict_GET_SIZE(d) > FDC_PENDING_MAX ||
        !FDC.dict_ok || !FDC.atomic_ok) {
        return -1;
    }
    int tuple_ok = FDC.tuple_ok, flat = 1;
    Py_ssize_t pos = 0, n = 0;
    PyObject *key, *value;
    while (PyDict_Next(d, &pos, &key, &value)) {
        if (!PyUnicode_CheckExact(key)) {
            return -1;
        }
        flat = flat && fdc_is_flat_value(value, tuple_ok);
        keys[n] = key;
        values[n] = value;
        n++;
    }
    return flat ? n : -2;
}

static int
memo_has(fdc_memo *m, PyObject *x)
{
    return fdc_memo_lookup(m, x, fdc_memo_hash(x)) != NULL;
}

/* deepcopy(d) for a dict whose items were read by read_flat_items, with the
 * copy left as a snapshot: memo[id(d)] = snapshot before the items, their
 * copies (which may add memo entries of their own), then _keep_alive(d).
 * Returns the snapshot (a new reference) or NULL. */
static pending_object *
copy_flat_dict_deferred(fdc_ctx *ctx, PyObject *d, PyObject *const *keys,
                        PyObject *const *values, Py_ssize_t n)
{
    pending_object *p = pending_new(n, NULL);
    if (p == NULL) {
        return NULL;
    }
    if (fdc_memo_set(ctx, d, (PyObject *)p) < 0) {
        Py_DECREF(p);
        return NULL;
    }
    ctx->native->pending++;
    FDC_STATS.objects += 1 + 2 * (uint64_t)n;   /* the dict, its keys and values */
    /* The items are held while they are copied: a copy allocates, and on
     * 3.10/3.11 an allocation may run a collection whose finalizers change d. */
    PyObject *held[2 * FDC_PENDING_MAX];
    for (Py_ssize_t i = 0; i < n; i++) {
        held[2 * i] = Py_NewRef(keys[i]);
        held[2 * i + 1] = Py_NewRef(values[i]);
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        /* deepcopy(value), then deepcopy(key): a str, its own copy */
        FDC_STATS.objects--;   /* counted again by the recursion */
        PyObject *c = fdc_deepcopy_rec(ctx, held[2 * i + 1]);
        if (c == NULL) {
            for (Py_ssize_t j = 2 * i; j < 2 * n; j++) {
                Py_DECREF(held[j]);
            }
            Py_DECREF(p);
            return NULL;
        }
        p->items[2 * i] = held[2 * i];   /* the held key moves into the snapshot */
        p->items[2 * i + 1] = c;
        Py_DECREF(held[2 * i + 1]);
    }
    if (fdc_memo_keep_alive(ctx, d) < 0) {
        Py_DECREF(p);
        return NULL;
    }
    return p;
}

/* Can the snapshot's items be stored in y as attributes, with exactly the
 * effect of y.__dict__.update(them)?  Yes when generic setattr stores each of
 * them in the instance: no class attribute of that name is a data descriptor
 * (a property, a slot), whose __set__ setattr would call instead.  (On 3.11+
 * an instance whose dict was never asked for keeps its values inline, in
 * insertion order, and no dict is made for it.) */
static int
stores_as_attributes(PyObject *y, const pending_object *p)
{
    PyTypeObject *tp = Py_TYPE(y);
    if (tp->tp_setattro != PyObject_GenericSetAttr || tp->tp_dictoffset == 0) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < Py_SIZE(p); i++) {
        PyObject *attr = _PyType_Lookup(tp, p->items[2 * i]);
        if (attr != NULL && Py_TYPE(attr)->tp_descr_set != NULL) {
            return 0;
        }
    }
    return 1;
}

/* y.__dict__.update(the snapshot's dict): str keys, no user code.  (Inlined:
 * the flat path's hot call.) */
static FDC_ALWAYS_INLINE int
update_dict_from(PyObject *y, const pending_object *p)
{
    if (stores_as_attributes(y, p)) {
        for (Py_ssize_t i = 0; i < Py_SIZE(p); i++) {
            if (PyObject_GenericSetAttr(y, p->items[2 * i], p->items[2 * i + 1]) < 0) {
                return -1;
            }
        }
        return 0;
    }
    PyObject *ydict = PyObject_GenericGetDict(y, NULL);
    if (ydict == NULL) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < Py_SIZE(p); i++) {
        if (PyDict_SetItem(ydict, p->items[2 * i], p->items[2 * i + 1]) < 0) {
            Py_DECREF(ydict);
            return -1;
        }
    }
    Py_DECREF(ydict);
    return 0;
}

static int
visit_dict_subclass(PyObject *o, void *found)
{
    if (PyDict_Check(o) && !PyDict_CheckExact(o)) {
        *(int *)found = 1;
        return 1;   /* stops the traversal */
    }
    return 0;
}

/* Does y refer to a dict of a subclass: its __dict__, if a hook replaced it
 * (y.__dict__ = D; stdlib's y.__dict__.update(state) then calls D.update),
 * or an attribute a hook set?  Asked through y's tp_traverse, which visits its
 * dict -- or on 3.11+ the values it keeps without one -- without making the
 * dict.  (A subclass among the attributes only sends y the long way.) */
static int
refers_to_dict_subclass(PyObject *y)
{
    traverseproc traverse = Py_TYPE(y)->tp_traverse;
    int found = 0;
    if (traverse == NULL) {
        return 1;
    }
    traverse(y, visit_dict_subclass, &found);
    return found;
}

/* for key, value in the snapshot's dict: setattr(y, key, value) */
static int
set_slots_from(PyObject *y, const pending_object *p)
{
    /* (a name that is not a plain member, a property in a subclass say, is
     * set with setattr, which may run user code, as stdlib's does here) */
    Py_ssize_t hint = 0;
    for (Py_ssize_t i = 0; i < Py_SIZE(p); i++) {
        if (fdc_setattr_plain(y, p->items[2 * i], p->items[2 * i + 1], &hint) < 0) {
            return -1;
        }
    }
    return 0;
}

/* The dict an open snapshot stands for, as a new reference: the one it was
 * resolved into, or (still in the native memo under id(sx)) resolved now. */
static PyObject *
open_resolve(fdc_ctx *ctx, PyObject *sx, pending_object *p)
{
    if (p->built != NULL) {
        return Py_NewRef(p->built);
    }
    if (ctx->native == NULL) {
        /* (handing the memo out resolves every snapshot first) */
        PyErr_SetString(PyExc_SystemError, "fastdeepcopy: lost an open state");
        return NULL;
    }
    return fdc_pending_resolve(ctx->native, sx, fdc_memo_hash(sx), (PyObject *)p);
}

/* The i-th item of the dict's copy, y[ck] = cv: into the snapshot while it is
 * one and ck is an exact str, else into the dict it becomes.  Steals ck, cv. */
static int
open_add(fdc_ctx *ctx, PyObject *sx, pending_object *p, Py_ssize_t i, PyObject *ck,
         PyObject *cv)
{
    if (p->built == NULL && PyUnicode_CheckExact(ck)) {
        p->items[2 * i] = ck;
        p->items[2 * i + 1] = cv;
        return 0;
    }
    /* (a key of another type: sx was changed during the copy; hashing it may
     * run user code, at the point stdlib's y[ck] = cv runs it) */
    PyObject *d = open_resolve(ctx, sx, p);
    int r = d != NULL ? PyDict_SetItem(d, ck, cv) : -1;
    Py_XDECREF(d);
    Py_DECREF(ck);
    Py_DECREF(cv);
    return r;
}

/* for key, value in sx.items(): y[deepcopy(key)] = deepcopy(value), with y
 * the snapshot p, and the checks of dict_itemiterator's __next__ (sx is live:
 * the copies may run user code that changes it). */
static int
open_fill(fdc_ctx *ctx, PyObject *sx, pending_object *p)
{
    Py_ssize_t used = Py_SIZE(p), remaining = used, pos = 0, i = 0;
    PyObject *key, *value;
    for (;;) {
        if (PyDict_GET_SIZE(sx) != used) {
            PyErr_SetString(PyExc_RuntimeError, "dictionary changed size during iteration");
            return -1;
        }
        if (!PyDict_Next(sx, &pos, &key, &value)) {
            break;
        }
        if (remaining == 0) {
            PyErr_SetString(PyExc_RuntimeError, "dictionary keys changed during iteration");
            return -1;
        }
        remaining--;
        Py_INCREF(key);
        Py_INCREF(value);
        PyObject *cv = fdc_deepcopy_rec(ctx, value);
        PyObject *ck = cv != NULL ? fdc_deepcopy_rec(ctx, key) : NULL;
        Py_DECREF(key);
        Py_DECREF(value);
        if (ck == NULL) {
            Py_XDECREF(cv);
            return -1;
        }
        if (open_add(ctx, sx, p, i++, ck, cv) < 0) {
            return -1;
        }
    }
    /* (fewer items than at the start, if the dict was changed and compacted:
     * the snapshot ends at the last one) */
    Py_SET_SIZE(p, i);
    return 0;
}

/* After the dict's copy: deepcopy's memo[id(sx)] = copy and _keep_alive(sx),
 * then _reconstruct's `if hasattr(y, '__setstate__') ... else
 * y.__dict__.update(state)`. */
static int
open_finish(fdc_ctx *ctx, PyObject *y, PyObject *sx, pending_object *p,
            const fdc_plain_class *plain)
{
    /* (an unresolved snapshot is still the native memo's value: the store
     * would change nothing) */
    if (p->built != NULL && fdc_memo_set(ctx, sx, p->built) < 0) {
        return -1;
    }
    if (fdc_memo_keep_alive(ctx, sx) < 0) {
        return -1;
    }
    int probe = fdc_plain_setstate_probe(y, plain);
    if (probe < 0) {
        return -1;
    }
    if (p->built == NULL && probe == FDC_SETSTATE_NONE && !refers_to_dict_subclass(y)) {
        /* (user code may have given y attributes: stored as update() would) */
        return update_dict_from(y, p);
    }
    PyObject *state = open_resolve(ctx, sx, p);
    if (state == NULL) {
        return -1;
    }
    int r = fdc_set_state_probed(y, state, probe);
    Py_DECREF(state);
    return r;
}

/* deepcopy(sx) into an open snapshot, for x.__dict__ of exact str keys whose
 * values' copies may run user code; then y's state from it. */
static int
copy_state_open(fdc_ctx *ctx, PyObject *x, PyObject *y, PyObject *sx,
                const fdc_plain_class *plain)
{
    if (fdc_memo_set(ctx, x, y) < 0) {
        return -1;
    }
    pending_object *p = pending_new(PyDict_GET_SIZE(sx), NULL);
    if (p == NULL) {
        return -1;
    }
    if (fdc_memo_set(ctx, sx, (PyObject *)p) < 0) {
        Py_DECREF(p);
        return -1;
    }
    ctx->native->pending++;
    FDC_STATS.objects++;   /* the dict (its items are counted by the recursion) */
    Py_INCREF(sx);   /* user code may replace x.__dict__ */
    int r = -1;
    if (fdc_enter_level(ctx) == 0) {   /* the dict's own level of stdlib's */
        r = open_fill(ctx, sx, p);
        fdc_leave_level(ctx);
    }
    if (r == 0) {
        r = open_finish(ctx, y, sx, p, plain);
    }
    Py_DECREF(sx);
    Py_DECREF(p);
    return r < 0 ? -1 : 1;
}

int
fdc_copy_state_deferred(fdc_ctx *ctx, PyObject *x, PyObject *y, PyObject *sx,
                        const fdc_plain_class *plain)
{
    PyObject *keys[FDC_PENDING_MAX], *values[FDC_PENDING_MAX];
    Py_ssize_t n = ctx->native != NULL ? read_flat_items(sx, keys, values) : -1;
    if (n == -1 || memo_has(ctx->native, sx)) {
        return 0;   /* not applicable (a hit: the dict exists, or will) */
    }
    if (n == -2) {
        /* (its level runs here: near the stack's end, the recursion's road,
         * which moves to a new stack segment) */
        return fdc_stack_low(ctx) ? 0 : copy_state_open(ctx, x, y, sx, plain);
    }
    /* (nothing below runs user code: sx, keys and values stay as read) */
    if (fdc_memo_set(ctx, x, y) < 0) {
        return -1;
    }
    pending_object *p = copy_flat_dict_deferred(ctx, sx, keys, values, n);
    if (p == NULL) {
        return -1;
    }
    int r = update_dict_from(y, p);
    Py_DECREF(p);
    return r < 0 ? -1 : 1;
}

/* memo[id(x)] = y; deepcopy(T) for T = (None, S) whose S has the flat items
 * read (borrowed): deepcopy(None), S' = deepcopy(S), then memo[id(T)] = T' =
 * (None, S'), _keep_alive(T); then setattr(y, k, v) for S' -- S' and T' as
 * snapshots.  s and t: S and T, or their stand-ins. */
static int
copy_slots_flat(fdc_ctx *ctx, PyObject *x, PyObject *y, PyObject *s, PyObject *t,
                PyObject *const *keys, PyObject *const *values, Py_ssize_t n)
{
    if (fdc_memo_set(ctx, x, y) < 0) {
        return -1;
    }
    FDC_STATS.objects += 2;   /* T and its None */
    pending_object *p = copy_flat_dict_deferred(ctx, s, keys, values, n);
    if (p == NULL) {
        return -1;
    }
    pending_object *tp = pending_new(0, s);
    int r = tp != NULL ? fdc_memo_set(ctx, t, (PyObject *)tp) : -1;
    if (r == 0) {
        ctx->native->pending++;
        r = fdc_memo_keep_alive(ctx, t);
    }
    Py_XDECREF(tp);
    if (r == 0) {
        r = set_slots_from(y, p);
    }
    Py_DECREF(p);
    return r < 0 ? -1 : 1;
}

int
fdc_copy_slots_deferred(fdc_ctx *ctx, PyObject *x, PyObject *y, PyObject *state)
{
    /* state is (None, S), a new tuple of object.__reduce_ex__'s making */
    PyObject *keys[FDC_PENDING_MAX], *values[FDC_PENDING_MAX];
    if (ctx->native == NULL || !PyTuple_CheckExact(state) || PyTuple_GET_SIZE(state) != 2 ||
        PyTuple_GET_ITEM(state, 0) != Py_None || !FDC.tuple_ok) {
        return 0;
    }
    PyObject *slots = PyTuple_GET_ITEM(state, 1);
    Py_ssize_t n = read_flat_items(slots, keys, values);
    if (n < 0 || memo_has(ctx->native, state) || memo_has(ctx->native, slots)) {
        return 0;
    }
    return copy_slots_flat(ctx, x, y, slots, state, keys, values, n);
}

/* A stand-in for S = {name: value} of the slots of x that are set (held),
 * read at the offsets; NULL without an exception when a value is not flat
 * (copying it may run user code: S must then be real) or none is set. */
static pending_object *
slots_standin(PyObject *x, PyObject *slotnames, const Py_ssize_t *offsets)
{
    Py_ssize_t n = PyList_GET_SIZE(slotnames);
    pending_object *s = pending_new_of(&fdc_StandInType, n, NULL);
    if (s == NULL) {
        return NULL;
    }
    /* (no allocation from the first read on: the values are held as read) */
    int tuple_ok = FDC.tuple_ok;
    Py_ssize_t k = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *value = *(PyObject **)((char *)x + offsets[i]);
        if (value == NULL) {
            continue;   /* not set: object.__reduce_ex__ leaves it out */
        }
        if (!fdc_is_flat_value(value, tuple_ok)) {
            Py_DECREF(s);
            return NULL;
        }
        s->items[2 * k] = Py_NewRef(PyList_GET_ITEM(slotnames, i));
        s->items[2 * k + 1] = Py_NewRef(value);
        k++;
    }
    Py_SET_SIZE(s, k);
    if (k == 0) {
        Py_DECREF(s);
        return NULL;
    }
    return s;
}

int
fdc_copy_slots_standin(fdc_ctx *ctx, PyObject *x, PyTypeObject *tp, PyObject *slotnames,
                       const Py_ssize_t *offsets, PyObject **y)
{
    *y = NULL;
    if (ctx->native == NULL || !FDC.dict_ok || !FDC.atomic_ok || !FDC.tuple_ok ||
        PyList_GET_SIZE(slotnames) > FDC_PENDING_MAX) {
        return 0;
    }
    pending_object *s = slots_standin(x, slotnames, offsets);
    if (s == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    pending_object *t = pending_new_of(&fdc_StandInType, 0, (PyObject *)s);
    if (t == NULL) {
        Py_DECREF(s);
        return -1;
    }
    ctx->native->standins += 2;
    /* copyreg.__newobj__(cls) is cls.__new__(cls), which is object.__new__ */
    int r = -1;
    *y = tp->tp_new(tp, FDC.empty_tuple, NULL);
    if (*y != NULL) {
        PyObject *keys[FDC_PENDING_MAX], *values[FDC_PENDING_MAX];
        for (Py_ssize_t i = 0; i < Py_SIZE(s); i++) {
            keys[i] = s->items[2 * i];
            values[i] = s->items[2 * i + 1];
        }
        r = copy_slots_flat(ctx, x, *y, (PyObject *)s, (PyObject *)t, keys, values, Py_SIZE(s));
    }
    Py_DECREF(s);
    Py_DECREF(t);
    if (r < 0) {
        Py_CLEAR(*y);
        return -1;
    }
    return 1;
}

/* The temporary a stand-in is for, made now (new reference): the dict of its
 * pairs, or the tuple (None, the dict of the stand-in it links to). */
static PyObject *
standin_build(pending_object *o)
{
    if (o->built != NULL) {
        return Py_NewRef(o->built);
    }
    PyObject *made;
    if (o->link != NULL) {
        PyObject *d = standin_build((pending_object *)o->link);
        made = d != NULL ? PyTuple_Pack(2, Py_None, d) : NULL;
        Py_XDECREF(d);
    }
    else {
        made = _PyDict_NewPresized(Py_SIZE(o));
        for (Py_ssize_t i = 0; made != NULL && i < Py_SIZE(o); i++) {
            /* str keys: hashing and comparing them runs no user code */
            if (PyDict_SetItem(made, o->items[2 * i], o->items[2 * i + 1]) < 0) {
                Py_CLEAR(made);
            }
        }
    }
    if (made == NULL) {
        return NULL;
    }
    o->built = Py_NewRef(made);
    return made;
}

/* The key of the temporary list of set x's copy in the memo: an odd
 * address, never an object's, unique while x lives (the memo keeps x). */
static inline void *
set_list_key(PyObject *x)
{
    return (void *)((uintptr_t)x | 1);
}

PyObject **
fdc_memo_set_temporaries_begin(fdc_ctx *ctx, PyObject *x)
{
    fdc_memo *m = ctx->native;
    int frozen = PyFrozenSet_CheckExact(x);
    if (fdc_memo_temps_reserve(m, frozen ? 1 : PySet_GET_SIZE(x) + 2) < 0) {
        return NULL;
    }
    return frozen ? NULL : m->temps + m->temps_used + 1;
}

int
fdc_memo_set_temporaries(fdc_ctx *ctx, PyObject *x)
{
    /* The record: x, and for a set the items the copy read (borrowed till
     * now: nothing ran in between), then NULL. */
    fdc_memo *m = ctx->native;
    PyObject **rec = m->temps + m->temps_used;
    Py_ssize_t k = 0;
    rec[k++] = Py_NewRef(x);
    if (!PyFrozenSet_CheckExact(x)) {
        for (Py_ssize_t i = 0; i < PySet_GET_SIZE(x); i++) {
            Py_INCREF(rec[k++]);
        }
        rec[k++] = NULL;
    }
    m->temps_used += k;
    m->temp_lists++;
    /* memo[id(L)] = L' (None until made: no one can look it up) and
     * _keep_alive(L) (a marker in its place) */
    void *key = set_list_key(x);   /* (new: x itself was not in the memo) */
    if (fdc_memo_insert_new(m, key, fdc_memo_hash(key), Py_None) < 0) {
        return -1;
    }
    return fdc_memo_keep(m, FDC.temp_marker);
}

/* L = list(x) of the record at temps[*at] (moved past it), and L' = its copy
 * (a new list of the same atomic items), under L's key. */
static PyObject *
build_set_list(fdc_memo *m, Py_ssize_t *at)
{
    PyObject **rec = m->temps + *at;
    PyObject *x = rec[0];
    PyObject *list;
    if (PyFrozenSet_CheckExact(x)) {
        list = PySequence_List(x);
        *at += 1;
    }
    else {
        Py_ssize_t n = 0;
        while (rec[1 + n] != NULL) {
            n++;
        }
        list = PyList_New(n);
        for (Py_ssize_t i = 0; list != NULL && i < n; i++) {
            PyList_SET_ITEM(list, i, Py_NewRef(rec[1 + i]));
        }
        *at += n + 2;
    }
    if (list == NULL) {
        return NULL;
    }
    void *key = set_list_key(x);
    fdc_memo_entry *e = fdc_memo_find(m, key, fdc_memo_hash(key));
    if (e != NULL) {
        PyObject *copy = PyList_GetSlice(list, 0, PY_SSIZE_T_MAX);
        if (copy == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        Py_SETREF(e->value, copy);   /* (it was None) */
        e->key = list;   /* (the index is rebuilt by the caller) */
    }
    return list;
}

int
fdc_memo_build_standins(fdc_memo *m)
{
    if (m->standins == 0 && m->temp_lists == 0) {
        return 0;
    }
    /* The stand-ins replaced are released only once the table is whole again:
     * releasing one may free an original, whose finalizer may run. */
    Py_ssize_t todo = m->standins + m->temp_lists;
    PyObject **olds = PyMem_Malloc(sizeof(PyObject *) * (size_t)todo);
    if (olds == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t nold = 0, at = 0;
    int r = 0;
    /* in keep-alive order: S is kept before the T made from it */
    for (Py_ssize_t k = 0; k < m->keep_used && nold < todo; k++) {
        PyObject *o = m->keep[k];
        PyObject *real;
        if (o == FDC.temp_marker && at < m->temps_used) {
            real = build_set_list(m, &at);
        }
        else if (Py_IS_TYPE(o, &fdc_StandInType)) {
            real = standin_build((pending_object *)o);
            fdc_memo_entry *e = real != NULL ? fdc_memo_find(m, o, fdc_memo_hash(o)) : NULL;
            if (e != NULL) {
                e->key = real;   /* (the index is rebuilt below) */
            }
        }
        else {
            continue;
        }
        if (real == NULL) {
            r = -1;
            break;
        }
        m->keep[k] = real;   /* the reference made above moves in */
        olds[nold++] = o;    /* (a marker: FDC holds it too) */
    }
    m->standins = 0;
    fdc_memo_reindex(m);
    fdc_memo_drop_temps(m);
    for (Py_ssize_t i = 0; i < nold; i++) {
        Py_DECREF(olds[i]);
    }
    PyMem_Free(olds);
    return r;
}

/* What a snapshot stands for, as a new object.  A half-filled one (left by
 * an error) stops at its first empty pair. */
static PyObject *
snapshot_build(fdc_memo *m, const pending_object *p)
{
    if (p->link != NULL) {
        size_t hash = fdc_memo_hash(p->link);
        PyObject *v = fdc_memo_lookup(m, p->link, hash);
        if (v == NULL) {
            PyErr_SetString(PyExc_SystemError, "fastdeepcopy: lost a pending state");
            return NULL;
        }
        PyObject *d = fdc_memo_hit_ref(m, p->link, hash, v);
        if (d == NULL) {
            return NULL;
        }
        PyObject *t = PyTuple_Pack(2, Py_None, d);
        Py_DECREF(d);
        return t;
    }
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
    Py_INCREF(snapshot);   /* replacing it below releases the memo's reference */
    pending_object *p = (pending_object *)snapshot;
    PyObject *built = snapshot_build(m, p);
    int r = built != NULL ? fdc_memo_store(m, (void *)key, hash, built) : -1;
    if (r == 0) {
        /* (an open one sends the rest of its items there; a snapshot is
         * resolved once: the memo holds the built object from now on) */
        p->built = Py_NewRef(built);
    }
    Py_DECREF(snapshot);
    if (r < 0) {
        Py_XDECREF(built);
        return NULL;
    }
    /* (replacing a value in place keeps the entry's position) */
    m->pending--;
    return built;
}

int
fdc_memo_resolve_all(fdc_memo *m)
{
    /* in memo order: a T' snapshot comes after the S' entry it is built from */
    for (Py_ssize_t k = 0; k < m->used && m->pending > 0; k++) {
        PyObject *v = m->entries[k].value;
        if (!fdc_is_pending(v)) {
            continue;
        }
        void *key = m->entries[k].key;
        PyObject *built = fdc_pending_resolve(m, key, fdc_memo_hash(key), v);
        if (built == NULL) {
            return -1;
        }
        Py_DECREF(built);
    }
    return 0;
}
