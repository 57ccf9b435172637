/* memo.c — the native memo table (see memo.h). */
#include "memo.h"
#include <string.h>

#define FDC_MEMO_MIN_ENTRIES 16
/* After a call, a table that grew beyond this many entries is freed rather than
 * kept, so one huge copy does not make later small copies pay for its size. */
#define FDC_MEMO_RETAIN_ENTRIES 4096
#define FDC_KEEP_RETAIN 4096

void
fdc_memo_init(fdc_memo *m)
{
    memset(m, 0, sizeof(*m));
    m->keep_first_at = -1;
}

static void
index_insert(int32_t *index, size_t mask, size_t hash, int32_t ix)
{
    size_t i = hash & mask;
    while (index[i] != 0) {
        i = (i + 1) & mask;
    }
    index[i] = ix;
}

static int
memo_grow(fdc_memo *m)
{
    Py_ssize_t new_cap = m->capacity ? m->capacity * 2 : FDC_MEMO_MIN_ENTRIES;
    size_t new_slots = (size_t)new_cap * 2;
    if ((size_t)new_cap > (size_t)INT32_MAX / 2) {
        PyErr_NoMemory();
        return -1;
    }
    fdc_memo_entry *entries = PyMem_Realloc(m->entries, sizeof(fdc_memo_entry) * (size_t)new_cap);
    if (entries == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    m->entries = entries;
    int32_t *index = PyMem_Calloc(new_slots, sizeof(int32_t));
    if (index == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    PyMem_Free(m->index);
    m->index = index;
    m->mask = new_slots - 1;
    m->capacity = new_cap;
    for (Py_ssize_t k = 0; k < m->used; k++) {
        index_insert(index, m->mask, fdc_memo_hash(entries[k].key), (int32_t)(k + 1));
    }
    return 0;
}

/* Append an entry holding `value` as it is (the caller settled ownership). */
static inline int
memo_append(fdc_memo *m, void *key, size_t hash, PyObject *value)
{
    if (m->used == m->capacity && memo_grow(m) < 0) {
        return -1;
    }
    fdc_memo_entry *e = &m->entries[m->used];
    e->key = key;
    e->value = value;
    m->used++;
    index_insert(m->index, m->mask, hash, (int32_t)m->used);
    return 0;
}

int
fdc_memo_store(fdc_memo *m, void *key, size_t hash, PyObject *value)
{
    fdc_memo_entry *e = fdc_memo_find(m, key, hash);
    if (e != NULL) {
        PyObject *old = e->value;
        Py_INCREF(value);
        e->value = value;
        Py_DECREF(old);
        return 0;
    }
    return fdc_memo_insert_new(m, key, hash, value);
}

int
fdc_memo_insert_new(fdc_memo *m, void *key, size_t hash, PyObject *value)
{
    if (memo_append(m, key, hash, value) < 0) {
        return -1;
    }
    Py_INCREF(value);
    return 0;
}

int
fdc_memo_insert_new_borrowed(fdc_memo *m, void *key, size_t hash, PyObject *value)
{
    return memo_append(m, key, hash, value);
}

int
fdc_memo_set_borrowed(fdc_memo *m, void *key, size_t hash, PyObject *value)
{
    fdc_memo_entry *e = fdc_memo_find(m, key, hash);
    if (e != NULL) {
        e->value = value;
        return 0;
    }
    return memo_append(m, key, hash, value);
}

/* Room in *array (*capacity pointers, `used` of them in use) for n more: the
 * capacity doubles, from `first`.  -1 + MemoryError on failure. */
static int
grow_pointers(PyObject ***array, Py_ssize_t *capacity, Py_ssize_t used, Py_ssize_t n,
              Py_ssize_t first)
{
    Py_ssize_t cap = *capacity ? *capacity : first;
    while (cap - used < n) {
        cap *= 2;
    }
    PyObject **grown = PyMem_Realloc(*array, sizeof(PyObject *) * (size_t)cap);
    if (grown == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    *array = grown;
    *capacity = cap;
    return 0;
}

int
fdc_memo_keep(fdc_memo *m, PyObject *obj)
{
    if (m->keep_used == m->keep_capacity &&
        grow_pointers(&m->keep, &m->keep_capacity, m->keep_used, 1, 16) < 0) {
        return -1;
    }
    if (m->keep_first_at < 0) {
        m->keep_first_at = m->used;
    }
    Py_INCREF(obj);
    m->keep[m->keep_used++] = obj;
    return 0;
}

/* Zero the index slots of the used entries, newest first: with linear probing an
 * entry's probe run only crosses entries inserted before it, so removing in
 * reverse order never cuts a run that is still needed. */
static void
index_clear_used(fdc_memo *m)
{
    if ((size_t)m->used * 8 >= m->mask + 1) {
        memset(m->index, 0, sizeof(int32_t) * (m->mask + 1));
        return;
    }
    for (Py_ssize_t k = m->used - 1; k >= 0; k--) {
        size_t i = fdc_memo_hash(m->entries[k].key) & m->mask;
        while (m->index[i] != (int32_t)(k + 1)) {
            i = (i + 1) & m->mask;
        }
        m->index[i] = 0;
    }
}

int
fdc_memo_temps_reserve(fdc_memo *m, Py_ssize_t n)
{
    if (m->temps_capacity - m->temps_used >= n) {
        return 0;
    }
    return grow_pointers(&m->temps, &m->temps_capacity, m->temps_used, n, 64);
}

void
fdc_memo_drop_temps(fdc_memo *m)
{
    /* detach first: a decref may run a finalizer */
    Py_ssize_t used = m->temps_used;
    PyObject **temps = m->temps;
    int big = m->temps_capacity > FDC_KEEP_RETAIN;
    m->temps_used = 0;
    m->temp_lists = 0;
    if (big) {
        m->temps = NULL;
        m->temps_capacity = 0;
    }
    for (Py_ssize_t k = 0; k < used; k++) {
        Py_XDECREF(temps[k]);
    }
    if (big) {
        PyMem_Free(temps);
    }
}

void
fdc_memo_clear(fdc_memo *m)
{
    Py_ssize_t used = m->used, keep_used = m->keep_used;
    if (m->temps_used > 0) {
        fdc_memo_drop_temps(m);
    }
    if (used == 0 && keep_used == 0) {
        m->borrowed = 0;
        return;
    }
    if (used > 0) {
        index_clear_used(m);
    }
    /* Reset the counters before any decref: a destructor may run Python code. */
    m->used = 0;
    m->keep_used = 0;
    m->keep_first_at = -1;
    m->pending = 0;
    m->standins = 0;
    int owned = !m->borrowed;
    m->borrowed = 0;
    fdc_memo_entry *entries = m->entries;
    PyObject **keep = m->keep;
    /* Detach big arrays before releasing the references they hold. */
    int big = m->capacity > FDC_MEMO_RETAIN_ENTRIES || m->keep_capacity > FDC_KEEP_RETAIN;
    if (big) {
        m->entries = NULL;
        m->keep = NULL;
        PyMem_Free(m->index);
        m->index = NULL;
        m->capacity = m->keep_capacity = 0;
        m->mask = 0;
    }
    if (owned) {
        for (Py_ssize_t k = 0; k < used; k++) {
            Py_DECREF(entries[k].value);
        }
    }
    for (Py_ssize_t k = 0; k < keep_used; k++) {
        Py_DECREF(keep[k]);
    }
    if (big) {
        PyMem_Free(entries);
        PyMem_Free(keep);
    }
}

void
fdc_memo_free(fdc_memo *m)
{
    fdc_memo_clear(m);
    PyMem_Free(m->entries);
    PyMem_Free(m->index);
    PyMem_Free(m->keep);
    PyMem_Free(m->temps);
    fdc_memo_init(m);
}

static int
dict_set_id(PyObject *d, const void *key, PyObject *value)
{
    PyObject *k = PyLong_FromVoidPtr((void *)key);
    if (k == NULL) {
        return -1;
    }
    int r = PyDict_SetItem(d, k, value);
    Py_DECREF(k);
    return r;
}

static PyObject *
keep_as_list(const fdc_memo *m)
{
    PyObject *list = PyList_New(m->keep_used);
    if (list == NULL) {
        return NULL;
    }
    for (Py_ssize_t k = 0; k < m->keep_used; k++) {
        Py_INCREF(m->keep[k]);
        PyList_SET_ITEM(list, k, m->keep[k]);
    }
    return list;
}

PyObject *
fdc_memo_to_dict(const fdc_memo *m, Py_ssize_t room, PyObject **dict_id)
{
    *dict_id = NULL;
    PyObject *d = room > m->used ? _PyDict_NewPresized(room) : PyDict_New();
    if (d == NULL) {
        return NULL;
    }
    /* id(d), also the key of the keep-alive list: the same object, so that
     * looking the list up with it is an identity hit */
    PyObject *id = PyLong_FromVoidPtr(d);
    if (id == NULL) {
        Py_DECREF(d);
        return NULL;
    }
    for (Py_ssize_t k = 0; k <= m->used; k++) {
        if (k == m->keep_first_at) {
            PyObject *list = keep_as_list(m);
            if (list == NULL || PyDict_SetItem(d, id, list) < 0) {
                Py_XDECREF(list);
                goto error;
            }
            Py_DECREF(list);
        }
        if (k < m->used && dict_set_id(d, m->entries[k].key, m->entries[k].value) < 0) {
            goto error;
        }
    }
    *dict_id = id;
    return d;
error:
    Py_DECREF(id);
    Py_DECREF(d);
    return NULL;
}

size_t
fdc_memo_bytes(const fdc_memo *m)
{
    return sizeof(fdc_memo_entry) * (size_t)m->capacity +
           sizeof(int32_t) * (m->capacity ? m->mask + 1 : 0) +
           sizeof(PyObject *) * (size_t)(m->keep_capacity + m->temps_capacity);
}

void
fdc_memo_reindex(fdc_memo *m)
{
    if (m->used == 0) {
        return;
    }
    memset(m->index, 0, sizeof(int32_t) * (m->mask + 1));
    for (Py_ssize_t k = 0; k < m->used; k++) {
        index_insert(m->index, m->mask, fdc_memo_hash(m->entries[k].key), (int32_t)(k + 1));
    }
}
