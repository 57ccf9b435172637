/* mirror.c — a native index over an exposed memo dict.
 *
 * Once a __deepcopy__ has seen the memo, the memo is a real dict and stdlib's
 * operations on it are what everyone must observe.  Writes still go to the
 * dict, one by one, exactly as stdlib makes them.  Lookups, which are most of
 * the work (stdlib looks up every object, ints and strings included), are
 * answered by the native table the copy started with, kept equal to the dict's
 * int keys:
 *
 *  - the dict's version tag changes on every modification; when it differs from
 *    the one recorded after our own last write, someone else wrote, and the
 *    entries appended since are read into the index (resync);
 *  - entries are appended in order and never deleted by us, so "appended
 *    since" is the entries after position `synced`; that the entry before them
 *    is still `last_key` proves no entry before them moved;
 *  - a deletion leaves a hole (or compacts the table and moves `last_key`):
 *    the index cannot follow that cheaply, so the mirror gives up ("broken") and
 *    every later operation is a plain dict operation, as before mirrors existed;
 *  - an overwritten value leaves the layout alone and is not seen by a resync,
 *    so a hit on an entry the index had before the last resync is confirmed
 *    by the dict itself (those read by that resync, or stored by us since,
 *    hold the dict's values: `exact_from`): read at the entry's position when
 *    the index is aligned with the dict (entry k of the index is entry k of
 *    the dict while every key of the dict is in the index, since both are
 *    filled in the dict's order, from its start when the mirror starts or
 *    rebuilds) and the key found there is id(x); else by a lookup;
 *  - keys that are neither exact ints nor exact strs could compare equal to an
 *    id() (floats, int subclasses, objects with __eq__): the mirror gives up.
 *
 * A miss in the index is therefore exact, and misses are what the index makes
 * cheap: no int object is created and no dict is probed for them.
 *
 * The index's values are borrowed from the dict (its `borrowed` flag): a
 * value that someone overwrites in the dict dies then, as it would with
 * stdlib, and a stale one is never used -- before anyone else wrote the index
 * is exact, and after that a hit is confirmed by the dict.
 */
#include "fdc.h"

static int
key_to_address(PyObject *key, void **addr)
{
    /* 1: an int that could be an id() (in *addr); 0: one that cannot; -1: error */
    if (fdc_long_is_negative(key)) {
        return 0;
    }
    void *p = PyLong_AsVoidPtr(key);
    if (p == NULL && PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_OverflowError)) {
            return -1;
        }
        PyErr_Clear();
        return 0;
    }
    *addr = p;
    return 1;
}

/* Put one entry of the dict into the index.  1: mirror must give up. */
static int
index_entry(fdc_mirror *m, PyObject *key, PyObject *value)
{
    if (PyUnicode_CheckExact(key)) {
        return 0;   /* never equal to an int */
    }
    if (!PyLong_CheckExact(key)) {
        return 1;
    }
    void *addr;
    int r = key_to_address(key, &addr);
    if (r <= 0) {
        return r;
    }
    return fdc_memo_set_borrowed(m->index, addr, fdc_memo_hash(addr), value);
}

static void
set_last_key(fdc_mirror *m, PyObject *key)
{
    Py_XINCREF(key);
    Py_XSETREF(m->last_key, key);
}

/* Is the entry at position synced-1 still last_key? */
static int
prefix_unmoved(fdc_mirror *m)
{
    if (m->synced == 0) {
        return 1;
    }
    Py_ssize_t pos = m->synced - 1;
    PyObject *key, *value;
    return PyDict_Next(m->dict, &pos, &key, &value) && key == m->last_key &&
           pos == m->synced;
}

/* Read entries from position `from` on into the index.  Returns 0, 1 when the
 * mirror must give up, -1 on error; *count: entries read, *last: the last key. */
