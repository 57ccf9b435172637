/* fdc.h — shared declarations of the fastdeepcopy engine.
 *
 * Ownership conventions used throughout: a function returning PyObject* returns a
 * NEW reference (or NULL with an exception set) unless its comment says
 * "borrowed".  Functions returning int return 0 on success and -1 with an
 * exception set on failure, unless documented otherwise.
 */
#ifndef FDC_H
#define FDC_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#include "version.h"

#include "memo.h"

/* Force inlining where a caller passes a constant that removes a test from
 * a loop, and keep a rarely taken path out of line where inlining it would
 * make the common one save registers (GCC and Clang; elsewhere plain). */
#if defined(__GNUC__)
#define FDC_ALWAYS_INLINE inline __attribute__((always_inline))
#define FDC_NOINLINE __attribute__((noinline))
#else
#define FDC_ALWAYS_INLINE inline
#define FDC_NOINLINE
#endif

/* ---- versions of the dicts the engine follows (dictver.c) ------------------ */
#if FDC_DICT_WATCHERS
typedef struct {
    PyObject *dict;       /* borrowed; NULL once the dict was deallocated */
    uint64_t version;     /* changes on every modification of the dict */
    Py_ssize_t users;     /* holders of this handle */
} fdc_dictver;
typedef fdc_dictver *fdc_dictref;
#else
typedef PyObject *fdc_dictref;   /* the dict itself: its ma_version_tag */
#endif

int fdc_dictver_init(void);
/* Follow dict: a handle whose version changes on every modification of it
 * (NULL with an exception on failure).  Each follow is ended by an unfollow. */
fdc_dictref fdc_dict_follow(PyObject *dict);
void fdc_dict_unfollow(fdc_dictref ref);
/* Around a write of ours that runs no user code, whose version change
 * nobody needs to see: no watcher event for it (3.14+; nothing before). */
void fdc_dict_quiet_begin(fdc_dictref ref);
void fdc_dict_quiet_end(fdc_dictref ref);

/* Is the exact int v negative? */
static inline int
fdc_long_is_negative(PyObject *v)
{
#if FDC_LONG_GETSIGN
    int sign;
    return PyLong_GetSign(v, &sign) == 0 && sign < 0;
#else
    return _PyLong_Sign(v) < 0;
#endif
}

static inline uint64_t
fdc_dict_version(fdc_dictref ref)
{
#if FDC_DICT_WATCHERS
    return ref->version;
#else
#if FDC_SET_VECTORCALL
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif
    return ((PyDictObject *)ref)->ma_version_tag;
#if FDC_SET_VECTORCALL
#pragma GCC diagnostic pop
#endif
#endif
}

/* What moves when a set's content changes (a removal and an addition that
 * reuses the removed item's slot excepted): its table, size and fill. */
typedef struct {
    Py_ssize_t fill, used, mask;
    void *table;
} fdc_set_fingerprint_t;

static inline void
fdc_set_fingerprint(PyObject *set, fdc_set_fingerprint_t *fp)
{
    PySetObject *so = (PySetObject *)set;
    fp->fill = so->fill;
    fp->used = so->used;
    fp->mask = so->mask;
    fp->table = so->table;
}

static inline int
fdc_set_fingerprint_same(PyObject *set, const fdc_set_fingerprint_t *fp)
{
    PySetObject *so = (PySetObject *)set;
    return so->fill == fp->fill && so->used == fp->used && so->mask == fp->mask &&
           (void *)so->table == fp->table;
}

