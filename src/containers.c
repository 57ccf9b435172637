/* containers.c — native copiers for the exact built-in containers.
 *
 * Each mirrors its stdlib counterpart operation by operation, including what
 * happens when user code (a __deepcopy__ of an item, a key's __hash__) mutates
 * the container while it is being copied.  The caller (deepcopy.c) performs
 * the final `memo[id(x)] = y` and keep-alive.
 */
#include "fdc.h"
#include <string.h>

/* Copy one item.  `item` is borrowed and must stay alive for the duration
 * (callers hold a reference while user code may run). */
static inline PyObject *
copy_item(fdc_ctx *ctx, PyObject *item)
{
    return fdc_deepcopy_rec(ctx, item);
}

/* y.append(item) for an exact list, using capacity reserved up front.  Steals
 * `item`. */
static int
list_append_steal(PyObject *y, PyObject *item)
{
    PyListObject *l = (PyListObject *)y;
    Py_ssize_t n = Py_SIZE(l);
    if (n < l->allocated) {
        l->ob_item[n] = item;
        Py_SET_SIZE(l, n + 1);
        return 0;
    }
    int r = PyList_Append(y, item);
    Py_DECREF(item);
    return r;
}

/* An empty list with room for n items (what `[]` plus n appends would hold).
 * The item array is not zeroed: only the first Py_SIZE items are ever read. */
static PyObject *
list_with_capacity(Py_ssize_t n)
{
    PyObject *y = PyList_New(0);
    if (y == NULL || n == 0) {
        return y;
    }
    if ((size_t)n > PY_SSIZE_T_MAX / sizeof(PyObject *)) {
        Py_DECREF(y);
        return PyErr_NoMemory();
    }
    PyObject **items = PyMem_Malloc(sizeof(PyObject *) * (size_t)n);
    if (items == NULL) {
        Py_DECREF(y);
        return PyErr_NoMemory();
    }
    ((PyListObject *)y)->ob_item = items;
    ((PyListObject *)y)->allocated = n;
    return y;
}

/* Append the run of common atomic items x[i:] to y without calling out (no
 * user code can run, so x cannot change meanwhile).  Returns the new i.
 * `absent`: on a mirrored memo, the index (in step with the dict), in which
 * each item must be missing, as stdlib's memo lookup of it would miss; atomic
 * tuples are not taken then (their items are looked up too). */
static FDC_ALWAYS_INLINE Py_ssize_t
append_atomic_run(PyObject *x, PyObject *y, Py_ssize_t i, const fdc_memo *absent)
{
    PyObject **src = ((PyListObject *)x)->ob_item;
    PyListObject *yl = (PyListObject *)y;
    Py_ssize_t n = PyList_GET_SIZE(x);
    Py_ssize_t filled = Py_SIZE(yl);
    if (n - i > yl->allocated - filled) {
        n = i + (yl->allocated - filled);   /* the rest goes through PyList_Append */
    }
    PyObject **dst = yl->ob_item + filled;
    Py_ssize_t start = i;
    int tuple_ok = FDC.tuple_ok && absent == NULL;
    while (i < n) {
        PyTypeObject *tp = Py_TYPE(src[i]);
        if (fdc_is_common_atomic_type(tp)) {
            /* a run of one type needs a single comparison per item */
            do {
                if (absent != NULL && fdc_memo_lookup(absent, src[i], fdc_memo_hash(src[i]))) {
                    goto done;
                }
                Py_INCREF(src[i]);
                *dst++ = src[i];
                i++;
            } while (i < n && Py_TYPE(src[i]) == tp);
        }
        else if (tuple_ok && fdc_is_atomic_tuple(src[i])) {
            Py_INCREF(src[i]);
            *dst++ = src[i];
            i++;
        }
        else {
            break;
        }
    }
done:
    Py_SET_SIZE(yl, filled + (i - start));
    FDC_STATS.objects += (uint64_t)(i - start);
    return i;
}

/* May atomic items be taken as they are, without a memo lookup?  (Re-read
 * after every item: a hook may expose the memo or change the dispatch table.) */
static inline int
atomic_fast_path(fdc_ctx *ctx)
{
    return ctx->native != NULL && FDC.atomic_ok;
}

/* On a mirrored memo whose index is in step with the dict, *absent is the
 * index: atomic objects missing from it are their own copies, as on a native
 * memo.  Otherwise NULL.  -1 on error. */
static int
mirror_absent_index(fdc_ctx *ctx, const fdc_memo **absent)
{
    *absent = NULL;
    if (ctx->mirror == NULL || !FDC.atomic_ok) {
        return 0;
    }
    int r = fdc_mirror_check(ctx->mirror);
    if (r < 0) {
        return -1;
    }
    if (r == 0) {
        *absent = ctx->mirror->index;
    }
    return 0;
}

/* memo[id(x)] = y before the first item that is not its own copy (stdlib
 * stores it before every item; until such an item nothing can look it up, and
 * no other memo entry is made, so the memo's order is the same). */
static int
store_before_items(fdc_ctx *ctx, PyObject *x, PyObject *y, int *stored)
{
    if (*stored) {
        return 0;
    }
    *stored = 1;
    return fdc_memo_set(ctx, x, y);
}

