/* selfhook.c — recognising __deepcopy__ methods that return self, or that
 * ignore their memo.
 *
 * Three shapes are known, decided once per class (typecache.c keeps the
 * result with the class's cache entry):
 *  - a Python function whose code is `def __deepcopy__(self, memo): return self`
 *    (enum.Enum's, since 3.11);
 *  - the C methods of decimal.Decimal, re.Pattern and re.Match, which return
 *    self;
 *  - fractions.Fraction's: `if type(self) == Fraction: return self`, which
 *    returns self for the class its module's global `Fraction` names, while
 *    `type` is the builtin one and the class's metaclass compares classes as
 *    type does.  Those names are checked again whenever the function's globals
 *    or builtins change (their dict versions).
 * A Python function's code may be replaced after the decision: its code
 * object is checked on every use.
 *
 * array.array's C __deepcopy__ returns a copy and never reads its memo
 * argument: it is called without the memo being made a dict for it.
 */
#include "fdc.h"
#include <string.h>

static const char return_self_source[] =
    "def __deepcopy__(self, memo):\n"
    "    return self\n";

static const char fraction_source[] =
    "def __deepcopy__(self, memo):\n"
    "    if type(self) == Fraction:\n"
    "        return self\n"
    "    return self.__class__(self._numerator, self._denominator)\n";

static PyObject *return_self_code;   /* compiled from return_self_source */
static PyObject *fraction_code;      /* compiled from fraction_source */
static PyObject *s_type, *s_fraction;

/* The code object of the function `source` defines (new ref), or NULL. */
static PyObject *
compile_function_code(const char *source)
{
    PyObject *module = Py_CompileString(source, "<fastdeepcopy>", Py_file_input);
    if (module == NULL) {
        return NULL;
    }
    PyObject *consts = PyObject_GetAttrString(module, "co_consts");
    Py_DECREF(module);
    if (consts == NULL) {
        return NULL;
    }
    PyObject *code = NULL;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(consts); i++) {
        PyObject *c = PyTuple_GET_ITEM(consts, i);
        if (PyCode_Check(c)) {
            code = Py_NewRef(c);
            break;
        }
    }
    Py_DECREF(consts);
    if (code == NULL) {
        PyErr_SetString(PyExc_SystemError, "fastdeepcopy: no function compiled");
    }
    return code;
}

/* Are the code objects' attribute `name` equal?  1, 0, -1 on error. */
static int
same_attribute(PyObject *a, PyObject *b, const char *name)
{
    PyObject *va = PyObject_GetAttrString(a, name);
    PyObject *vb = va != NULL ? PyObject_GetAttrString(b, name) : NULL;
    int r = vb != NULL ? PyObject_RichCompareBool(va, vb, Py_EQ) : -1;
    Py_XDECREF(va);
    Py_XDECREF(vb);
    return r;
}

/* Does f run the code `source` compiles to: same signature and bytecode,
 * and, with `names`, the same constants and names?  (*ref: that code,
 * compiled on first use.) */
static int
runs_code_of(PyObject *f, PyObject **ref, const char *source, int names)
{
    if (!PyFunction_Check(f)) {
        return 0;
    }
    PyCodeObject *code = (PyCodeObject *)PyFunction_GET_CODE(f);
    if (code->co_argcount != 2 || code->co_kwonlyargcount != 0 ||
        (code->co_flags & (CO_VARARGS | CO_VARKEYWORDS | CO_GENERATOR | CO_COROUTINE |
                           CO_ASYNC_GENERATOR)) != 0) {
        return 0;
    }
    if (*ref == NULL && (*ref = compile_function_code(source)) == NULL) {
        PyErr_Clear();
        return 0;
    }
    const char *const parts[] = {"co_code", "co_consts", "co_names"};
    for (size_t i = 0; i < (names ? 3 : 1); i++) {
        int r = same_attribute((PyObject *)code, *ref, parts[i]);
        if (r <= 0) {
            PyErr_Clear();
            return 0;
        }
    }
    return 1;
}

