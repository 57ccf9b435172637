/* reduce.c — the __reduce_ex__/__reduce__ path and copy._reconstruct, natively.
 *
 * Every step is the stdlib's, in its order, with its error messages.  Reduce
 * values of an unusual shape (not a tuple of 2 to 5 items) are handed to
 * copy._reconstruct itself, with the memo exposed as a dict, so that even
 * their error messages are the stdlib's.
 */
#include "fdc.h"

/* ---- helpers that reproduce Python-level call shapes ---------------------- */

static PyObject *
compile_lambda(const char *src)
{
    PyObject *code = Py_CompileString(src, "<fastdeepcopy>", Py_eval_input);
    if (code == NULL) {
        return NULL;
    }
    PyObject *globals = PyDict_New();
    if (globals == NULL ||
        PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins()) < 0) {
        Py_XDECREF(globals);
        Py_DECREF(code);
        return NULL;
    }
    PyObject *fn = PyEval_EvalCode(code, globals, globals);
    Py_DECREF(globals);
    Py_DECREF(code);
    return fn;
}

/* func(*args), with CPython's own message when args is not iterable. */
PyObject *
fdc_call_star(PyObject *func, PyObject *args)
{
    if (PyTuple_CheckExact(args)) {
        return PyObject_Call(func, args, NULL);
    }
    if (PyList_CheckExact(args)) {
        PyObject *t = PyList_AsTuple(args);
        if (t == NULL) {
            return NULL;
        }
        PyObject *r = PyObject_Call(func, t, NULL);
        Py_DECREF(t);
        return r;
    }
    if (FDC.star_call1 == NULL && !(FDC.star_call1 = compile_lambda("lambda f, r: f(*r)"))) {
        return NULL;
    }
    return PyObject_CallFunctionObjArgs(FDC.star_call1, func, args, NULL);
}

/* copy._reconstruct(x, memo, *rv) for reduce values of unusual shape. */
static PyObject *
reconstruct_in_python(fdc_ctx *ctx, PyObject *x, PyObject *rv, int deep)
{
    if (FDC.star_call3 == NULL &&
        !(FDC.star_call3 = compile_lambda("lambda f, a, b, r: f(a, b, *r)"))) {
        return NULL;
    }
    PyObject *memo = Py_None;
    if (FDC.reconstruct == NULL) {
        PyErr_SetString(PyExc_NameError, "name '_reconstruct' is not defined");
        return NULL;
    }
    if (deep && (memo = fdc_memo_expose(ctx)) == NULL) {
        return NULL;
    }
    FDC_STATS.reconstruct_py++;
    Py_INCREF(memo);
    PyObject *r = PyObject_CallFunctionObjArgs(FDC.star_call3, FDC.reconstruct, x, memo, rv, NULL);
    Py_DECREF(memo);
    return r;
}

/* The ValueError of `a, b = obj` when obj has more than two items. */
static void
too_many_values(PyObject *obj)
{
#if FDC_UNPACK_SAYS_GOT
    if (PyList_CheckExact(obj) || PyTuple_CheckExact(obj) || PyDict_CheckExact(obj)) {
        PyErr_Format(PyExc_ValueError, "too many values to unpack (expected 2, got %zd)",
                     PyObject_Size(obj));
        return;
    }
#endif
    PyErr_SetString(PyExc_ValueError, "too many values to unpack (expected 2)");
}

