/* stack.c — copying deeper than the thread's C stack holds: stack segments.
 *
 * The recursion runs on the thread's own stack until a level would start
 * within a margin of its end (tstate.c computes the limit from the thread's
 * real bounds).  That level, and everything below it, then runs on a stack
 * segment: a region mapped here (reserved, not committed: pages are touched
 * as the recursion goes down), with a guard page at its end.  A segment
 * nearly used up continues on the next one, and so on; the levels return
 * through the segments in order, and when the recursion is back on the
 * thread's stack the segments are unmapped.  How deep a copy goes is then
 * bounded by the level cap (tstate.c: the recursion limit), not by the
 * thread's stack size -- a thread made after threading.stack_size(32 KiB)
 * copies as deep as the main thread.
 *
 * The switch is ucontext's (POSIX; glibc's swapcontext saves the signal mask,
 * a system call: it happens once per segment, not per level).  CPython 3.14
 * and later check the C stack by address, against the bounds it keeps per
 * thread: while a segment is in use they are set to the segment's
 * (PyUnstable_ThreadState_SetStackProtection), so Python code called from a
 * hook there is checked against the stack it really runs on.  3.12 and 3.13
 * count C recursion instead (every call into the interpreter from C is a
 * level), against a budget sized for a main thread's stack: code on a
 * segment, which is bigger, gets the whole budget, and a level starts a new
 * segment when the budget runs low too (a chain of __deepcopy__ hooks spends
 * one per level).  3.10 and 3.11 count C calls with Python frames, against
 * the recursion limit, as stdlib's copy does.
 */
#include "fdc.h"
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

/* A segment's size (reserved address space) and the room kept free below a
 * level when it starts: what a hook's Python code and CPython's own C
 * recursion may use (3.12/3.13 count up to 10,000 C levels, not bytes). */
#define FDC_SEGMENT_SIZE ((size_t)16 * 1024 * 1024)
#define FDC_SEGMENT_MARGIN ((size_t)4 * 1024 * 1024)

struct fdc_segment {
    char *base;     /* the mapping (its lowest page is the guard page) */
    size_t size;
};

/* The call made on a segment: the level's function and its arguments, and
 * where the switch returns to. */
typedef struct {
    fdc_level_fn fn;
    fdc_ctx *ctx;
    PyObject *x;
    PyObject *result;
    ucontext_t caller;
    ucontext_t callee;
} segment_call;

static _Thread_local segment_call *current_call;

static size_t
page_size(void)
{
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? (size_t)p : 4096;
}

static int
segment_map(fdc_segment *seg)
{
    void *p = mmap(NULL, FDC_SEGMENT_SIZE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (p == MAP_FAILED) {
        PyErr_NoMemory();
        return -1;
    }
    /* the guard page: running off the end faults instead of writing on */
    if (mprotect(p, page_size(), PROT_NONE) != 0) {
        munmap(p, FDC_SEGMENT_SIZE);
        PyErr_NoMemory();
        return -1;
    }
    seg->base = p;
    seg->size = FDC_SEGMENT_SIZE;
    return 0;
}

static char *
segment_limit(const fdc_segment *seg)
{
    return seg->base + page_size() + FDC_SEGMENT_MARGIN;
}

/* The next segment of this thread (its index: ts->nsegs), mapped if new. */
static fdc_segment *
segment_next(fdc_tstate *ts)
{
    if (ts->nsegs == ts->room_segs) {
        Py_ssize_t room = ts->room_segs ? 2 * ts->room_segs : 4;
        fdc_segment *grown = PyMem_Realloc(ts->segs, (size_t)room * sizeof(fdc_segment));
        if (grown == NULL) {
            PyErr_NoMemory();
            return NULL;
        }
        ts->segs = grown;
        ts->room_segs = room;
    }
    fdc_segment *seg = &ts->segs[ts->nsegs];
    if (segment_map(seg) < 0) {
        return NULL;
    }
    return seg;
}

/* CPython's idea of the current stack (3.14+: it checks addresses). */
static int
protect_stack(const fdc_segment *seg)
{
#if FDC_STACK_PROTECTION
    size_t guard = page_size();
    return PyUnstable_ThreadState_SetStackProtection(PyThreadState_Get(), seg->base + guard,
                                                     seg->size - guard);
#else
    (void)seg;
    return 0;
#endif
}

static void
restore_stack_protection(fdc_tstate *ts)
{
#if FDC_STACK_PROTECTION
    if (ts->nsegs == 0) {
        PyUnstable_ThreadState_ResetStackProtection(PyThreadState_Get());
    }
    else if (protect_stack(&ts->segs[ts->nsegs - 1]) < 0) {
        PyErr_Clear();   /* (it was accepted when that segment was entered) */
    }
#else
    (void)ts;
#endif
}

static void
segment_entry(void)
{
    segment_call *call = current_call;
    call->result = call->fn(call->ctx, call->x);
    /* returning resumes call->caller (uc_link) */
}

PyObject *
fdc_call_on_segment(fdc_ctx *ctx, PyObject *x, fdc_level_fn fn)
{
    fdc_tstate *ts = ctx->ts;
    fdc_segment *next = segment_next(ts);
    if (next == NULL) {
        return NULL;
    }
    /* (a copy: ts->segs may move while the levels below run) */
    fdc_segment mine = *next;
    fdc_segment *seg = &mine;
    if (protect_stack(seg) < 0) {
        munmap(seg->base, seg->size);
        return NULL;
    }
    segment_call call = {.fn = fn, .ctx = ctx, .x = x, .result = NULL};
    if (getcontext(&call.callee) != 0) {
        munmap(seg->base, seg->size);
        restore_stack_protection(ts);
        PyErr_SetFromErrno(PyExc_OSError);
        return NULL;
    }
    call.callee.uc_stack.ss_sp = seg->base + page_size();
    call.callee.uc_stack.ss_size = seg->size - page_size();
    call.callee.uc_link = &call.caller;
    makecontext(&call.callee, segment_entry, 0);

    segment_call *outer = current_call;
    char *outer_limit = ts->stack_limit;
    current_call = &call;
    ts->stack_limit = segment_limit(seg);
    ts->nsegs++;
#if FDC_C_RECURSION_COUNTER
    /* the segment is bigger than the main thread's stack CPython's budget
     * assumes: the code on it gets the whole budget */
    int outer_budget = ts->py->c_recursion_remaining;
    ts->py->c_recursion_remaining = FDC_C_RECURSION_BUDGET;
#endif
    int r = swapcontext(&call.caller, &call.callee);
#if FDC_C_RECURSION_COUNTER
    ts->py->c_recursion_remaining = outer_budget;
#endif
    ts->nsegs--;
    ts->stack_limit = outer_limit;
    current_call = outer;
    restore_stack_protection(ts);
    munmap(seg->base, seg->size);
    if (r != 0 && call.result == NULL && !PyErr_Occurred()) {
        PyErr_SetFromErrno(PyExc_OSError);
    }
    return call.result;
}
