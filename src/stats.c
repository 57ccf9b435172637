/* stats.c — per-process counters, read by fastdeepcopy.stats(). */
#include "fdc.h"
#include <string.h>

static int
put(PyObject *d, const char *name, uint64_t value)
{
    PyObject *v = PyLong_FromUnsignedLongLong(value);
    if (v == NULL) {
        return -1;
    }
    int r = PyDict_SetItemString(d, name, v);
    Py_DECREF(v);
    return r;
}

PyObject *
fdc_stats_as_dict(void)
{
    PyObject *d = PyDict_New();
    if (d == NULL) {
        return NULL;
    }
    const fdc_stats_t *s = &FDC_STATS;
    if (put(d, "calls", s->calls) < 0 ||
        put(d, "toplevel", s->toplevel) < 0 ||
        put(d, "objects", s->objects) < 0 ||
        put(d, "memo_exposed", s->memo_exposed) < 0 ||
        put(d, "hook_deepcopy", s->hook_deepcopy) < 0 ||
        put(d, "hook_dispatch", s->hook_dispatch) < 0 ||
        put(d, "reduce_calls", s->reduce_calls) < 0 ||
        put(d, "reconstruct_py", s->reconstruct_py) < 0 ||
        put(d, "errors", s->errors) < 0) {
        Py_DECREF(d);
        return NULL;
    }
    return d;
}

void
fdc_stats_reset(void)
{
    memset(&FDC_STATS, 0, sizeof(FDC_STATS));
}