/* Items of one list found to be their own copies by the SELF rule (enum
 * members) since Python code last could have run: met again, they are taken
 * without a look, as nothing that decided it can have changed.  Borrowed (x
 * holds them; only Python code could change x).  An open-addressed table,
 * at most half full (later ones are not remembered); `slot` is read only once
 * `used` is set. */
#define FDC_SELF_RUN_BITS 5
#define FDC_SELF_RUN_SLOTS (1 << FDC_SELF_RUN_BITS)

typedef struct {
    int used;       /* how many are remembered */
    PyObject *slot[FDC_SELF_RUN_SLOTS];
    /* the class of one such item that has no instance dict: every instance
     * of it is its own copy too, unless the memo holds it (it may have been
     * copied another way before, while its class was not SELF) */
    PyTypeObject *dictless;
} self_run;

/* The slot holding o, or the empty one where it would go. */
static inline PyObject **
self_run_find(self_run *run, PyObject *o)
{
    /* objects of one size sit a fixed stride apart: a multiplicative hash
     * spreads them over the slots */
    uint64_t h = (uint64_t)(uintptr_t)o * UINT64_C(0x9E3779B97F4A7C15);
    size_t i = (size_t)(h >> (64 - FDC_SELF_RUN_BITS));
    while (run->slot[i] != NULL && run->slot[i] != o) {
        i = (i + 1) & (FDC_SELF_RUN_SLOTS - 1);
    }
    return &run->slot[i];
}

static inline int
self_run_holds(self_run *run, PyObject *o)
{
    return run->used && *self_run_find(run, o) == o;
}

/* After a memo miss for o: is o of the remembered dictless SELF class? */
static inline int
self_run_holds_class(const self_run *run, PyObject *o)
{
    return run->used && Py_TYPE(o) == run->dictless;
}

static void
self_run_remember(self_run *run, PyObject *o)
{
    if (run->used == 0) {
        memset(run->slot, 0, sizeof(run->slot));
        run->dictless = NULL;
    }
    if (Py_TYPE(o)->tp_dictoffset == 0 && run->dictless == NULL) {
        run->dictless = Py_TYPE(o);
        run->used++;
    }
    else if (run->used < FDC_SELF_RUN_SLOTS / 2) {
        *self_run_find(run, o) = o;
        run->used++;
    }
}

/* deepcopy(item) for an item of x (the caller holds a reference: user code
 * and finalizers may run from here on).  On a native memo the lookup comes
 * first (made by the caller, `hit`, unless `lookup` asks for it again), so
 * that an object met before (as in [a] * 100) costs one probe; an atomic
 * object is never in a native memo while FDC.atomic_ok holds, so the order
 * does not change the answer.  An item that is its own copy by the SELF rule,
 * decided without running Python code, is remembered in `run`; anything else
 * may run Python code, and `run` is forgotten. */
static PyObject *
list_item_copy(fdc_ctx *ctx, PyObject *item, PyObject *hit, int lookup, self_run *run)
{
    PyObject *c;
    if (ctx->native == NULL) {
        run->used = 0;
        return copy_item(ctx, item);
    }
    FDC_STATS.objects++;
    size_t hash = fdc_memo_hash(item);
    if (lookup) {
        hit = fdc_memo_lookup(ctx->native, item, hash);
    }
    if (hit != NULL) {
        if (fdc_memo_hit_pending(ctx->native, hit)) {
            /* building the pending dict or tuple allocates (a collection may
             * run finalizers, and free remembered members) */
            run->used = 0;
        }
        return fdc_memo_hit_ref(ctx->native, item, hash, hit);
    }
    if (FDC.atomic_ok && fdc_is_own_copy(item, FDC.tuple_ok)) {
        return Py_NewRef(item);
    }
    if (fdc_may_copy_as_self(Py_TYPE(item))) {
        /* fdc_copy_and_memoize's first step, taken here to learn `pure` */
        int pure;
        c = fdc_copy_self_kind(item, &pure);
        if (c != NULL && pure) {
            self_run_remember(run, item);
            return c;
        }
        if (c != NULL || PyErr_Occurred()) {
            run->used = 0;
            return c;
        }
    }
    run->used = 0;
    return fdc_copy_not_self(ctx, item);
}