/* ---- interpreter-wide references, filled at import (env.c) ---------------- */
typedef struct {
    PyObject *copy_module;        /* the stdlib `copy` module */
    PyObject *copy_dict;          /* borrowed: copy.__dict__ */
    PyObject *copyreg_module;
    PyObject *copyreg_dict;       /* borrowed: copyreg.__dict__ */

    /* Snapshot of module globals, refreshed when a watched dict changes. */
    PyObject *deepcopy_dispatch;  /* copy._deepcopy_dispatch */
    PyObject *reduce_table;       /* copy.dispatch_table (copyreg's) */
    PyObject *copy_error;         /* copy.Error */
    PyObject *reconstruct;        /* copy._reconstruct */
    PyObject *newobj;             /* copyreg.__newobj__ */
    PyObject *newobj_orig;        /* copyreg.__newobj__ when we were imported */
    PyObject *deepcopy_atomic;    /* copy._deepcopy_atomic (until 3.13) */
    PyObject *atomic_types;       /* copy._atomic_types (3.14+) */
    PyObject *deepcopy_frozendict; /* copy._deepcopy_frozendict (3.15+) */
    PyObject *copy_atomic_types;  /* copy._copy_atomic_types (3.14+) */
    PyObject *copy_builtin_containers; /* copy._copy_builtin_containers (3.14+) */
    PyObject *deepcopy_list;      /* copy._deepcopy_list */
    PyObject *deepcopy_tuple;     /* copy._deepcopy_tuple */
    PyObject *deepcopy_dict;      /* copy._deepcopy_dict */
    PyObject *deepcopy_method;    /* copy._deepcopy_method */

    /* Which native fast paths agree with the dispatch tables right now. */
    int atomic_ok;       /* every atomic type maps to _deepcopy_atomic (until 3.13);
                            _atomic_types is exactly the atomic types (3.14+) */
    int frozendict_ok;   /* frozendict maps to _deepcopy_frozendict (3.15+) */
    int atomic_set_mutable;       /* _atomic_types is a set (3.14): atomic_set_fp */
    fdc_set_fingerprint_t atomic_set_fp;
    int list_ok, tuple_ok, dict_ok, method_ok;
    int set_ok, frozenset_ok, bytearray_ok;   /* absent from both tables */
    int newobj_ok;       /* copyreg.__newobj__ is the one object.__reduce_ex__ names */

    uint64_t epoch;               /* bumped on every refresh */
    uint64_t versions[4];         /* dict versions the snapshot was taken at */
    fdc_dictref watched[4];       /* the dicts whose versions we track */

    /* interned strings */
    PyObject *s_new, *s_func, *s_name, *s_tuple_new;
    PyObject *s_deepcopy, *s_reduce_ex, *s_reduce, *s_setstate, *s_dict,
             *s_update, *s_items, *s_append, *s_get, *s_copy, *s_copy_method, *s_replace,
             *s_slotnames, *s_getstate, *s_getnewargs, *s_getnewargs_ex;
    PyObject *empty_tuple;
    PyObject *four;               /* the int 4 (protocol for __reduce_ex__) */
    PyObject *copy_dispatch;      /* copy._copy_dispatch */
    PyObject *nil;                /* private sentinel for memo.get(d, nil) */
    PyObject *temp_marker;        /* private: keep-alive place of a set's temporary list */
    PyObject *star_call1;         /* lazily compiled `lambda f, r: f(*r)` */
    PyObject *star_call3;         /* lazily compiled `lambda f, a, b, r: f(a, b, *r)` */
    PyObject *enum_deepcopy;      /* enum.Enum.__deepcopy__ when enum is loaded */
    PyObject *enum_module_seen;   /* the enum module object enum_deepcopy came from */
} fdc_env;

extern fdc_env FDC;

int fdc_env_init(void);
/* Re-read the module globals when one of the watched dicts changed. */
int fdc_env_refresh_slow(void);
/* Has the content of a mutable copy._atomic_types changed (3.14)? */
static inline int
fdc_atomic_set_changed(void)
{
#if FDC_ATOMIC_SET
    return FDC.atomic_set_mutable &&
           !fdc_set_fingerprint_same(FDC.atomic_types, &FDC.atomic_set_fp);
#else
    return 0;
#endif
}

static inline int
fdc_env_refresh(void)
{
    for (int i = 0; i < 4; i++) {
        if (fdc_dict_version(FDC.watched[i]) != FDC.versions[i]) {
            return fdc_env_refresh_slow();
        }
    }
    if (fdc_atomic_set_changed()) {
        return fdc_env_refresh_slow();
    }
    return 0;
}

/* Is FDC.atomic_ok current?  It depends only on copy.__dict__ (which names
 * _deepcopy_dispatch and _deepcopy_atomic, or _atomic_types) and on the
 * dispatch table (or _atomic_types' content). */
static inline int
fdc_atomic_decision_current(void)
{
    return fdc_dict_version(FDC.watched[0]) == FDC.versions[0] &&
           fdc_dict_version(FDC.watched[2]) == FDC.versions[2] &&
           !fdc_atomic_set_changed();
}