static int
read_entries(fdc_mirror *m, Py_ssize_t from, Py_ssize_t *count, PyObject **last)
{
    Py_ssize_t pos = from, n = 0;
    PyObject *key, *value;
    *last = NULL;
    while (PyDict_Next(m->dict, &pos, &key, &value)) {
        if (pos != from + n + 1) {
            return 1;   /* a hole: something was deleted */
        }
        int r = index_entry(m, key, value);
        if (r != 0) {
            return r;
        }
        n++;
        *last = key;
    }
    *count = n;
    return 0;
}

static void
give_up(fdc_mirror *m)
{
    m->broken = 1;
    m->kept = NULL;
}

/* Read the entries from position `from` on into the index and, if they are
 * all the dict has after it, take the dict as caught up at `version`.
 * 0 ok, 1 they are not (or the mirror must give up), -1 error. */
static int
read_since(fdc_mirror *m, Py_ssize_t from, uint64_t version)
{
    Py_ssize_t count;
    PyObject *last;
    int r = read_entries(m, from, &count, &last);
    if (r != 0) {
        return r;
    }
    if (from + count != PyDict_GET_SIZE(m->dict)) {
        return 1;
    }
    if (count > 0) {
        set_last_key(m, last);
    }
    m->synced = from + count;
    m->version = version;
    return 0;
}

/* Empty the index and read the dict into it from its start, so that entry k
 * of one is entry k of the other; only works when the dict has no holes.
 * Emptying it runs no finalizer: its values are borrowed from the dict, or,
 * when the mirror starts, held by the dict too.  0 ok, 1 gave up, -1 error. */
static int
read_from_start(fdc_mirror *m, uint64_t version)
{
    fdc_memo_clear(m->index);
    m->index->borrowed = 1;
    m->exact_from = 0;
    set_last_key(m, NULL);
    int r = read_since(m, 0, version);
    if (r > 0) {
        give_up(m);
    }
    return r;
}

/* The dict changed behind our back: catch up.  0 ok, 1 gave up, -1 error. */
static int
resync(fdc_mirror *m)
{
    m->resyncs++;
    m->kept = NULL;
    /* the version read now: if a finalizer run while the index is updated
     * changes the dict, the next check sees a newer one and resyncs again */
    uint64_t version = fdc_dict_version(m->ver);
    if (PyDict_GET_SIZE(m->dict) >= m->synced && prefix_unmoved(m)) {
        /* the values of the entries already read may have been overwritten */
        m->exact_from = m->index->used;
        int r = read_since(m, m->synced, version);
        if (r <= 0) {
            return r;
        }
    }
    /* entries moved, or some were deleted */
    return read_from_start(m, version);
}

int
fdc_mirror_check_slow(fdc_mirror *m)
{
    if (m->broken) {
        return 1;
    }
    return resync(m);
}

PyObject *
fdc_mirror_value_at(fdc_mirror *m, fdc_memo_entry *e)
{
    if (m->index->used != m->synced) {
        return NULL;   /* some key of the dict (a str...) is not in the index */
    }
    Py_ssize_t k = e - m->index->entries, pos = k;
    PyObject *key, *value;
    if (!PyDict_Next(m->dict, &pos, &key, &value) || pos != k + 1) {
        return NULL;
    }
    if (key == m->dict_id) {
        /* our own key object (held): id(memo), whose value is the keep-alive list */
        return e->key == (void *)m->dict ? value : NULL;
    }
    if (!PyLong_CheckExact(key)) {
        return NULL;
    }
    /* a dict refilled with its own key objects in another order passes the
     * resync's test of the last key: the key itself says */
    void *addr;
    int r = key_to_address(key, &addr);
    if (r < 0) {
        PyErr_Clear();
    }
    return r == 1 && addr == e->key ? value : NULL;
}

/* Is the dict's value for the index entry e (of x) y already?  1 yes, 0 no,
 * -1 error.  `key`: id(x), or NULL. */
