/* memo.h — the native memo: a pointer-keyed open-addressing table.
 *
 * Entries are kept in insertion order in a dense array (like CPython's compact
 * dict), with a separate power-of-two index of int32 slots probed linearly.
 * The key is the original object's address (never dereferenced, never owned:
 * the originals are kept alive by the keep-alive array exactly as stdlib keeps
 * them alive in memo[id(memo)]).  Values are owned references -- except in
 * a mirror's index (mirror.c), whose dict holds them: there they are borrowed,
 * so that a value the dict lets go of dies when stdlib's would.
 * All memory comes from PyMem_* so tracemalloc sees it.
 */
#ifndef FDC_MEMO_H
#define FDC_MEMO_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

typedef struct {
    void *key;           /* id() of the original */
    PyObject *value;     /* owned */
} fdc_memo_entry;

typedef struct {
    int32_t *index;          /* slot -> entry number + 1; 0 = empty */
    size_t mask;             /* index size - 1 (size is a power of two) */
    fdc_memo_entry *entries; /* dense, insertion order */
    Py_ssize_t used;         /* entries in use */
    Py_ssize_t capacity;     /* entries allocated */
    PyObject **keep;         /* keep-alive originals (owned), append order */
    Py_ssize_t keep_used, keep_capacity;
    Py_ssize_t keep_first_at;/* `used` when the first keep-alive was added, -1 if none */
    Py_ssize_t pending;      /* values that are pending state snapshots (pending.c) */
    Py_ssize_t standins;     /* keys that are stand-ins for temporaries (pending.c) */
    /* What the temporary lists of set copies are made from when the memo is
     * handed out (pending.c): per set x, x itself, then for a set (not a
     * frozenset) its items and a NULL.  Owned. */
    PyObject **temps;
    Py_ssize_t temps_used, temps_capacity;
    Py_ssize_t temp_lists;   /* sets recorded there */
    int borrowed;            /* values are borrowed (a mirror's index); reset by clearing */
} fdc_memo;

static inline size_t
fdc_memo_hash(const void *key)
{
    uintptr_t h = (uintptr_t)key;
    h ^= h >> 4;
    h *= (uintptr_t)0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 17) ^ (size_t)h;
}

void fdc_memo_init(fdc_memo *m);
/* The entry of key, or NULL when absent. */
static inline fdc_memo_entry *
fdc_memo_find(const fdc_memo *m, const void *key, size_t hash)
{
    if (m->used == 0) {
        return NULL;
    }
    size_t i = hash & m->mask;
    for (;;) {
        int32_t ix = m->index[i];
        if (ix == 0) {
            return NULL;
        }
        if (m->entries[ix - 1].key == key) {
            return &m->entries[ix - 1];
        }
        i = (i + 1) & m->mask;
    }
}

/* Borrowed value or NULL when absent; never raises. */
static inline PyObject *
fdc_memo_lookup(const fdc_memo *m, const void *key, size_t hash)
{
    fdc_memo_entry *e = fdc_memo_find(m, key, hash);
    return e != NULL ? e->value : NULL;
}
/* Insert or replace (steals nothing: increfs value).  -1 + MemoryError on failure. */
int fdc_memo_store(fdc_memo *m, void *key, size_t hash, PyObject *value);
/* Insert a key known to be absent (no probe for it).  -1 + MemoryError on failure. */
int fdc_memo_insert_new(fdc_memo *m, void *key, size_t hash, PyObject *value);
/* Insert or replace in a memo whose values are borrowed (`borrowed` set):
 * no reference is taken or released. */
int fdc_memo_set_borrowed(fdc_memo *m, void *key, size_t hash, PyObject *value);
/* The same for a key known to be absent. */
int fdc_memo_insert_new_borrowed(fdc_memo *m, void *key, size_t hash, PyObject *value);
int fdc_memo_keep(fdc_memo *m, PyObject *obj);
/* Release every reference (values only when owned); keep the allocation if
 * small, shrink if large.  The values of a cleared memo are owned again. */
void fdc_memo_clear(fdc_memo *m);
/* Release everything including the allocation. */
void fdc_memo_free(fdc_memo *m);
/* Build the dict stdlib would hold: {id(k): v, ..., id(d): [kept...]}, with
 * room for `room` entries; *dict_id: a new reference to id(d), the very key
 * of the keep-alive list. */
PyObject *fdc_memo_to_dict(const fdc_memo *m, Py_ssize_t room, PyObject **dict_id);
size_t fdc_memo_bytes(const fdc_memo *m);
/* Room for n more pointers in `temps` (which does not change in between). */
int fdc_memo_temps_reserve(fdc_memo *m, Py_ssize_t n);
/* Release `temps`' references (and its memory if large). */
void fdc_memo_drop_temps(fdc_memo *m);
/* Rebuild the index from the entries (after their keys were changed). */
void fdc_memo_reindex(fdc_memo *m);

#endif
