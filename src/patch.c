/* patch.c — routing an existing Python function object to the engine.
 * (Filled in by the shim work, issue 3.) */
#include "fdc.h"

int
fdc_patch_init(PyObject *module)
{
    return 0;
}