static int
dict_holds(fdc_mirror *m, fdc_memo_entry *e, PyObject *x, PyObject *key, PyObject *y)
{
    if (e - m->index->entries >= m->exact_from) {
        return e->value == y;   /* read or stored since anyone else wrote */
    }
    PyObject *current = fdc_mirror_value_at(m, e);
    if (current != NULL) {
        return current == y;
    }
    PyObject *own = NULL;
    if (key == NULL) {
        key = own = PyLong_FromVoidPtr(x);
        if (key == NULL) {
            return -1;
        }
    }
    /* its keys are exact ints and strs: the lookup runs no user code */
    current = PyDict_GetItemWithError(m->dict, key);
    Py_XDECREF(own);
    if (current == NULL && PyErr_Occurred()) {
        return -1;
    }
    return current == y;
}

int
fdc_mirror_setitem(fdc_mirror *m, PyObject *x, PyObject *key, PyObject *y)
{
    PyObject *own = NULL;
    /* after a successful check the index has exactly the dict's int keys */
    size_t hash = fdc_memo_hash(x);
    fdc_memo_entry *e = fdc_memo_find(m->index, x, hash);
    int replacing = e != NULL;
    if (e != NULL && e->value == y) {
        /* Storing the value the key already has changes nothing (the dict
         * keeps its key object too): stdlib's memo[id(x)] = y after a
         * __deepcopy__ that stored it itself -- if the dict still has it. */
        int holds = dict_holds(m, e, x, key, y);
        if (holds != 0) {
            return holds < 0 ? -1 : 0;
        }
    }
    if (key == NULL) {
        key = own = PyLong_FromVoidPtr(x);
        if (key == NULL) {
            return -1;
        }
    }
    int r;
    if (replacing) {
        /* (releasing the old value may run a finalizer that writes to the
         * dict: that write must move the version) */
        r = PyDict_SetItem(m->dict, key, y);
    }
    else {
        /* Appending an exact int key runs no user code: no write but ours can
         * happen meanwhile, so it needs no version of its own (3.14+: no
         * watcher event, which costs more than the write's bookkeeping). */
        fdc_dict_quiet_begin(m->ver);
        r = PyDict_SetItem(m->dict, key, y);
        fdc_dict_quiet_end(m->ver);
    }
    if (r == 0) {
        r = replacing ? fdc_memo_set_borrowed(m->index, x, hash, y)
                      : fdc_memo_insert_new_borrowed(m->index, x, hash, y);
        if (r < 0) {
            give_up(m);   /* the dict has the entry, the index does not */
        }
    }
    if (r == 0 && !replacing) {
        /* appended: nothing was released, so no user code ran: in sync */
        m->synced += 1;
        set_last_key(m, key);
        m->version = fdc_dict_version(m->ver);
    }
    /* Replacing released the dict's old value, whose finalizer may have
     * changed the dict: m->version stays behind, so the next check resyncs. */
    Py_XDECREF(own);
    return r;
}

int
fdc_mirror_start(fdc_mirror *m, PyObject *dict, PyObject *dict_id, fdc_memo *index)
{
    /* `index` holds the entries `dict` was built from (the dict holds their
     * values and, in its keep-alive list, the kept originals too), in another
     * order: the keep-alive list has its own place in the dict. */
    m->index = index;   /* first: fdc_mirror_stop hands it back even after a failure */
    m->dict_id = Py_NewRef(dict_id);
    m->dict = Py_NewRef(dict);
    m->broken = 0;
    m->resyncs = 0;
    m->kept = NULL;
    m->synced = 0;
    m->last_key = NULL;
    m->ver = fdc_dict_follow(dict);
    if (m->ver == NULL) {
        give_up(m);
        return -1;
    }
    int r = read_from_start(m, fdc_dict_version(m->ver));
    if (r < 0) {
        give_up(m);
        return -1;
    }
    return 0;
}

fdc_memo *
fdc_mirror_stop(fdc_mirror *m)
{
    fdc_memo *index = m->index;
    m->index = NULL;
    m->kept = NULL;
    Py_CLEAR(m->last_key);
    Py_CLEAR(m->dict_id);
    if (m->ver != NULL) {
        fdc_dict_unfollow(m->ver);
        m->ver = NULL;
    }
    Py_CLEAR(m->dict);
    return index;
}