PyObject *
fdc_copy_list(fdc_ctx *ctx, PyObject *x, int *stored)
{
    /* y = []; memo[id(x)] = y; for a in x: y.append(deepcopy(a, memo))
     * (the loop re-reads len(x) each time, as the list iterator does) */
    PyObject *y = list_with_capacity(PyList_GET_SIZE(x));
    if (y == NULL) {
        return NULL;
    }
    if (!atomic_fast_path(ctx) && store_before_items(ctx, x, y, stored) < 0) {
        goto error;
    }
    self_run run;
    run.used = 0;
    Py_ssize_t i = 0;
    while (i < PyList_GET_SIZE(x)) {
        PyObject *item = PyList_GET_ITEM(x, i);
        if (self_run_holds(&run, item)) {
            FDC_STATS.objects++;
            if (list_append_steal(y, Py_NewRef(item)) < 0) {
                goto error;
            }
            i++;
            continue;
        }
        if (atomic_fast_path(ctx) && fdc_is_own_copy(item, FDC.tuple_ok)) {
            Py_ssize_t next = append_atomic_run(x, y, i, NULL);
            if (next > i) {
                i = next;
                continue;
            }
            /* y is full (x grew meanwhile): this item goes through the
             * general path, which appends with PyList_Append */
        }
        PyObject *hit = NULL;
        if (ctx->native != NULL) {
            /* an object met before (as in [a] * 100): one probe, and nothing
             * runs (a pending hit, which allocates, takes list_item_copy) */
            hit = fdc_memo_lookup(ctx->native, item, fdc_memo_hash(item));
            if (hit != NULL && !fdc_memo_hit_pending(ctx->native, hit)) {
                FDC_STATS.objects++;
                if (list_append_steal(y, Py_NewRef(hit)) < 0) {
                    goto error;
                }
                i++;
                continue;
            }
            if (hit == NULL && self_run_holds_class(&run, item)) {
                FDC_STATS.objects++;
                if (list_append_steal(y, Py_NewRef(item)) < 0) {
                    goto error;
                }
                i++;
                continue;
            }
        }
        /* From here on code may run that changes x (a finalizer, a key's
         * __eq__ in a dict lookup): as stdlib's list iterator, hold the item. */
        Py_INCREF(item);
        if (ctx->mirror != NULL && fdc_is_common_atomic_type(Py_TYPE(item))) {
            const fdc_memo *absent;
            if (mirror_absent_index(ctx, &absent) < 0) {
                Py_DECREF(item);
                goto error;
            }
            Py_ssize_t next = absent ? append_atomic_run(x, y, i, absent) : i;
            if (next > i) {
                Py_DECREF(item);
                i = next;
                continue;
            }
        }
        if (store_before_items(ctx, x, y, stored) < 0) {
            Py_DECREF(item);
            goto error;
        }
        /* (the one entry store_before_items may just have made is x's own) */
        PyObject *c = list_item_copy(ctx, item, hit, item == x, &run);
        Py_DECREF(item);
        if (c == NULL || list_append_steal(y, c) < 0) {
            goto error;
        }
        i++;
    }
    return y;
error:
    Py_DECREF(y);
    return NULL;
}

/* Dicts are scanned first, up to the first value whose copy may run user
 * code.  When every value is its own copy or a flat container (see below),
 * the copy is a clone of x whose flat containers are then replaced by their
 * copies.  Otherwise the leading items that are their own copies, among the
 * first FDC_DICT_SCAN_MAX, are remembered so that they are not iterated twice. */
#define FDC_DICT_SCAN_MAX 16
/* A flat container: an exact bytearray, or an exact list or dict of at most
 * this many items, all of them their own copies.  Copying one runs no user
 * code. */
#define FDC_FLAT_MAX 32

/* Flat containers among a dict's values remembered without an allocation. */
#define FDC_FLAT_INLINE 8

typedef struct {
    PyObject *keys[FDC_DICT_SCAN_MAX];   /* borrowed from x: its leading items */
    PyObject *values[FDC_DICT_SCAN_MAX]; /* that are their own copies, `count` of them */
    Py_ssize_t seen;     /* items looked at */
    Py_ssize_t count;    /* leading items that are their own copies (at most
                            FDC_DICT_SCAN_MAX) */
    Py_ssize_t resume;   /* PyDict_Next position after them */
    int all;             /* every item is its own copy */
    int patchable;       /* every item is its own copy or a flat container */
    /* the items whose values are flat containers, in order, as key, value
     * pairs (borrowed): in `inline_flat`, or in a PyMem array of
     * flat_capacity pairs when more; NULL when memory ran out (then the
     * clone is walked instead) */
    PyObject **flat;
    Py_ssize_t nflat, flat_capacity;
    PyObject *inline_flat[2 * FDC_FLAT_INLINE];
} dict_scan;

/* What is read before (or without) a scan; scan_dict sets the rest. */
static inline void
scan_init(dict_scan *s)
{
    s->count = 0;
    s->flat = s->inline_flat;
    s->nflat = 0;
}

static inline void
scan_release(dict_scan *s)
{
    if (s->flat != s->inline_flat) {
        PyMem_Free(s->flat);
    }
}

/* Make room for more flat pairs; when no memory is left, the list is dropped
 * (s->flat = NULL).  Never raises. */
static void
grow_flat(dict_scan *s)
{
    Py_ssize_t capacity = s->flat == s->inline_flat ? FDC_FLAT_INLINE : s->flat_capacity;
    PyObject **bigger = PyMem_Malloc(sizeof(PyObject *) * 4 * (size_t)capacity);
    if (bigger != NULL) {
        memcpy(bigger, s->flat, sizeof(PyObject *) * 2 * (size_t)s->nflat);
        s->flat_capacity = 2 * capacity;
    }
    scan_release(s);
    s->flat = bigger;
}

/* Remember an item whose value is a flat container. */
static inline void
remember_flat(dict_scan *s, PyObject *key, PyObject *value)
{
    if (s->flat == NULL) {
        return;
    }
    if (s->nflat == (s->flat == s->inline_flat ? FDC_FLAT_INLINE : s->flat_capacity)) {
        grow_flat(s);
        if (s->flat == NULL) {
            return;
        }
    }
    s->flat[2 * s->nflat] = key;
    s->flat[2 * s->nflat + 1] = value;
    s->nflat++;
}