/* ---- statistics (stats.c) ------------------------------------------------- */
typedef struct {
    uint64_t calls;           /* every entry into deepcopy() */
    uint64_t toplevel;        /* entries with no caller memo and no copy running */
    uint64_t objects;         /* objects visited (memo hits included) */
    uint64_t memo_exposed;    /* native memo handed to Python code as a dict */
    uint64_t hook_deepcopy;   /* __deepcopy__ methods called */
    uint64_t hook_dispatch;   /* user entries of copy._deepcopy_dispatch called */
    uint64_t reduce_calls;    /* objects copied through __reduce_ex__/__reduce__ */
    uint64_t reconstruct_py;  /* malformed reduce values handed to copy._reconstruct */
    uint64_t errors;          /* top-level calls that raised */
} fdc_stats_t;

extern fdc_stats_t FDC_STATS;
PyObject *fdc_stats_as_dict(void);
void fdc_stats_reset(void);

/* ---- the native index of an exposed memo dict (mirror.c) ------------------ */
typedef struct {
    PyObject *dict;        /* the exposed memo (owned); NULL: no mirror is live */
    PyObject *dict_id;     /* owned: id(dict) as an int */
    fdc_memo *index;       /* id -> value for the dict's int keys */
    fdc_dictref ver;       /* follows the dict */
    uint64_t version;      /* the dict's version when the index last matched it */
    Py_ssize_t synced;     /* entries of the dict (no holes) read into the index */
    PyObject *last_key;    /* owned: the key at position synced - 1 */
    PyObject *kept;        /* borrowed: memo[id(memo)] while `version` holds, or NULL */
    uint64_t resyncs;      /* times someone else's writes were caught up */
    Py_ssize_t exact_from; /* index entries from this one on hold the dict's values
                              (read by the last catching up, or stored by us since);
                              a hit before it is confirmed by the dict, since someone
                              else's overwrite of a value is not seen by a resync */
    int broken;            /* the dict cannot be followed: plain dict operations */
} fdc_mirror;

int fdc_mirror_check_slow(fdc_mirror *m);
/* memo[key] = y on the dict, key being id(x) (NULL: made here), and in the
 * index (after a successful check). */
int fdc_mirror_setitem(fdc_mirror *m, PyObject *x, PyObject *key, PyObject *y);
/* Start mirroring `dict` (whose id is `dict_id`), made from `index`: the
 * dict holds index's values now (they become borrowed), and its
 * memo[id(memo)] list the objects of index's keep-alive array (dropped). */
int fdc_mirror_start(fdc_mirror *m, PyObject *dict, PyObject *dict_id, fdc_memo *index);
/* Stop; returns the index for its owner to release. */
fdc_memo *fdc_mirror_stop(fdc_mirror *m);

/* 0: the index matches the dict; 1: the mirror gave up; -1: error */
static inline int
fdc_mirror_check(fdc_mirror *m)
{
    if (!m->broken && fdc_dict_version(m->ver) == m->version) {
        return 0;
    }
    return fdc_mirror_check_slow(m);
}

/* The dict's value at the index entry e's position, or NULL when the index
 * cannot tell which entry of the dict that is (mirror.c). */
PyObject *fdc_mirror_value_at(fdc_mirror *m, fdc_memo_entry *e);

/* After a successful check, memo.get(id(x)): 1 and a borrowed value, 0 (and
 * NULL) for a certain miss, 2 when only the dict can tell (its value may have
 * been overwritten by someone else). */
static inline int
fdc_mirror_lookup(fdc_mirror *m, PyObject *x, PyObject **value)
{
    fdc_memo_entry *e = fdc_memo_find(m->index, x, fdc_memo_hash(x));
    if (e == NULL) {
        *value = NULL;
        return 0;
    }
    if (e - m->index->entries >= m->exact_from) {
        *value = e->value;
        return 1;
    }
    *value = fdc_mirror_value_at(m, e);
    return *value != NULL ? 1 : 2;
}

/* ---- the copy context (deepcopy.c) ---------------------------------------- */
typedef struct fdc_tstate fdc_tstate;

enum { FDC_NATIVE_NONE = 0, FDC_NATIVE_CACHED = 1, FDC_NATIVE_TEMP = 2 };