/* `a, b = obj`: 0 with two new references, or -1 with CPython's message. */
int
fdc_unpack2(PyObject *obj, PyObject **a, PyObject **b)
{
    *a = *b = NULL;
    if ((PyTuple_CheckExact(obj) && PyTuple_GET_SIZE(obj) == 2) ||
        (PyList_CheckExact(obj) && PyList_GET_SIZE(obj) == 2)) {
        PyObject **items = PySequence_Fast_ITEMS(obj);
        *a = Py_NewRef(items[0]);
        *b = Py_NewRef(items[1]);
        return 0;
    }
    PyObject *it = PyObject_GetIter(obj);
    if (it == NULL) {
        if (PyErr_ExceptionMatches(PyExc_TypeError) &&
            Py_TYPE(obj)->tp_iter == NULL && !PySequence_Check(obj)) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "cannot unpack non-iterable %.200s object",
                         Py_TYPE(obj)->tp_name);
        }
        return -1;
    }
    PyObject *got[2] = {NULL, NULL};
    int n = 0;
    for (; n < 2; n++) {
        got[n] = PyIter_Next(it);
        if (got[n] == NULL) {
            break;
        }
    }
    if (n < 2) {
        if (!PyErr_Occurred()) {
            PyErr_Format(PyExc_ValueError,
                         "not enough values to unpack (expected 2, got %d)", n);
        }
        goto fail;
    }
    PyObject *extra = PyIter_Next(it);
    if (extra != NULL) {
        Py_DECREF(extra);
        too_many_values(obj);
        goto fail;
    }
    if (PyErr_Occurred()) {
        goto fail;
    }
    Py_DECREF(it);
    *a = got[0];
    *b = got[1];
    return 0;
fail:
    Py_XDECREF(got[0]);
    Py_XDECREF(got[1]);
    Py_DECREF(it);
    return -1;
}

/* ---- the reduce value ----------------------------------------------------- */

/* stdlib: raise Error("un(deep)copyable object of type %s" % cls), where Error is
 * whatever copy.Error currently is (deleted: NameError; not an exception class:
 * the error of calling it, or of raising what it returned). */
static void
raise_uncopyable(PyTypeObject *cls, int deep)
{
    if (FDC.copy_error == NULL) {
        PyErr_SetString(PyExc_NameError, "name 'Error' is not defined");
        return;
    }
    if (PyExceptionClass_Check(FDC.copy_error)) {
        PyErr_Format(FDC.copy_error, deep ? "un(deep)copyable object of type %S"
                                          : "un(shallow)copyable object of type %S",
                     (PyObject *)cls);
        return;
    }
    PyObject *msg = PyUnicode_FromFormat(deep ? "un(deep)copyable object of type %S"
                                              : "un(shallow)copyable object of type %S",
                                         (PyObject *)cls);
    if (msg == NULL) {
        return;
    }
    PyObject *exc = PyObject_CallOneArg(FDC.copy_error, msg);
    Py_DECREF(msg);
    if (exc == NULL) {
        return;
    }
    if (PyExceptionInstance_Check(exc)) {
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    }
    else if (PyExceptionClass_Check(exc)) {
        PyErr_SetNone(exc);
    }
    else {
        PyErr_SetString(PyExc_TypeError, "exceptions must derive from BaseException");
    }
    Py_DECREF(exc);
}

static PyObject *
call_reductor(PyObject *x, PyTypeObject *cls, int deep)
{
    /* deep: `if reductor:`, shallow: `if reductor is not None:` */
    PyObject *reductor = fdc_table_get(FDC.reduce_table, "dispatch_table", (PyObject *)cls);
    PyObject *rv;
    if (reductor != NULL) {
        int use = deep ? PyObject_IsTrue(reductor) : reductor != Py_None;
        if (use != 0) {
            rv = use > 0 ? PyObject_CallOneArg(reductor, x) : NULL;
            Py_DECREF(reductor);
            return rv;
        }
        Py_CLEAR(reductor);
    }
    if (PyErr_Occurred() || fdc_lookup_attr(x, FDC.s_reduce_ex, &reductor) < 0) {
        return NULL;
    }
    if (reductor == Py_None) {   /* getattr(x, "__reduce_ex__", None) is None */
        Py_CLEAR(reductor);
    }
    if (reductor != NULL) {
        rv = PyObject_CallOneArg(reductor, FDC.four);
        Py_DECREF(reductor);
        return rv;
    }
    if (fdc_lookup_attr(x, FDC.s_reduce, &reductor) < 0) {
        return NULL;
    }
    int truth = reductor ? PyObject_IsTrue(reductor) : 0;
    if (truth > 0) {
        rv = PyObject_CallNoArgs(reductor);
        Py_DECREF(reductor);
        return rv;
    }
    Py_XDECREF(reductor);
    if (truth == 0) {
        raise_uncopyable(cls, deep);
    }
    return NULL;
}