int
fdc_is_flat_container(PyObject *v, int tuple_ok)
{
    if (PyByteArray_CheckExact(v) && FDC.bytearray_ok) {
        return 1;
    }
    if (PyList_CheckExact(v) && FDC.list_ok) {
        Py_ssize_t n = PyList_GET_SIZE(v);
        if (n > FDC_FLAT_MAX) {
            return 0;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            if (!fdc_is_own_copy(PyList_GET_ITEM(v, i), tuple_ok)) {
                return 0;
            }
        }
        return 1;
    }
    if (PyDict_CheckExact(v) && FDC.dict_ok && PyDict_GET_SIZE(v) <= FDC_FLAT_MAX) {
        Py_ssize_t pos = 0;
        PyObject *key, *value;
        while (PyDict_Next(v, &pos, &key, &value)) {
            if (!fdc_is_atomic_key_type(Py_TYPE(key)) || !fdc_is_own_copy(value, tuple_ok)) {
                return 0;
            }
        }
        return 1;
    }
    return 0;
}

/* Is an atomic object certainly its own copy: missing from the mirror's
 * index `absent` when there is one? */
static inline int
absent_from(const fdc_memo *absent, PyObject *o)
{
    return absent == NULL || fdc_memo_lookup(absent, o, fdc_memo_hash(o)) == NULL;
}

/* Only reads x: no user code runs.  `absent`: see append_atomic_run.
 * (Inlined into each caller, so that the native memo's copy, absent == NULL,
 * does not test it per item.) */
static FDC_ALWAYS_INLINE void
scan_dict(PyObject *x, dict_scan *s, const fdc_memo *absent)
{
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    int tuple_ok = FDC.tuple_ok && absent == NULL, leading = 1;
    s->seen = s->count = s->resume = 0;
    s->all = 1;
    s->patchable = 1;
    while (PyDict_Next(x, &pos, &key, &value)) {
        int atomic_key = fdc_is_atomic_key_type(Py_TYPE(key)) && absent_from(absent, key);
        if (atomic_key && fdc_is_own_copy(value, tuple_ok) && absent_from(absent, value)) {
            if (leading && s->count < FDC_DICT_SCAN_MAX) {
                s->keys[s->count] = key;
                s->values[s->count] = value;
                s->count++;
                s->resume = pos;
            }
        }
        else if (atomic_key && fdc_is_flat_container(value, tuple_ok)) {
            leading = 0;
            s->all = 0;
            remember_flat(s, key, value);
        }
        else {
            s->all = s->patchable = 0;
            return;
        }
        s->seen++;
    }
}

/* y[k] = v for the scanned leading run (hashing atomic keys runs no user code). */
static int
insert_scanned(PyObject *y, const dict_scan *s)
{
    for (Py_ssize_t i = 0; i < s->count; i++) {
        if (PyDict_SetItem(y, s->keys[i], s->values[i]) < 0) {
            return -1;
        }
    }
    FDC_STATS.objects += 2 * (uint64_t)s->count;
    return 0;
}

static PyObject *copy_flat(PyObject *v);

/* Are all items of the flat list or dict v (a dict's keys and values) missing
 * from the mirror's index `absent`?  Then stdlib's lookups of them all miss. */
static int
flat_items_absent(PyObject *v, const fdc_memo *absent)
{
    if (PyList_CheckExact(v)) {
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(v); i++) {
            if (!absent_from(absent, PyList_GET_ITEM(v, i))) {
                return 0;
            }
        }
        return 1;
    }
    if (PyDict_CheckExact(v)) {
        Py_ssize_t pos = 0;
        PyObject *key, *value;
        while (PyDict_Next(v, &pos, &key, &value)) {
            if (!absent_from(absent, key) || !absent_from(absent, value)) {
                return 0;
            }
        }
        return 1;
    }
    return 0;   /* a bytearray: copied through its __reduce_ex__ there */
}

/* The copy of the flat container v, known missing from the memo, then
 * memo[id(v)] = y and the keep-alive, as the recursion would make them. */
static PyObject *
copy_flat_and_memoize(fdc_ctx *ctx, PyObject *v)
{
    PyObject *c = copy_flat(v);
    if (c != NULL && (fdc_memo_set(ctx, v, c) < 0 || fdc_memo_keep_alive(ctx, v) < 0)) {
        Py_CLEAR(c);
    }
    return c;
}

/* deepcopy(v) for a flat container v: what the recursion does, but without
 * taking v apart again -- it is known to be flat, and nothing has run since
 * that could change it.  On a native memo: the lookup, then on a miss the
 * copy.  On a mirrored memo, only when the index (in step with the dict)
 * shows v and its items all missing: stdlib's lookups all miss, and it
 * writes memo[id(v)] = y, the same again (no change), then the keep-alive.
 * Otherwise the recursion. */
static PyObject *
copy_known_flat(fdc_ctx *ctx, PyObject *v)
{
    if (ctx->native != NULL) {
        size_t hash = fdc_memo_hash(v);
        PyObject *hit = fdc_memo_lookup(ctx->native, v, hash);
        if (hit != NULL) {
            FDC_STATS.objects++;
            return fdc_memo_hit_ref(ctx->native, v, hash, hit);
        }
        return copy_flat_and_memoize(ctx, v);
    }
    const fdc_memo *absent;
    if (mirror_absent_index(ctx, &absent) < 0) {
        return NULL;
    }
    if (absent == NULL || !absent_from(absent, v) || !flat_items_absent(v, absent)) {
        return copy_item(ctx, v);
    }
    return copy_flat_and_memoize(ctx, v);
}

/* y[key] = deepcopy(value) for a flat container `value` (borrowed) whose key
 * is already in the clone y: the same place, x's order.  stored is NULL when
 * memo[id(x)] = y is not needed at all. */
