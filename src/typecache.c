/* typecache.c — deciding once per class how its instances copy.
 * (First version: every class takes the full protocol.) */
#include "fdc.h"

int
fdc_type_kind(PyTypeObject *tp)
{
    return FDC_KIND_GENERIC;
}

PyObject *
fdc_copy_plain(fdc_ctx *ctx, PyObject *x)
{
    return fdc_copy_via_reduce(ctx, x, 1);
}