PyObject *
fdc_copy_via_reduce(fdc_ctx *ctx, PyObject *x, int deep)
{
    FDC_STATS.reduce_calls++;
    /* cls = type(x), held: the hooks the reductor lookup runs may reassign
     * x.__class__ before the class is named in an error message */
    PyTypeObject *cls = (PyTypeObject *)Py_NewRef(Py_TYPE(x));
    PyObject *rv = call_reductor(x, cls, deep);
    Py_DECREF(cls);
    if (rv == NULL) {
        return NULL;
    }
    PyObject *y = fdc_copy_from_reduce_value(ctx, x, rv, deep);
    Py_DECREF(rv);
    return y;
}

PyObject *
fdc_copy_from_reduce_value(fdc_ctx *ctx, PyObject *x, PyObject *rv, int deep)
{
    /* if isinstance(rv, str): return x
     * return _reconstruct(x, memo, *rv) */
    if (PyUnicode_Check(rv)) {
        return Py_NewRef(x);
    }
    return fdc_reconstruct(ctx, x, rv, deep);
}

/* ---- _reconstruct ----------------------------------------------------------- */

/* y = func(*args), calling tp_new directly for copyreg.__newobj__(cls, ...) */
static PyObject *
construct(PyObject *func, PyObject *args)
{
    if (func == FDC.newobj && FDC.newobj_ok && PyTuple_CheckExact(args) &&
        PyTuple_GET_SIZE(args) >= 1 && PyType_Check(PyTuple_GET_ITEM(args, 0))) {
        PyTypeObject *cls = (PyTypeObject *)PyTuple_GET_ITEM(args, 0);
        if (cls->tp_new != NULL) {
            PyObject *rest = PyTuple_GetSlice(args, 1, PyTuple_GET_SIZE(args));
            if (rest == NULL) {
                return NULL;
            }
            PyObject *y = cls->tp_new(cls, rest, NULL);
            Py_DECREF(rest);
            return y;
        }
    }
    return fdc_call_star(func, args);
}

static PyObject *
call_method1(PyObject *obj, PyObject *name, PyObject *arg)
{
    return PyObject_CallMethodOneArg(obj, name, arg);
}

/* for key, value in d.items(): setattr(y, key, value), for an exact dict,
 * with the checks of the dict's item iterator.  `plain`: y's class is a PLAIN
 * class of the type cache, whose __slots__ members may be set directly. */
static int
set_attrs_from_dict(PyObject *y, PyObject *d, int plain)
{
    Py_ssize_t used = PyDict_GET_SIZE(d), remaining = used, pos = 0, slot_hint = 0;
    PyObject *k, *v;
    for (;;) {
        if (PyDict_GET_SIZE(d) != used) {
            PyErr_SetString(PyExc_RuntimeError, "dictionary changed size during iteration");
            return -1;
        }
        if (!PyDict_Next(d, &pos, &k, &v)) {
            return 0;
        }
        if (remaining-- == 0) {
            PyErr_SetString(PyExc_RuntimeError, "dictionary keys changed during iteration");
            return -1;
        }
        Py_INCREF(k);
        Py_INCREF(v);
        int r = plain ? fdc_setattr_plain(y, k, v, &slot_hint) : PyObject_SetAttr(y, k, v);
        Py_DECREF(k);
        Py_DECREF(v);
        if (r < 0) {
            return -1;
        }
    }
}

/* for k, v in iterable: fn(k, v, arg) -- each item unpacked as `k, v = item`
 * is (fdc_unpack2).  fn returns 0 or -1; so does this. */
typedef int (*pair_fn)(PyObject *k, PyObject *v, void *arg);