/* Is `name` one of the n `names`? */
static int
name_in(const char *name, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(name, names[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

/* C types whose own __deepcopy__ method returns self: decimal.Decimal's
 * (for the exact type: the method is the class's own), and re.Pattern's and
 * re.Match's (neither can be subclassed). */
static const char *const c_return_self_types[] = {"decimal.Decimal", "re.Pattern", "re.Match"};

static int
is_c_return_self_method(PyTypeObject *tp, PyObject *f)
{
    if (!Py_IS_TYPE(f, &PyMethodDescr_Type) ||
        ((PyMethodDescrObject *)f)->d_common.d_type != tp) {
        return 0;
    }
    return name_in(tp->tp_name, c_return_self_types,
                   sizeof(c_return_self_types) / sizeof(c_return_self_types[0]));
}

static int
intern_names(void)
{
    if (s_type == NULL && (s_type = PyUnicode_InternFromString("type")) == NULL) {
        return -1;
    }
    if (s_fraction == NULL && (s_fraction = PyUnicode_InternFromString("Fraction")) == NULL) {
        return -1;
    }
    return 0;
}

/* Read the names Fraction's test uses: `type` must be the builtin type (not
 * shadowed by a global); h->named_class is what the global `Fraction` names
 * (borrowed: the globals hold it while their version stands).  1 or 0. */
static int
read_names(fdc_self_hook *h)
{
    /* (dicts of str keys: the lookups run no user code) */
    h->named_class = NULL;
    PyObject *local_type = PyDict_GetItemWithError(h->globals, s_type);
    PyObject *builtin_type = local_type == NULL && !PyErr_Occurred()
                                 ? PyDict_GetItemWithError(h->builtins, s_type) : NULL;
    PyObject *cls = builtin_type != NULL ? PyDict_GetItemWithError(h->globals, s_fraction) : NULL;
    if (PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    h->named_class = cls;
    return builtin_type == (PyObject *)&PyType_Type && cls != NULL;
}

/* Hold func's globals and builtins and follow their versions.  0, or -1 with
 * an exception (nothing held then). */
static int
follow_names(fdc_self_hook *h, PyFunctionObject *func)
{
    fdc_dictref g = fdc_dict_follow(func->func_globals);
    if (g == NULL) {
        return -1;
    }
    fdc_dictref b = fdc_dict_follow(func->func_builtins);
    if (b == NULL) {
        fdc_dict_unfollow(g);
        return -1;
    }
    h->globals = Py_NewRef(func->func_globals);
    h->builtins = Py_NewRef(func->func_builtins);
    h->globals_ref = g;
    h->builtins_ref = b;
    return 0;
}

void
fdc_self_hook_clear(fdc_self_hook *h)
{
    Py_CLEAR(h->func);
    Py_CLEAR(h->code);
    if (h->globals_ref != NULL) {
        fdc_dict_unfollow(h->globals_ref);
        fdc_dict_unfollow(h->builtins_ref);
        h->globals_ref = h->builtins_ref = NULL;
    }
    Py_CLEAR(h->globals);
    Py_CLEAR(h->builtins);
    h->named_class = NULL;
    h->names_state = FDC_NAMES_UNKNOWN;
}

PyTypeObject *fdc_static_self_types[FDC_STATIC_SELF_MAX];

static void
remember_static_self(PyTypeObject *tp)
{
    if (tp->tp_flags & Py_TPFLAGS_HEAPTYPE) {
        return;   /* (a heap class may be freed; they are all asked anyway) */
    }
    for (int i = 0; i < FDC_STATIC_SELF_MAX; i++) {
        if (fdc_static_self_types[i] == tp) {
            return;
        }
        if (fdc_static_self_types[i] == NULL) {
            fdc_static_self_types[i] = tp;
            return;
        }
    }
}

int
fdc_self_hook_decide(PyTypeObject *tp, PyObject *f, fdc_self_hook *h)
{
    fdc_self_hook_clear(h);
    if (is_c_return_self_method(tp, f)) {
        remember_static_self(tp);
        return 1;
    }
    int named = 0;
    if (!runs_code_of(f, &return_self_code, return_self_source, 0)) {
        if (intern_names() < 0) {
            PyErr_Clear();
            return 0;
        }
        named = runs_code_of(f, &fraction_code, fraction_source, 1);
        if (!named) {
            return 0;
        }
    }
    PyFunctionObject *func = (PyFunctionObject *)f;
    if (named && (!PyDict_CheckExact(func->func_globals) ||
                  !PyDict_CheckExact(func->func_builtins))) {
        return 0;
    }
    h->func = Py_NewRef(f);
    h->code = Py_NewRef(func->func_code);
    if (named) {
        if (follow_names(h, func) < 0) {
            PyErr_Clear();
            fdc_self_hook_clear(h);
            return 0;
        }
    }
    if (!fdc_self_hook_holds(h, tp)) {
        fdc_self_hook_clear(h);   /* a subclass of Fraction: its hook runs */
        return 0;
    }
    return 1;
}

int
fdc_self_hook_holds(fdc_self_hook *h, PyTypeObject *tp)
{
    if (h->func != NULL && PyFunction_GET_CODE(h->func) != h->code) {
        return 0;   /* its __code__ was replaced */
    }
    if (h->globals == NULL) {
        return 1;
    }
    uint64_t gv = fdc_dict_version(h->globals_ref), bv = fdc_dict_version(h->builtins_ref);
    if (h->names_state == FDC_NAMES_UNKNOWN || gv != h->globals_version ||
        bv != h->builtins_version) {
        h->names_state = read_names(h) ? FDC_NAMES_READ : FDC_NAMES_FAIL;
        h->globals_version = gv;
        h->builtins_version = bv;
    }
    /* type(self) == Fraction: tp == tp, true unless the metaclass compares
     * otherwise (it may be given an __eq__ at any time) */
    return h->names_state == FDC_NAMES_READ && h->named_class == (PyObject *)tp &&
           Py_TYPE(tp)->tp_richcompare == PyType_Type.tp_richcompare;
}

/* C types whose own __deepcopy__ method never reads its memo argument. */
static const char *const c_memo_free_types[] = {"array.array"};

int
fdc_hook_ignores_memo(PyObject *copier, PyObject *x)
{
    /* getattr(x, "__deepcopy__") bound the C method of x's class to x */
    if (!PyCFunction_Check(copier) || PyCFunction_GET_SELF(copier) != x) {
        return 0;
    }
    PyObject *d = _PyType_Lookup(Py_TYPE(x), FDC.s_deepcopy);
    if (d == NULL || !Py_IS_TYPE(d, &PyMethodDescr_Type) ||
        ((PyCFunctionObject *)copier)->m_ml != ((PyMethodDescrObject *)d)->d_method) {
        return 0;
    }
    return name_in(((PyMethodDescrObject *)d)->d_common.d_type->tp_name, c_memo_free_types,
                   sizeof(c_memo_free_types) / sizeof(c_memo_free_types[0]));
}