typedef struct {
    fdc_memo *native;     /* native memo, or NULL once in Python-memo mode */
    PyObject *pymemo;     /* Python memo object (owned), NULL in native mode */
    PyObject *pymemo_id;  /* id(pymemo) as an int (owned), for _keep_alive */
    int pymemo_exact;     /* PyDict_CheckExact(pymemo) */
    fdc_tstate *ts;       /* the thread's state (owns the cached native memo) */
    PyObject *nil;        /* borrowed: deepcopy's _nil (a memo value that means "absent") */
    int owns_native;      /* native memo must be released by this context */
    Py_ssize_t depth;     /* objects being copied right now (0 = between objects) */
    fdc_mirror *mirror;   /* pymemo is the thread's mirrored dict (borrowed), or NULL */
    fdc_memo *mirror_index; /* set when this context started the mirror: its memo */
} fdc_ctx;

PyObject *fdc_deepcopy_entry(PyObject *x, PyObject *memo, PyObject *nil);
/* deepcopy(x, memo) inside a copy; fdc_deepcopy_rec is defined below. */
static inline PyObject *fdc_deepcopy_rec(fdc_ctx *ctx, PyObject *x);
PyObject *fdc_deepcopy_rec_pymemo(fdc_ctx *ctx, PyObject *x);
#if FDC_ATOMIC_SET
/* cls in copy._atomic_types (it is not the default set): 1, 0, -1 */
int fdc_in_atomic_set(PyTypeObject *tp);
#endif
/* Everything after a memo miss: copy x and memoize as stdlib does. */
PyObject *fdc_copy_and_memoize(fdc_ctx *ctx, PyObject *x);
/* The same, for an x whose class is known not to make it its own copy (its
 * SELF check was made and failed). */
PyObject *fdc_copy_not_self(fdc_ctx *ctx, PyObject *x);
PyObject *fdc_shallow_copy(PyObject *x);
/* module.c: deepcopy(x, memo=None, _nil=[]) and copy(x) as vectorcalls, with
 * the stdlib's signatures; also installed on the patched stdlib functions. */
PyObject *fdc_deepcopy_vectorcall(PyObject *callable, PyObject *const *args,
                                  size_t nargsf, PyObject *kwnames);
PyObject *fdc_copy_vectorcall(PyObject *callable, PyObject *const *args,
                              size_t nargsf, PyObject *kwnames);

/* table.get(key) for a dispatch table that is the copy module's global
 * `global`: the raw value (new ref, None included), NULL + exception, or NULL
 * without exception when absent. */
PyObject *fdc_table_get(PyObject *table, const char *global, PyObject *key);
int fdc_lookup_attr(PyObject *obj, PyObject *name, PyObject **result); /* getattr(o, n, None) */

/* Memo operations, dispatching on the context's mode (memoctx.c). */
int fdc_memo_get(fdc_ctx *ctx, PyObject *x, PyObject **result); /* 1 hit (new ref), 0 miss, -1 err */
int fdc_memo_set(fdc_ctx *ctx, PyObject *x, PyObject *y);
int fdc_memo_keep_alive(fdc_ctx *ctx, PyObject *x);
/* Return the memo as a Python object (borrowed), switching to Python mode. */
PyObject *fdc_memo_expose(fdc_ctx *ctx);
/* Is memo[id(x)] certainly still y, as the copier stored it when the mirror
 * had caught up `resyncs` times?  1 yes, 0 no, -1 error. */
int fdc_mirror_still_holds(fdc_ctx *ctx, uint64_t resyncs);
/* A context's memo: the thread's cached native memo (or a temporary one when
 * it is in use), or the caller's `memo`; fdc_ctx_finish releases either. */
int fdc_ctx_start_native(fdc_ctx *ctx);
int fdc_ctx_start_python(fdc_ctx *ctx, PyObject *memo);
void fdc_ctx_finish(fdc_ctx *ctx);

/* containers.c: each returns a new reference (or NULL); memo handling included
 * exactly as the stdlib copier does it (the caller does the final memo[d] = y). */
/* The list and dict copiers set *stored when they did memo[id(x)] = y (stdlib
 * does it before the items; on a native memo it is put off until an item that
 * is not its own copy, since nothing else can look it up). */
PyObject *fdc_copy_list(fdc_ctx *ctx, PyObject *x, int *stored);
PyObject *fdc_copy_dict(fdc_ctx *ctx, PyObject *x, int *stored);
PyObject *fdc_copy_tuple(fdc_ctx *ctx, PyObject *x);
PyObject *fdc_copy_method(fdc_ctx *ctx, PyObject *x);
PyObject *fdc_copy_set(fdc_ctx *ctx, PyObject *x);
PyObject *fdc_copy_bytearray(fdc_ctx *ctx, PyObject *x);
#if FDC_FROZENDICT
PyObject *fdc_copy_frozendict(fdc_ctx *ctx, PyObject *x);
#endif
/* deepcopy(x) without a memo of an exact list or dict whose items are their
 * own copies or a few distinct flat containers: NULL without an exception
 * when x is not one. */