static int
patch_flat_value(fdc_ctx *ctx, PyObject *x, PyObject *y, PyObject *key, PyObject *value,
                 int *stored)
{
    if (stored != NULL && store_before_items(ctx, x, y, stored) < 0) {
        return -1;
    }
    FDC_STATS.objects--;   /* counted again by the copy */
    PyObject *c = copy_known_flat(ctx, value);
    int r = c ? PyDict_SetItem(y, key, c) : -1;
    Py_XDECREF(c);
    return r;
}

/* The dict's values are their own copies or flat containers: nothing that runs
 * can see y or change x, so y may start as a clone of x, and each flat
 * container is then copied in order (its memo entries in stdlib's order,
 * after memo[id(x)] = y) and put in place of the original. */
static PyObject *
copy_patchable_dict(fdc_ctx *ctx, PyObject *x, const dict_scan *s, int *stored)
{
    /* s->flat is borrowed from x: the clone holds it once made (see
     * copy_flat_root_dict) */
    int gc = fdc_gc_pause();
    PyObject *y = PyDict_Copy(x);
    fdc_gc_resume(gc);
    if (y == NULL) {
        return NULL;
    }
    FDC_STATS.objects += 2 * (uint64_t)s->seen;
    int tuple_ok = FDC.tuple_ok;
    if (ctx->depth == 1 && ctx->native != NULL) {
        /* x is the object the call was made for, whose entry is never made
         * on a native memo (deepcopy.c, memoize_copy): nothing that runs here
         * can look it up */
        stored = NULL;
    }
    if (s->flat != NULL) {
        for (Py_ssize_t i = 0; i < s->nflat; i++) {
            if (patch_flat_value(ctx, x, y, s->flat[2 * i], s->flat[2 * i + 1], stored) < 0) {
                goto error;
            }
        }
        return y;
    }
    /* The list of flat values is incomplete: walk the clone.  Replacing the
     * value of a key that is there is allowed during PyDict_Next; the old
     * value is still x's, and nothing that runs can change x or y. */
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (PyDict_Next(y, &pos, &key, &value)) {
        if (!fdc_is_own_copy(value, tuple_ok) &&
            patch_flat_value(ctx, x, y, key, value, stored) < 0) {
            goto error;
        }
    }
    return y;
error:
    Py_DECREF(y);
    return NULL;
}

/* y[deepcopy(key, memo)] = deepcopy(value, memo) -- the value first, as
 * Python evaluates it -- for a key and value borrowed from the original, held
 * while user code may run.  0, or -1 with an exception. */
static int
copy_dict_item(fdc_ctx *ctx, PyObject *y, PyObject *key, PyObject *value)
{
    Py_INCREF(key);
    Py_INCREF(value);
    PyObject *cv = copy_item(ctx, value);
    PyObject *ck = cv ? copy_item(ctx, key) : NULL;
    Py_DECREF(key);
    Py_DECREF(value);
    int r = ck ? PyDict_SetItem(y, ck, cv) : -1;
    Py_XDECREF(ck);
    Py_XDECREF(cv);
    return r;
}

PyObject *
fdc_copy_dict(fdc_ctx *ctx, PyObject *x, int *stored)
{
    /* y = {}; memo[id(x)] = y
     * for key, value in x.items(): y[deepcopy(key)] = deepcopy(value)
     * (the right-hand side, the value, is evaluated first) */
    Py_ssize_t used = PyDict_GET_SIZE(x), remaining = used, pos = 0;
    PyObject *key, *value;
    dict_scan scan;
    scan_init(&scan);
    const fdc_memo *absent = NULL;
    int fast = atomic_fast_path(ctx);
    if (!fast) {
        if (mirror_absent_index(ctx, &absent) < 0) {
            return NULL;
        }
        fast = absent != NULL;
    }
    if (fast) {
        if (absent == NULL) {
            scan_dict(x, &scan, NULL);
        }
        else {
            scan_dict(x, &scan, absent);
        }
        if (scan.all) {
            /* Every y[k] = v would store x's own key and value, in x's order:
             * a clone holds the same.  No memo entry is needed before. */
            FDC_STATS.objects += 2 * (uint64_t)used;
            return PyDict_Copy(x);
        }
        if (scan.patchable && ((PyDictObject *)x)->ma_values == NULL) {
            /* (not for a split table, an instance __dict__: its clone would be
             * split too, which the y.__dict__.update(state) after it merges
             * item by item, slower than building the copy item by item) */
            PyObject *y = copy_patchable_dict(ctx, x, &scan, stored);
            scan_release(&scan);
            return y;
        }
        scan_release(&scan);   /* (only the leading run is used from here on) */
    }
    /* (the leading run is borrowed from x) */
    int gc = fdc_gc_pause();
    PyObject *y = _PyDict_NewPresized(used);
    fdc_gc_resume(gc);
    if (y == NULL) {
        return NULL;
    }
    if (scan.count > 0) {
        if (insert_scanned(y, &scan) < 0) {
            goto error;
        }
        pos = scan.resume;
        remaining -= scan.count;
    }
    if (!atomic_fast_path(ctx) && store_before_items(ctx, x, y, stored) < 0) {
        goto error;
    }
    for (;;) {
        /* the checks of dict_itemiterator's __next__ */
        if (PyDict_GET_SIZE(x) != used) {
            PyErr_SetString(PyExc_RuntimeError, "dictionary changed size during iteration");
            goto error;
        }
        if (!PyDict_Next(x, &pos, &key, &value)) {
            break;
        }
        if (remaining == 0) {
            PyErr_SetString(PyExc_RuntimeError, "dictionary keys changed during iteration");
            goto error;
        }
        remaining--;
        if (atomic_fast_path(ctx) && fdc_is_atomic_key_type(Py_TYPE(key)) &&
            fdc_is_own_copy(value, FDC.tuple_ok)) {
            FDC_STATS.objects += 2;
            /* both are their own copies; hashing them runs no user code */
            if (PyDict_SetItem(y, key, value) < 0) {
                goto error;
            }
            continue;
        }
        if (store_before_items(ctx, x, y, stored) < 0) {
            goto error;
        }
        if (copy_dict_item(ctx, y, key, value) < 0) {
            goto error;
        }
    }
    return y;
error:
    Py_DECREF(y);
    return NULL;
}

