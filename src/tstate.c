/* tstate.c — per-thread state: the cached native memo and the stack limit.
 *
 * A C11 thread-local pointer gives fast access; the state itself is owned by a
 * capsule stored in the thread's PyThreadState dict, so it is freed when the
 * thread state is cleared at thread exit.
 */
#include "fdc.h"   /* Python.h defines _GNU_SOURCE, needed for pthread_getattr_np */
#include <pthread.h>

_Thread_local fdc_tstate *fdc_current_tstate;
static PyObject *capsule_key;   /* the thread-dict key owning our capsule */

/* Stay this far above the lowest usable stack address. */
#define FDC_STACK_MARGIN (256 * 1024)
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
            /* keep a quarter of a small stack free, FDC_STACK_MARGIN of a big one */
            size_t margin = size / 4 < FDC_STACK_MARGIN ? size / 4 : FDC_STACK_MARGIN;
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

/* The first FDC_FREE_DEPTH levels of a copy are guarded by the stack check
 * alone; CPython's recursion counter (a thread-state access per call) counts
 * the levels below them. */
#define FDC_FREE_DEPTH 48

int
fdc_enter_recursion(fdc_ctx *ctx)
{
    char here;
    if (&here < ctx->ts->stack_limit) {
        PyErr_SetString(PyExc_RecursionError,
                        "maximum recursion depth exceeded while deep copying");
        return -1;
    }
    if (ctx->depth >= FDC_FREE_DEPTH &&
        Py_EnterRecursiveCall(" while deep copying")) {
        /* (Py_EnterRecursiveCall returns nonzero, not necessarily -1, on failure) */
        return -1;
    }
    ctx->depth++;
    return 0;
}

void
fdc_leave_recursion(fdc_ctx *ctx)
{
    ctx->depth--;
    if (ctx->depth >= FDC_FREE_DEPTH) {
        Py_LeaveRecursiveCall();
    }
}