PyObject *fdc_copy_flat_root(PyObject *x);
/* A flat container (an exact bytearray, or a small exact list or dict of
 * items that are their own copies): copying one runs no user code. */
int fdc_is_flat_container(PyObject *v, int tuple_ok);

/* A class the type cache decided PLAIN (no __setstate__, standard __dict__),
 * as of its version tag then. */
enum { FDC_BASE_OBJECT = 1, FDC_BASE_DICT = 2, FDC_BASE_LIST = 3 };
typedef struct {
    PyTypeObject *type;   /* borrowed: held by the caller */
    unsigned int version;
    int base;             /* FDC_BASE_*: the built-in class it derives from */
} fdc_plain_class;

/* pending.c: the copied state of a plain instance, put off until seen.  Each
 * returns 1 done, 0 not applicable (nothing done), -1 error. */
int fdc_copy_state_deferred(fdc_ctx *ctx, PyObject *x, PyObject *y, PyObject *state,
                            const fdc_plain_class *plain);
int fdc_copy_slots_deferred(fdc_ctx *ctx, PyObject *x, PyObject *y, PyObject *state);
/* x of a plain class tp with set slots only (read at `offsets`, those of
 * tp's `slotnames`), all flat: *y = tp.__new__(tp) with them, the reduction's
 * temporaries S = {slot: value} and T = (None, S) stood in for until the memo
 * is handed out (fdc_memo_build_standins). */
int fdc_copy_slots_standin(fdc_ctx *ctx, PyObject *x, PyTypeObject *tp, PyObject *slotnames,
                           const Py_ssize_t *offsets, PyObject **y);
int fdc_memo_build_standins(fdc_memo *m);
/* For x, an exact set or frozenset of atomic items copied without its
 * temporary list L = list(x) (set.__reduce_ex__'s) on a native memo:
 * memo[id(L)] = L' and _keep_alive(L), in their places, with L and L' made
 * only when the memo is handed out (fdc_memo_build_standins). */
int fdc_memo_set_temporaries(fdc_ctx *ctx, PyObject *x);
/* Before copying such a set x (room for its record is reserved): where its
 * items go, borrowed, in list(x)'s order; NULL for a frozenset, or NULL with
 * an exception. */
PyObject **fdc_memo_set_temporaries_begin(fdc_ctx *ctx, PyObject *x);
PyObject *fdc_pending_resolve(fdc_memo *m, const void *key, size_t hash, PyObject *snapshot);
int fdc_memo_resolve_all(fdc_memo *m);

/* reduce.c */
PyObject *fdc_copy_via_reduce(fdc_ctx *ctx, PyObject *x, int deep);
/* The copy from rv, the value of x's reductor (a str: x itself). */
PyObject *fdc_copy_from_reduce_value(fdc_ctx *ctx, PyObject *x, PyObject *rv, int deep);
PyObject *fdc_reconstruct(fdc_ctx *ctx, PyObject *x, PyObject *rv, int deep);
int fdc_unpack2(PyObject *obj, PyObject **a, PyObject **b);
PyObject *fdc_call_star(PyObject *func, PyObject *args);

/* typecache.c: classes whose copy is decided once per type.  Returns the copy
 * (new ref), NULL with an exception, or NULL without one when the class needs
 * the full protocol. */
enum {
    FDC_KIND_GENERIC = 0,  /* full stdlib protocol */
    FDC_KIND_PLAIN = 1,    /* object.__reduce_ex__ with default state, no hooks */
    FDC_KIND_SELF = 2,     /* __deepcopy__ returns self (enum.Enum's: selfhook.c) */
    FDC_KIND_NAMEDTUPLE = 3, /* collections.namedtuple class, default protocol */
    FDC_KIND_DATETIME = 4, /* exact datetime.date/time/datetime/timedelta */
    FDC_KIND_OWN_REDUCE = 5, /* object.__reduce_ex__ calling the class's own
                                __reduce__, a Python function */
    FDC_KIND_HOOK = 6,     /* a __deepcopy__ on the class; the class is not in
                              _deepcopy_dispatch and is no metaclass */
};

