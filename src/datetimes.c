/* datetimes.c — exact datetime.date/time/datetime/timedelta, rebuilt natively.
 *
 * stdlib copies these through their C __reduce_ex__(4): (type(x), state) with
 * state (bytes,) or (bytes, tzinfo) — fold included for protocol 4 — or
 * (days, seconds, microseconds); then type(x)(*deepcopied state).  The bytes
 * and ints are atomic, so on a native memo the only observable steps are the
 * deep copy of the tzinfo and the new object; we build the same value with the
 * datetime C API instead of encoding and parsing the state.
 */
#include "fdc.h"
#include <datetime.h>
#include <string.h>

static int api_state;   /* 0 unknown, 1 loaded, -1 unavailable */

/* The datetime C API, if the datetime module is already imported. */
static int
load_api(void)
{
    if (api_state != 0) {
        return api_state > 0;
    }
    PyObject *name = PyUnicode_FromString("datetime");
    PyObject *mod = name ? PyImport_GetModule(name) : NULL;
    Py_XDECREF(name);
    if (mod == NULL) {
        PyErr_Clear();
        return 0;   /* not imported yet: decide again later */
    }
    Py_DECREF(mod);
    PyDateTime_IMPORT;
    if (PyDateTimeAPI == NULL) {
        PyErr_Clear();
        api_state = -1;
        return 0;
    }
    api_state = 1;
    return 1;
}

int
fdc_datetime_kind(PyTypeObject *tp)
{
    if (strncmp(tp->tp_name, "datetime.", 9) != 0 || !load_api()) {
        return 0;
    }
    if (tp == PyDateTimeAPI->DateType) {
        return FDC_DT_DATE;
    }
    if (tp == PyDateTimeAPI->DateTimeType) {
        return FDC_DT_DATETIME;
    }
    if (tp == PyDateTimeAPI->TimeType) {
        return FDC_DT_TIME;
    }
    if (tp == PyDateTimeAPI->DeltaType) {
        return FDC_DT_DELTA;
    }
    return 0;
}

/* The copy of x's tzinfo (new ref; None when it has none), or NULL.  *ok is
 * 0 when the copy is not a tzinfo: the datetime constructor would reject it,
 * and the caller lets the full protocol produce stdlib's exact error. */
static PyObject *
copy_tzinfo(fdc_ctx *ctx, PyObject *x, int has_tzinfo, PyObject *tzinfo, int *ok)
{
    *ok = 1;
    if (!has_tzinfo) {
        return Py_NewRef(Py_None);
    }
    PyObject *tz = fdc_deepcopy_rec(ctx, tzinfo);
    if (tz != NULL && tz != Py_None && !PyTZInfo_Check(tz)) {
        *ok = 0;
    }
    return tz;
}

PyObject *
fdc_copy_datetime(fdc_ctx *ctx, PyObject *x, int kind)
{
    PyTypeObject *tp = Py_TYPE(x);
    PyObject *tz, *y;
    int ok;
    switch (kind) {
    case FDC_DT_DATE:
        return PyDateTimeAPI->Date_FromDate(PyDateTime_GET_YEAR(x), PyDateTime_GET_MONTH(x),
                                            PyDateTime_GET_DAY(x), tp);
    case FDC_DT_DELTA:
        return PyDateTimeAPI->Delta_FromDelta(PyDateTime_DELTA_GET_DAYS(x),
                                              PyDateTime_DELTA_GET_SECONDS(x),
                                              PyDateTime_DELTA_GET_MICROSECONDS(x), 1, tp);
    case FDC_DT_DATETIME:
        tz = copy_tzinfo(ctx, x, ((PyDateTime_DateTime *)x)->hastzinfo,
                         PyDateTime_DATE_GET_TZINFO(x), &ok);
        if (tz == NULL || !ok) {
            Py_XDECREF(tz);
            return tz == NULL ? NULL : fdc_copy_via_reduce(ctx, x, 1);
        }
        y = PyDateTimeAPI->DateTime_FromDateAndTimeAndFold(
            PyDateTime_GET_YEAR(x), PyDateTime_GET_MONTH(x), PyDateTime_GET_DAY(x),
            PyDateTime_DATE_GET_HOUR(x), PyDateTime_DATE_GET_MINUTE(x),
            PyDateTime_DATE_GET_SECOND(x), PyDateTime_DATE_GET_MICROSECOND(x),
            tz, PyDateTime_DATE_GET_FOLD(x), tp);
        Py_DECREF(tz);
        return y;
    case FDC_DT_TIME:
        tz = copy_tzinfo(ctx, x, ((PyDateTime_Time *)x)->hastzinfo,
                         PyDateTime_TIME_GET_TZINFO(x), &ok);
        if (tz == NULL || !ok) {
            Py_XDECREF(tz);
            return tz == NULL ? NULL : fdc_copy_via_reduce(ctx, x, 1);
        }
        y = PyDateTimeAPI->Time_FromTimeAndFold(
            PyDateTime_TIME_GET_HOUR(x), PyDateTime_TIME_GET_MINUTE(x),
            PyDateTime_TIME_GET_SECOND(x), PyDateTime_TIME_GET_MICROSECOND(x),
            tz, PyDateTime_TIME_GET_FOLD(x), tp);
        Py_DECREF(tz);
        return y;
    }
    PyErr_SetString(PyExc_SystemError, "fastdeepcopy: unknown datetime kind");
    return NULL;
}