static int
for_each_pair(PyObject *iterable, pair_fn fn, void *arg)
{
    PyObject *it = PyObject_GetIter(iterable);
    if (it == NULL) {
        return -1;
    }
    PyObject *pair;
    while ((pair = PyIter_Next(it)) != NULL) {
        PyObject *k, *v;
        int r = fdc_unpack2(pair, &k, &v);
        Py_DECREF(pair);
        if (r == 0) {
            r = fn(k, v, arg);
            Py_DECREF(k);
            Py_DECREF(v);
        }
        if (r < 0) {
            Py_DECREF(it);
            return -1;
        }
    }
    Py_DECREF(it);
    return PyErr_Occurred() ? -1 : 0;
}

static int
setattr_pair(PyObject *k, PyObject *v, void *y)
{
    return PyObject_SetAttr((PyObject *)y, k, v);
}

/* for key, value in slotstate.items(): setattr(y, key, value) */
static int
set_slot_state(PyObject *y, PyObject *slotstate, int plain)
{
    if (PyDict_CheckExact(slotstate)) {
        return set_attrs_from_dict(y, slotstate, plain);
    }
    PyObject *items = PyObject_CallMethodNoArgs(slotstate, FDC.s_items);
    if (items == NULL) {
        return -1;
    }
    int r = for_each_pair(items, setattr_pair, y);
    Py_DECREF(items);
    return r;
}

/* y.__dict__.update(state); `plain`: y's class has the standard __dict__. */
static int
update_instance_dict(PyObject *y, PyObject *state, int plain)
{
    PyObject *d = plain ? PyObject_GenericGetDict(y, NULL) : PyObject_GetAttr(y, FDC.s_dict);
    if (d == NULL) {
        return -1;
    }
    int r;
    if (PyDict_CheckExact(d) && PyDict_CheckExact(state)) {
        r = PyDict_Update(d, state);
    }
    else {
        PyObject *res = call_method1(d, FDC.s_update, state);
        r = res ? 0 : -1;
        Py_XDECREF(res);
    }
    Py_DECREF(d);
    return r;
}

/* The part of _reconstruct's state handling after `hasattr(y, '__setstate__')`
 * said no. */