/* selfhook.c: a class's __deepcopy__ known to return self (decided once). */
enum { FDC_NAMES_UNKNOWN = 0, FDC_NAMES_READ = 1, FDC_NAMES_FAIL = 2 };
typedef struct {
    PyObject *func;        /* owned: the hook when a Python function, else NULL */
    PyObject *code;        /* owned: func's code when decided */
    PyObject *globals;     /* owned: func's globals when its test names the class */
    PyObject *builtins;    /* owned: func's builtins, likewise */
    PyObject *named_class; /* borrowed from globals: the class the test names */
    fdc_dictref globals_ref, builtins_ref;        /* follow globals and builtins */
    uint64_t globals_version, builtins_version;   /* when the names were read */
    int names_state;       /* FDC_NAMES_*: the names as read at those versions */
} fdc_self_hook;

/* Does f, tp's __deepcopy__, return self for tp's instances?  1 (h filled:
 * what fdc_self_hook_holds checks again), 0 (h cleared). */
int fdc_self_hook_decide(PyTypeObject *tp, PyObject *f, fdc_self_hook *h);
/* Does the decided hook still return self for an exact instance of tp? */
int fdc_self_hook_holds(fdc_self_hook *h, PyTypeObject *tp);
void fdc_self_hook_clear(fdc_self_hook *h);
/* Static classes decided SELF so far (decimal.Decimal before 3.13): few, and
 * never freed. */
#define FDC_STATIC_SELF_MAX 4
extern PyTypeObject *fdc_static_self_types[FDC_STATIC_SELF_MAX];

/* Can tp's instances be their own copies by the SELF rule (fdc_copy_self_kind
 * worth asking)?  Heap classes (enums...), and the static ones seen SELF. */
static inline int
fdc_may_copy_as_self(PyTypeObject *tp)
{
    if (tp->tp_flags & Py_TPFLAGS_HEAPTYPE) {
        return 1;
    }
    for (int i = 0; i < FDC_STATIC_SELF_MAX && fdc_static_self_types[i] != NULL; i++) {
        if (fdc_static_self_types[i] == tp) {
            return 1;
        }
    }
    return 0;
}
/* Is copier (getattr(x, "__deepcopy__")) a C method known never to read its
 * memo argument (array.array's)? */
int fdc_hook_ignores_memo(PyObject *copier, PyObject *x);

/* datetimes.c */
enum { FDC_DT_DATE = 1, FDC_DT_DATETIME = 2, FDC_DT_TIME = 3, FDC_DT_DELTA = 4 };
int fdc_datetime_kind(PyTypeObject *tp);   /* 0 when not one of them */
PyObject *fdc_copy_datetime(fdc_ctx *ctx, PyObject *x, int kind);
/* *hook: x's class's decision is HOOK (NULL is returned then): stdlib's
 * _deepcopy_dispatch.get(cls) gives None and cls is no metaclass, so
 * getattr(x, "__deepcopy__") comes next. */
PyObject *fdc_copy_known_class(fdc_ctx *ctx, PyObject *x, int *hook);
/* x itself (new ref) when its class's cached decision is SELF and no instance
 * attribute overrides it; else NULL, with an exception on error.  *pure: the
 * answer was reached without anything that could run Python code. */
PyObject *fdc_copy_self_kind(PyObject *x, int *pure);
/* setattr(y, name, value) for y of a plain class: by offset when name is one
 * of its plain slot members, else PyObject_SetAttr (which may run user code). */
int fdc_setattr_plain(PyObject *y, PyObject *name, PyObject *value, Py_ssize_t *hint);
/* Is tp's version tag still `version`, and valid (the class unchanged)? */
int fdc_type_version_unchanged(PyTypeObject *tp, unsigned int version);
/* hasattr(y, '__setstate__') for y = plain->type.__new__(plain->type), asked
 * after the copy of its state, which may have run user code. */
enum {
    FDC_SETSTATE_NONE = 1,   /* class and y's class unchanged, y has none */
    FDC_SETSTATE_OWN = 2,    /* class unchanged, y has one of its own */
    FDC_SETSTATE_ASK = 3     /* y's class or the class changed: stdlib's way */
};
int fdc_plain_setstate_probe(PyObject *y, const fdc_plain_class *plain);   /* or -1 */
/* _reconstruct's `if hasattr(y, '__setstate__'): ... else: ...`, the
 * question answered by a probe (FDC_SETSTATE_ASK: ask it). */
