/* tstate.c — per-thread state: the cached native memo, the stack limit and the
 * level count.
 *
 * A C11 thread-local pointer gives fast access; the state itself is owned by a
 * capsule stored in the thread's PyThreadState dict, so it is freed when the
 * thread state is cleared at thread exit.
 */
#include "fdc.h"   /* Python.h defines _GNU_SOURCE, needed for pthread_getattr_np */
#include <pthread.h>

_Thread_local fdc_tstate *fdc_current_tstate;
static PyObject *capsule_key;   /* the thread-dict key owning our capsule */

/* Stay this far above the lowest usable stack address (see compute_stack_limit). */
#define FDC_STACK_MARGIN (256 * 1024)
#define FDC_STACK_MIN_MARGIN (96 * 1024)
/* When the stack bounds cannot be read, allow this much below the first use. */
#define FDC_STACK_FALLBACK (1024 * 1024)

static void
capsule_destructor(PyObject *capsule)
{
    fdc_tstate *ts = PyCapsule_GetPointer(capsule, "fastdeepcopy.tstate");
    if (ts == NULL) {
        PyErr_Clear();
        return;
    }
    if (fdc_current_tstate == ts) {
        fdc_current_tstate = NULL;
    }
    fdc_memo_free(&ts->memo);
    PyMem_Free(ts->segs);   /* (no segment is in use: the thread is ending) */
    PyMem_Free(ts);
}

static char *
compute_stack_limit(void)
{
    char here;
    pthread_attr_t attr;
    void *addr;
    size_t size;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        int ok = pthread_attr_getstack(&attr, &addr, &size) == 0;
        pthread_attr_destroy(&attr);
        if (ok && size > 0) {
            /* Levels that would start in the last half of a small stack, or
             * the last FDC_STACK_MARGIN of a big one, run on stack segments
             * (stack.c): what runs between two levels (a hook's Python code,
             * CPython's own C recursion, whose checks keep about 48 KiB
             * free on 3.14) finds room.  A thread whose stack is smaller
             * than FDC_STACK_MIN_MARGIN copies on segments from its first
             * level. */
            size_t margin = size / 2 < FDC_STACK_MARGIN ? size / 2 : FDC_STACK_MARGIN;
            if (margin < FDC_STACK_MIN_MARGIN) {
                margin = FDC_STACK_MIN_MARGIN;
            }
            return (char *)addr + margin;
        }
    }
    uintptr_t sp = (uintptr_t)&here;
    return (char *)(sp - FDC_STACK_FALLBACK);
}

static fdc_tstate *
tstate_create(void)
{
    PyObject *tdict = PyThreadState_GetDict();
    if (tdict == NULL) {
        /* PyThreadState_GetDict() fails only when it cannot allocate the dict */
        if (!PyErr_Occurred()) {
            PyErr_NoMemory();
        }
        return NULL;
    }
    if (capsule_key == NULL) {
        capsule_key = PyUnicode_InternFromString("fastdeepcopy.tstate");
        if (capsule_key == NULL) {
            return NULL;
        }
    }
    fdc_tstate *ts = PyMem_Calloc(1, sizeof(fdc_tstate));
    if (ts == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    fdc_memo_init(&ts->memo);
    ts->stack_limit = compute_stack_limit();
    ts->py = PyThreadState_Get();
    PyObject *cap = PyCapsule_New(ts, "fastdeepcopy.tstate", capsule_destructor);
    if (cap == NULL) {
        PyMem_Free(ts);
        return NULL;
    }
    int r = PyDict_SetItem(tdict, capsule_key, cap);
    Py_DECREF(cap);   /* the dict owns it now (or it was freed on failure) */
    if (r < 0) {
        return NULL;
    }
    fdc_current_tstate = ts;
    return ts;
}

fdc_tstate *
fdc_tstate_create(void)
{
    return tstate_create();
}

int
fdc_enter_level(fdc_ctx *ctx)
{
    fdc_tstate *ts = ctx->ts;
    if (ts->levels >= ts->level_cap) {
        PyErr_SetString(PyExc_RecursionError,
                        "maximum recursion depth exceeded while deep copying");
        return -1;
    }
    ts->levels++;
    ctx->depth++;
    return 0;
}

void
fdc_leave_level(fdc_ctx *ctx)
{
    ctx->ts->levels--;
    ctx->depth--;
}

void
fdc_levels_start(fdc_tstate *ts)
{
    if (ts->levels == 0) {
        ts->level_cap = Py_GetRecursionLimit();
    }
}