static int
tuple_all_atomic(PyObject *x)
{
    if (!FDC.atomic_ok) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(x); i++) {
        if (!fdc_is_atomic_type(Py_TYPE(PyTuple_GET_ITEM(x, i)))) {
            return 0;
        }
    }
    return 1;
}

/* memo[id(x)] as _deepcopy_tuple reads it: 1 hit, 0 KeyError, -1 other error. */
static int
tuple_memo_recheck(fdc_ctx *ctx, PyObject *x, PyObject **hit)
{
    if (ctx->native != NULL || ctx->pymemo_exact) {
        return fdc_memo_get(ctx, x, hit);
    }
    PyObject *key = PyLong_FromVoidPtr(x);
    if (key == NULL) {
        return -1;
    }
    *hit = PyObject_GetItem(ctx->pymemo, key);
    Py_DECREF(key);
    if (*hit != NULL) {
        return 1;
    }
    if (PyErr_ExceptionMatches(PyExc_KeyError)) {
        PyErr_Clear();
        return 0;
    }
    return -1;
}

PyObject *
fdc_copy_tuple(fdc_ctx *ctx, PyObject *x)
{
    /* y = [deepcopy(a, memo) for a in x]
     * try: return memo[id(x)] except KeyError: pass
     * y = x if every item is its own copy else tuple(y) */
    Py_ssize_t n = PyTuple_GET_SIZE(x);
    if (ctx->native != NULL && tuple_all_atomic(x)) {
        /* No memo entry can exist for such a tuple: its copy is itself. */
        return Py_NewRef(x);
    }
    PyObject *y = PyTuple_New(n);
    if (y == NULL) {
        return NULL;
    }
    int changed = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyTuple_GET_ITEM(x, i);
        PyObject *c = copy_item(ctx, item);
        if (c == NULL) {
            Py_DECREF(y);
            return NULL;
        }
        changed |= (c != item);
        PyTuple_SET_ITEM(y, i, c);
    }
    PyObject *hit;
    int r = tuple_memo_recheck(ctx, x, &hit);
    if (r != 0) {
        Py_DECREF(y);
        return r > 0 ? hit : NULL;
    }
    if (!changed) {
        Py_DECREF(y);
        return Py_NewRef(x);
    }
    return y;
}

PyObject *
fdc_copy_method(fdc_ctx *ctx, PyObject *x)
{
    /* type(x)(x.__func__, deepcopy(x.__self__, memo)) */
    PyObject *func = Py_NewRef(PyMethod_GET_FUNCTION(x));
    PyObject *self = Py_NewRef(PyMethod_GET_SELF(x));
    PyObject *cself = fdc_deepcopy_rec(ctx, self);
    PyObject *y = cself ? PyMethod_New(func, cself) : NULL;
    Py_XDECREF(cself);
    Py_DECREF(self);
    Py_DECREF(func);
    return y;
}

/* A set item that is its own copy and goes into the new set without user
 * code: an atomic key, or (while the tuple entry of the dispatch table is
 * stdlib's) an exact tuple of atomic keys, which stdlib's _deepcopy_tuple
 * returns as it is, storing nothing in the memo. */
static int
is_own_copy_key(PyObject *key)
{
    PyTypeObject *tp = Py_TYPE(key);
    if (fdc_is_atomic_key_type(tp)) {
        return 1;
    }
    if (tp != &PyTuple_Type || !FDC.tuple_ok) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(key); i++) {
        if (!fdc_is_atomic_key_type(Py_TYPE(PyTuple_GET_ITEM(key, i)))) {
            return 0;
        }
    }
    return 1;
}

/* For a set or frozenset of atomic items (is_own_copy_key: tuples of them
 * too), on a native memo: nothing can run
 * user code, so building the copy straight from x gives what stdlib's
 * type(x)(deepcopy(list(x))) gives: the items are added in x's order, which is
 * the order of its table (skipping unused slots and dummies, whose hash is -1
 * as cpython/setobject.h documents).  An item whose hash or comparison may
 * run code (fdc_is_atomic_key_type: a weak reference, a range) is left to the
 * general path, which works on a snapshot of x.  Returns NULL without an
 * exception when an item does not qualify (nothing observable has happened
 * then).  stdlib's memo also holds an entry for its temporary list: `items`
 * (unless NULL) receives the items read, borrowed, in list(x)'s order, for
 * fdc_memo_set_temporaries. */