int fdc_set_state_probed(PyObject *y, PyObject *state, int probe);
/* _reconstruct after y = func(*args).  `plain`: y = plain->type.__new__(...),
 * or NULL.  Whether y then still lacks __setstate__ is checked after the
 * state's copy, which may have run user code. */
int fdc_reconstruct_rest(fdc_ctx *ctx, PyObject *x, PyObject *y, PyObject *state,
                         PyObject *listiter, PyObject *dictiter, int deep,
                         const fdc_plain_class *plain);

/* tstate.c */
typedef struct fdc_segment fdc_segment;
struct fdc_tstate {
    fdc_memo memo;        /* the cached native memo of this thread */
    fdc_mirror mirror;    /* the exposed memo being mirrored on this thread, if any */
    int memo_in_use;      /* explicit flag: is `memo` serving a call right now? */
    /* The sizes the memo dicts of the last two calls that handed one out
     * reached: the next one is made with room for the smaller. */
    Py_ssize_t exposed_len[2];
    char *stack_limit;    /* a level starting below this address runs on a new segment */
    Py_ssize_t levels;    /* levels of copying running on this thread (all contexts) */
    Py_ssize_t level_cap; /* RecursionError past this many (the recursion limit) */
    fdc_segment *segs;    /* stack segments in use (stack.c) */
    Py_ssize_t nsegs, room_segs;
    PyThreadState *py;    /* this thread's (3.12/3.13: its C recursion budget) */
};
extern _Thread_local fdc_tstate *fdc_current_tstate;
fdc_tstate *fdc_tstate_create(void);

/* This thread's state (borrowed); NULL with an exception on failure. */
static inline fdc_tstate *
fdc_tstate_get(void)
{
    fdc_tstate *ts = fdc_current_tstate;
    return ts != NULL ? ts : fdc_tstate_create();
}

/* The recursion's guards.  A level (an object copied by its type: a
 * container, an instance) is counted against the thread's level cap, the
 * recursion limit (stdlib's copy takes two Python frames or more per level,
 * so the engine goes at least as deep): fdc_enter_level gives RecursionError
 * past it.  And a level that would start too near the end of the C stack
 * runs on a stack segment instead (stack.c), so depth does not depend on the
 * thread's stack size. */
int fdc_enter_level(fdc_ctx *ctx);
void fdc_leave_level(fdc_ctx *ctx);

static inline int
fdc_stack_low(const fdc_ctx *ctx)
{
    char here;
#if FDC_C_RECURSION_COUNTER
    /* (or CPython's C recursion budget is running out: a hook chain costs a
     * level of it per level of ours) */
    if (ctx->ts->py->c_recursion_remaining < FDC_C_RECURSION_BUDGET / 4) {
        return 1;
    }
#endif
    return &here < ctx->ts->stack_limit;
}

/* One level of the recursion: fn(ctx, x), new reference or NULL. */
typedef PyObject *(*fdc_level_fn)(fdc_ctx *ctx, PyObject *x);
/* fn(ctx, x) run on a new stack segment (stack.c). */
PyObject *fdc_call_on_segment(fdc_ctx *ctx, PyObject *x, fdc_level_fn fn);
/* Before a copy starts on a thread with no copy running: the level cap. */
void fdc_levels_start(fdc_tstate *ts);

/* The atomic types of copy._deepcopy_dispatch, in a collision-free direct-
 * mapped table (env.c picks the shift), so the test is one load and compare. */
#define FDC_ATOMIC_TABLE_SIZE 256
extern PyTypeObject *fdc_atomic_table[FDC_ATOMIC_TABLE_SIZE];
/* The same slots, without the types fdc_is_atomic_key_type leaves out. */
extern PyTypeObject *fdc_atomic_key_table[FDC_ATOMIC_TABLE_SIZE];
extern unsigned int fdc_atomic_shift;

static inline int
fdc_is_atomic_type(PyTypeObject *tp)
{
    uintptr_t h = (uintptr_t)tp >> fdc_atomic_shift;
    return fdc_atomic_table[h & (FDC_ATOMIC_TABLE_SIZE - 1)] == tp;
}

static inline int
fdc_is_common_atomic_type(PyTypeObject *tp)
{
    return fdc_is_atomic_type(tp);
}

/* An atomic object that the fast paths may hash into a dict or set without
 * running user code.  Not a weak reference: two with equal hashes compare
 * their referents (their __eq__ may change the container being copied).  Not
 * a range: its hash builds a tuple, and that allocation may run a collection
 * (see fdc_gc_pause) while the range is held borrowed. */