static int
apply_state(PyObject *y, PyObject *state, int plain)
{
    PyObject *dictstate = state, *slotstate = NULL;
    int r = 0;
    /* isinstance(state, tuple) and len(state) == 2 */
    Py_ssize_t len = !PyTuple_Check(state) ? -1
                     : PyTuple_CheckExact(state) ? PyTuple_GET_SIZE(state) : PyObject_Size(state);
    if (len == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (len == 2) {
        if (fdc_unpack2(state, &dictstate, &slotstate) < 0) {
            return -1;
        }
    }
    else {
        Py_INCREF(dictstate);
    }
    if (dictstate != Py_None) {
        r = update_instance_dict(y, dictstate, plain);
    }
    if (r == 0 && slotstate != NULL && slotstate != Py_None) {
        r = set_slot_state(y, slotstate, plain);
    }
    Py_DECREF(dictstate);
    Py_XDECREF(slotstate);
    return r;
}

int
fdc_plain_setstate_probe(PyObject *y, const fdc_plain_class *plain)
{
    PyTypeObject *tp = plain->type;
    if (Py_TYPE(y) != tp || !fdc_type_version_unchanged(tp, plain->version)) {
        return FDC_SETSTATE_ASK;
    }
    if (tp->tp_dictoffset == 0) {
        return FDC_SETSTATE_NONE;
    }
    /* The class, unchanged, has none and no __getattr__: hasattr's answer
     * is y's own (a hook may have given y attributes). */
    PyObject *f;
    if (fdc_lookup_attr(y, FDC.s_setstate, &f) < 0) {
        return -1;
    }
    if (f == NULL) {
        return FDC_SETSTATE_NONE;
    }
    Py_DECREF(f);
    return FDC_SETSTATE_OWN;
}

/* y.__setstate__(state), looked up again as stdlib does after hasattr */
static int
call_setstate(PyObject *y, PyObject *state)
{
    PyObject *res = call_method1(y, FDC.s_setstate, state);
    Py_XDECREF(res);
    return res ? 0 : -1;
}

/* The rest of _reconstruct's state handling: `if hasattr(y, '__setstate__')`
 * and what follows, for y of any class. */
static int
set_state_asking(PyObject *y, PyObject *state)
{
    PyTypeObject *tp = Py_TYPE(y);
    if (tp->tp_getattro == PyObject_GenericGetAttr) {
        PyObject *cls_setstate = _PyType_Lookup(tp, FDC.s_setstate);   /* borrowed */
        if (cls_setstate != NULL && PyFunction_Check(cls_setstate)) {
            /* hasattr(y, '__setstate__') is true (a function of the class, or
             * an instance attribute shadowing it), and y.__setstate__(state)
             * finds the same thing: call it without making a bound method */
            PyObject *args[2] = {y, state};
            PyObject *res = PyObject_VectorcallMethod(FDC.s_setstate, args, 2, NULL);
            Py_XDECREF(res);
            return res ? 0 : -1;
        }
    }
    PyObject *setstate;
    if (fdc_lookup_attr(y, FDC.s_setstate, &setstate) < 0) {
        return -1;
    }
    if (setstate != NULL) {
        /* (a custom __getattribute__ sees both lookups) */
        Py_DECREF(setstate);
        return call_setstate(y, state);
    }
    return apply_state(y, state, 0);
}

int
fdc_set_state_probed(PyObject *y, PyObject *state, int probe)
{
    if (probe == FDC_SETSTATE_NONE) {
        return apply_state(y, state, 1);
    }
    if (probe == FDC_SETSTATE_OWN) {
        return call_setstate(y, state);
    }
    return set_state_asking(y, state);
}

static int
set_state(PyObject *y, PyObject *state, const fdc_plain_class *plain)
{
    int probe = plain != NULL ? fdc_plain_setstate_probe(y, plain) : FDC_SETSTATE_ASK;
    return probe < 0 ? -1 : fdc_set_state_probed(y, state, probe);
}

static PyObject *
maybe_deepcopy(fdc_ctx *ctx, PyObject *obj, int deep)
{
    return deep ? fdc_deepcopy_rec(ctx, obj) : Py_NewRef(obj);
}

static int
append_item(PyObject *y, PyObject *item)
{
    if (PyList_CheckExact(y)) {
        return PyList_Append(y, item);
    }
    PyObject *res = call_method1(y, FDC.s_append, item);
    Py_XDECREF(res);
    return res ? 0 : -1;
}

static int
fill_list_items(fdc_ctx *ctx, PyObject *y, PyObject *listiter, int deep)
{
    PyObject *it = PyObject_GetIter(listiter);
    if (it == NULL) {
        return -1;
    }
    PyObject *item;
    while ((item = PyIter_Next(it)) != NULL) {
        PyObject *c = maybe_deepcopy(ctx, item, deep);
        Py_DECREF(item);
        int r = c ? append_item(y, c) : -1;
        Py_XDECREF(c);
        if (r < 0) {
            Py_DECREF(it);
            return -1;
        }
    }
    Py_DECREF(it);
    return PyErr_Occurred() ? -1 : 0;
}

typedef struct {
    fdc_ctx *ctx;
    PyObject *y;
    int deep;
} dict_items_target;

/* y[deepcopy(k)] = deepcopy(v) (the key first, as _reconstruct does) */
static int
set_copied_item(PyObject *k, PyObject *v, void *arg)
{
    dict_items_target *t = arg;
    PyObject *ck = maybe_deepcopy(t->ctx, k, t->deep);
    PyObject *cv = ck ? maybe_deepcopy(t->ctx, v, t->deep) : NULL;
    int r = cv ? PyObject_SetItem(t->y, ck, cv) : -1;
    Py_XDECREF(ck);
    Py_XDECREF(cv);
    return r;
}

static int
fill_dict_items(fdc_ctx *ctx, PyObject *y, PyObject *dictiter, int deep)
{
    dict_items_target t = {ctx, y, deep};
    return for_each_pair(dictiter, set_copied_item, &t);
}

/* Everything of _reconstruct after y exists: memo, state, items. */
int
fdc_reconstruct_rest(fdc_ctx *ctx, PyObject *x, PyObject *y, PyObject *state,
                     PyObject *listiter, PyObject *dictiter, int deep,
                     const fdc_plain_class *plain)
{
    if (deep && fdc_memo_set(ctx, x, y) < 0) {
        return -1;
    }
    if (state != Py_None) {
        PyObject *s = maybe_deepcopy(ctx, state, deep);
        if (s == NULL) {
            return -1;
        }
        int r = set_state(y, s, plain);
        Py_DECREF(s);
        if (r < 0) {
            return -1;
        }
    }
    if (listiter != Py_None && fill_list_items(ctx, y, listiter, deep) < 0) {
        return -1;
    }
    if (dictiter != Py_None && fill_dict_items(ctx, y, dictiter, deep) < 0) {
        return -1;
    }
    return 0;
}

/* tuple(deepcopy(arg, memo) for arg in args): each argument on its own,
 * as copy._reconstruct's generator does (the args tuple is not memoized). */
static PyObject *
deepcopy_each(fdc_ctx *ctx, PyObject *args)
{
    if (PyTuple_CheckExact(args)) {
        Py_ssize_t n = PyTuple_GET_SIZE(args);
        PyObject *out = PyTuple_New(n);
        if (out == NULL) {
            return NULL;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *c = fdc_deepcopy_rec(ctx, PyTuple_GET_ITEM(args, i));
            if (c == NULL) {
                Py_DECREF(out);
                return NULL;
            }
            PyTuple_SET_ITEM(out, i, c);
        }
        return out;
    }
    PyObject *it = PyObject_GetIter(args);
    if (it == NULL) {
        return NULL;
    }
    PyObject *list = PyList_New(0);
    PyObject *item;
    while (list != NULL && (item = PyIter_Next(it)) != NULL) {
        PyObject *c = fdc_deepcopy_rec(ctx, item);
        Py_DECREF(item);
        if (c == NULL || PyList_Append(list, c) < 0) {
            Py_XDECREF(c);
            Py_CLEAR(list);
            break;
        }
        Py_DECREF(c);
    }
    Py_DECREF(it);
    if (list == NULL || PyErr_Occurred()) {
        Py_XDECREF(list);
        return NULL;
    }
    PyObject *t = PyList_AsTuple(list);
    Py_DECREF(list);
    return t;
}

PyObject *
fdc_reconstruct(fdc_ctx *ctx, PyObject *x, PyObject *rv, int deep)
{
    if (!PyTuple_CheckExact(rv) || PyTuple_GET_SIZE(rv) < 2 || PyTuple_GET_SIZE(rv) > 5) {
        return reconstruct_in_python(ctx, x, rv, deep);
    }
    Py_ssize_t n = PyTuple_GET_SIZE(rv);
    PyObject *func = PyTuple_GET_ITEM(rv, 0);
    PyObject *args = PyTuple_GET_ITEM(rv, 1);
    PyObject *state = n > 2 ? PyTuple_GET_ITEM(rv, 2) : Py_None;
    PyObject *listiter = n > 3 ? PyTuple_GET_ITEM(rv, 3) : Py_None;
    PyObject *dictiter = n > 4 ? PyTuple_GET_ITEM(rv, 4) : Py_None;

    /* if deep and args: args = (deepcopy(arg, memo) for arg in args)
     * y = func(*args) */
    int truth = deep ? PyObject_IsTrue(args) : 0;
    if (truth < 0) {
        return NULL;
    }
    PyObject *cargs = truth ? deepcopy_each(ctx, args) : Py_NewRef(args);
    if (cargs == NULL) {
        return NULL;
    }
    PyObject *y = construct(func, cargs);
    Py_DECREF(cargs);
    if (y == NULL) {
        return NULL;
    }
    if (fdc_reconstruct_rest(ctx, x, y, state, listiter, dictiter, deep, NULL) < 0) {
        Py_DECREF(y);
        return NULL;
    }
    return y;
}