static PyObject *
copy_atomic_set(PyObject *x, PyObject **items)
{
    PyObject *y = PySet_CheckExact(x) ? PySet_New(NULL) : PyFrozenSet_New(NULL);
    if (y == NULL) {
        return NULL;
    }
    /* (adding atomic keys runs no user code, and a table resize is no
     * collection: the table read stays x's) */
    const PySetObject *so = (const PySetObject *)x;
    Py_ssize_t n = 0;
    for (Py_ssize_t i = 0; i <= so->mask; i++) {
        const setentry *entry = &so->table[i];
        if (entry->key == NULL || entry->hash == -1) {
            continue;
        }
        if (!is_own_copy_key(entry->key)) {
            Py_DECREF(y);
            return NULL;
        }
        if (PySet_Add(y, entry->key) < 0) {
            Py_DECREF(y);
            return NULL;
        }
        if (items != NULL) {
            items[n++] = entry->key;   /* borrowed: list(x)'s order */
        }
    }
    FDC_STATS.objects += (uint64_t)PySet_GET_SIZE(y);
    return y;
}

PyObject *
fdc_copy_set(fdc_ctx *ctx, PyObject *x)
{
    if (ctx->native != NULL && FDC.atomic_ok) {
        /* stdlib's temporary L = list(x) is recorded, for a set as its items
         * now (a frozenset's cannot change) */
        PyObject **items = fdc_memo_set_temporaries_begin(ctx, x);
        if (items == NULL && PyErr_Occurred()) {
            return NULL;
        }
        PyObject *y = copy_atomic_set(x, items);
        if (y != NULL && fdc_memo_set_temporaries(ctx, x) < 0) {
            Py_CLEAR(y);
        }
        if (y != NULL || PyErr_Occurred()) {
            return y;
        }
    }
    /* stdlib goes through set.__reduce_ex__(4): (type(x), (list(x),), None),
     * then type(x)(deepcopy(that list)).  The snapshot list is copied (and
     * memoized) like any list; the set is memoized only after its items. */
    PyObject *items = PySequence_List(x);
    if (items == NULL) {
        return NULL;
    }
    PyObject *copied = fdc_deepcopy_rec(ctx, items);
    Py_DECREF(items);
    if (copied == NULL) {
        return NULL;
    }
    PyObject *y = PySet_CheckExact(x) ? PySet_New(copied) : PyFrozenSet_New(copied);
    Py_DECREF(copied);
    /* _reconstruct's own memo[id(x)] = y (deepcopy stores it again after) */
    if (y != NULL && ctx->native == NULL && fdc_memo_set(ctx, x, y) < 0) {
        Py_CLEAR(y);
    }
    return y;
}

PyObject *
fdc_copy_bytearray(fdc_ctx *ctx, PyObject *x)
{
    /* bytearray.__reduce_ex__(4) -> (bytearray, (bytes(x),), None): a new
     * bytearray with the same bytes, its buffer exactly n + 1 bytes as
     * bytearray(b) allocates it.  Made empty, then given a buffer from the
     * allocator bytearray frees it with: never PyByteArray_FromStringAndSize(
     * data, n), which deallocates a half-initialized object when its buffer
     * allocation fails, nor PyByteArray_Resize, which goes through realloc. */
    Py_ssize_t n = PyByteArray_GET_SIZE(x);
    PyObject *y = PyByteArray_FromStringAndSize(NULL, 0);
    if (y == NULL || n == 0) {
        return y;
    }
    char *buffer = PyObject_Malloc((size_t)n + 1);
    if (buffer == NULL) {
        Py_DECREF(y);
        return PyErr_NoMemory();
    }
    memcpy(buffer, PyByteArray_AS_STRING(x), (size_t)n);
    buffer[n] = '\0';
    PyByteArrayObject *b = (PyByteArrayObject *)y;
    b->ob_bytes = buffer;
    b->ob_start = buffer;
    b->ob_alloc = n + 1;
    Py_SET_SIZE(y, n);
    return y;
}

/* ---- a flat root: the whole copy without a memo -------------------------- */

/* A call deepcopy(x) with no memo, x an exact list or dict whose items
 * (values; keys atomic) are their own copies or flat containers, each of
 * those met once: no user code runs and no object is met twice, so no memo
 * lookup can hit and nobody sees the memo; the copy needs none at all. */
typedef struct {
    PyObject *items[FDC_FLAT_INLINE];   /* the flat containers met (borrowed) */
    Py_ssize_t count;
} flat_seen;

/* Is v its own copy (0), a flat container met for the first time (1), or
 * neither / a container met before / one too many (-1)? */
static int
classify_root_item(PyObject *v, flat_seen *seen, int tuple_ok)
{
    if (fdc_is_own_copy(v, tuple_ok)) {
        return 0;
    }
    if (seen->count == FDC_FLAT_INLINE || !fdc_is_flat_container(v, tuple_ok)) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < seen->count; i++) {
        if (seen->items[i] == v) {
            return -1;   /* shared: its second copy is a memo hit */
        }
    }
    seen->items[seen->count++] = v;
    return 1;
}

/* The copy of a flat container (its items are their own copies).  v may be
 * borrowed from the container being copied: its allocations pause the
 * collector (a bytearray is not tracked by it). */