static inline int
fdc_is_atomic_key_type(PyTypeObject *tp)
{
    uintptr_t h = (uintptr_t)tp >> fdc_atomic_shift;
    return fdc_atomic_key_table[h & (FDC_ATOMIC_TABLE_SIZE - 1)] == tp;
}

/* On 3.10 and 3.11 any allocation of a GC-tracked object may run a garbage
 * collection on the spot, and with it finalizers (__del__, weakref callbacks)
 * that can change the very container being copied -- freeing items the engine
 * has read but not yet taken a reference to.  An allocation made while such
 * borrowed pointers are live is wrapped in a pause: the collection then
 * happens at the next allocation after it.  Nothing else runs in between (no
 * Python code, the GIL is held), so the pause itself cannot be seen.  3.12
 * and later only collect at the eval loop's safe points. */
static inline int
fdc_gc_pause(void)
{
#if FDC_GC_AT_ALLOCATION
    return PyGC_Disable();
#else
    return 0;
#endif
}

static inline void
fdc_gc_resume(int was_enabled)
{
#if FDC_GC_AT_ALLOCATION
    if (was_enabled) {
        PyGC_Enable();
    }
#else
    (void)was_enabled;
#endif
}

/* An exact tuple of atomic items is its own deep copy and never enters
 * a native memo (stdlib memoizes only copies that differ from the original). */
static inline int
fdc_is_atomic_tuple(PyObject *t)
{
    if (!Py_IS_TYPE(t, &PyTuple_Type)) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(t); i++) {
        if (!fdc_is_common_atomic_type(Py_TYPE(PyTuple_GET_ITEM(t, i)))) {
            return 0;
        }
    }
    return 1;
}

/* Items that a native-memo copy may take as they are (needs FDC.atomic_ok;
 * tuples also FDC.tuple_ok). */
static inline int
fdc_is_own_copy(PyObject *o, int tuple_ok)
{
    return fdc_is_common_atomic_type(Py_TYPE(o)) || (tuple_ok && fdc_is_atomic_tuple(o));
}


/* Is v's copy certainly free of user code: its own copy or a flat
 * container?  (Needs FDC.atomic_ok.) */
static inline int
fdc_is_flat_value(PyObject *v, int tuple_ok)
{
    return fdc_is_own_copy(v, tuple_ok) || fdc_is_flat_container(v, tuple_ok);
}

/* A native memo value that stands for a state dict not built yet. */
extern PyTypeObject fdc_PendingType;
extern PyTypeObject fdc_StandInType;
static inline int
fdc_is_pending(PyObject *v)
{
    return Py_IS_TYPE(v, &fdc_PendingType);
}

/* Is the memo hit a pending snapshot (building it allocates)? */
static inline int
fdc_memo_hit_pending(const fdc_memo *m, PyObject *hit)
{
    return m->pending > 0 && fdc_is_pending(hit);
}

/* A native memo hit (borrowed `hit`, found under key/hash) as a new
 * reference: a pending snapshot becomes its dict first (NULL + exception if
 * that fails). */
static inline PyObject *
fdc_memo_hit_ref(fdc_memo *m, const void *key, size_t hash, PyObject *hit)
{
    if (fdc_memo_hit_pending(m, hit)) {
        return fdc_pending_resolve(m, key, hash, hit);
    }
    return Py_NewRef(hit);
}

/* The recursion on a native memo: objects that are their own copy never
 * enter the memo, so they are returned before the lookup. */
static inline PyObject *
fdc_deepcopy_rec(fdc_ctx *ctx, PyObject *x)
{
    if (ctx->native == NULL) {
        return fdc_deepcopy_rec_pymemo(ctx, x);
    }
    FDC_STATS.objects++;
    if (FDC.atomic_ok && fdc_is_own_copy(x, FDC.tuple_ok)) {
        return Py_NewRef(x);
    }
    /* (3.14+, _atomic_types changed: it is asked after this lookup, which
     * cannot hit an object stdlib would find atomic unless the set changed
     * in the middle of the copy) */
    size_t hash = fdc_memo_hash(x);
    PyObject *hit = fdc_memo_lookup(ctx->native, x, hash);
    if (hit != NULL) {
        return fdc_memo_hit_ref(ctx->native, x, hash, hit);
    }
    return fdc_copy_and_memoize(ctx, x);
}

#endif