static PyObject *
copy_flat(PyObject *v)
{
    FDC_STATS.objects++;
    if (PyByteArray_CheckExact(v)) {
        return fdc_copy_bytearray(NULL, v);
    }
    int gc = fdc_gc_pause();
    if (PyDict_CheckExact(v)) {
        FDC_STATS.objects += 2 * (uint64_t)PyDict_GET_SIZE(v);
        PyObject *y = PyDict_Copy(v);
        fdc_gc_resume(gc);
        return y;
    }
    Py_ssize_t n = PyList_GET_SIZE(v);
    PyObject *y = list_with_capacity(n);
    fdc_gc_resume(gc);
    if (y == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        ((PyListObject *)y)->ob_item[i] = Py_NewRef(PyList_GET_ITEM(v, i));
    }
    Py_SET_SIZE(y, n);
    FDC_STATS.objects += (uint64_t)n;
    return y;
}

static PyObject *
copy_flat_root_list(PyObject *x, int tuple_ok)
{
    Py_ssize_t n = PyList_GET_SIZE(x);
    if (n > FDC_FLAT_MAX) {
        /* (a long list is copied faster in one pass, by runs of one type,
         * than checked first: what the memo costs is small beside it) */
        return NULL;
    }
    flat_seen seen = {.count = 0};
    for (Py_ssize_t i = 0; i < n; i++) {
        if (classify_root_item(PyList_GET_ITEM(x, i), &seen, tuple_ok) < 0) {
            return NULL;
        }
    }
    /* (nothing below runs user code -- the allocations pause the collector,
     * whose finalizers could: x stays as classified, and the flat containers
     * come in seen.items' order, each once) */
    int gc = fdc_gc_pause();
    PyObject *y = list_with_capacity(n);
    fdc_gc_resume(gc);
    if (y == NULL) {
        return NULL;
    }
    Py_ssize_t next_flat = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = PyList_GET_ITEM(x, i);
        int flat = next_flat < seen.count && v == seen.items[next_flat];
        next_flat += flat;
        PyObject *c = flat ? copy_flat(v) : Py_NewRef(v);
        if (c == NULL) {
            Py_DECREF(y);
            return NULL;
        }
        ((PyListObject *)y)->ob_item[i] = c;
        Py_SET_SIZE(y, i + 1);
    }
    FDC_STATS.objects += 1 + (uint64_t)n - (uint64_t)seen.count;
    return y;
}

static PyObject *
copy_flat_root_dict(PyObject *x, int tuple_ok)
{
    if (((PyDictObject *)x)->ma_values != NULL) {
        return NULL;   /* a split table: as in fdc_copy_dict */
    }
    flat_seen seen = {.count = 0};
    PyObject *keys[FDC_FLAT_INLINE];
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (PyDict_Next(x, &pos, &key, &value)) {
        if (!fdc_is_atomic_key_type(Py_TYPE(key))) {
            return NULL;
        }
        Py_ssize_t before = seen.count;
        if (classify_root_item(value, &seen, tuple_ok) < 0) {
            return NULL;
        }
        if (seen.count > before) {
            keys[before] = key;
        }
    }
    /* a clone, whose flat values are then replaced by their copies, in x's
     * order (hashing atomic keys runs no user code); the clone holds what
     * keys[] and seen.items point to once made -- made with the collector
     * paused, since a dict with holes is copied into a new dict item by item */
    int gc = fdc_gc_pause();
    PyObject *y = PyDict_Copy(x);
    fdc_gc_resume(gc);
    if (y == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < seen.count; i++) {
        PyObject *c = copy_flat(seen.items[i]);
        int r = c != NULL ? PyDict_SetItem(y, keys[i], c) : -1;
        Py_XDECREF(c);
        if (r < 0) {
            Py_DECREF(y);
            return NULL;
        }
    }
    FDC_STATS.objects += 1 + 2 * (uint64_t)PyDict_GET_SIZE(x) - (uint64_t)seen.count;
    return y;
}

PyObject *
fdc_copy_flat_root(PyObject *x)
{
    if (!FDC.atomic_ok) {
        return NULL;
    }
    if (PyList_CheckExact(x) && FDC.list_ok) {
        return copy_flat_root_list(x, FDC.tuple_ok);
    }
    if (PyDict_CheckExact(x) && FDC.dict_ok) {
        return copy_flat_root_dict(x, FDC.tuple_ok);
    }
    return NULL;
}

#if FDC_FROZENDICT
PyObject *
fdc_copy_frozendict(fdc_ctx *ctx, PyObject *x)
{
    /* y = {}
     * for key, value in x.items(): y[deepcopy(key, memo)] = deepcopy(value, memo)
     * try: return memo[id(x)]  (x itself is not memoized first)
     * except KeyError: pass
     * return frozendict(y) */
    PyObject *y = PyDict_New();
    if (y == NULL) {
        return NULL;
    }
    Py_ssize_t pos = 0;
    PyObject *key, *value;
    while (PyDict_Next(x, &pos, &key, &value)) {   /* (x cannot change) */
        if (copy_dict_item(ctx, y, key, value) < 0) {
            Py_DECREF(y);
            return NULL;
        }
    }
    PyObject *hit;
    int r = tuple_memo_recheck(ctx, x, &hit);
    if (r != 0) {
        Py_DECREF(y);
        return r > 0 ? hit : NULL;
    }
    PyObject *f = PyFrozenDict_New(y);
    Py_DECREF(y);
    return f;
}
#endif
