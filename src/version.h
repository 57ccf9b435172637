/* version.h — what differs between the CPython versions the engine follows.
 *
 * Every behaviour that depends on the interpreter's version is named here once,
 * after the Lib/copy.py (or C API) change it follows; the copiers test these
 * names, never PY_VERSION_HEX.  Included by fdc.h.
 */
#ifndef FDC_VERSION_H
#define FDC_VERSION_H

#if PY_VERSION_HEX < 0x030A0000 || PY_VERSION_HEX >= 0x03100000
#error "fastdeepcopy supports CPython 3.10 to 3.15"
#endif
#ifdef Py_GIL_DISABLED
#error "free-threaded builds are not supported (docs/design.md: the plan)"
#endif

/* ---- Lib/copy.py ---------------------------------------------------------- */

/* 3.14: deepcopy() returns x when `cls in _atomic_types` before it looks at
 * the memo (until 3.13 the memo came first and the atomic types were entries
 * of _deepcopy_dispatch mapping to _deepcopy_atomic). */
#define FDC_ATOMIC_SET (PY_VERSION_HEX >= 0x030E0000)

/* 3.15: deepcopy(x, memo=None) has no _nil; a memo hit is `d in memo` then
 * `memo[d]` (until 3.14: `y = memo.get(d, _nil)`). */
#define FDC_MEMO_CONTAINS (PY_VERSION_HEX >= 0x030F0000)

/* 3.14: copy.copy() returns x for `cls in _copy_atomic_types` and calls
 * `cls.copy(x)` for `cls in _copy_builtin_containers` (until 3.13:
 * `_copy_dispatch.get(cls)`). */
#define FDC_COPY_SETS (PY_VERSION_HEX >= 0x030E0000)

/* 3.15: the built-in frozendict, copied by copy._deepcopy_frozendict. */
#define FDC_FROZENDICT (PY_VERSION_HEX >= 0x030F0000)

/* 3.13: copy.replace(). */
#define FDC_REPLACE (PY_VERSION_HEX >= 0x030D0000)

/* ---- the interpreter ------------------------------------------------------ */

/* 3.14: "too many values to unpack (expected 2, got N)" when the unpacked
 * object is an exact list, tuple or dict (its length is known). */
#define FDC_UNPACK_SAYS_GOT (PY_VERSION_HEX >= 0x030E0000)

/* 3.14: PyDictObject.ma_version_tag is gone; the engine follows the dicts it
 * needs to (dictver.c) with a dict watcher. */
#define FDC_DICT_WATCHERS (PY_VERSION_HEX >= 0x030E0000)

/* 3.14: PyLong_GetSign (_PyLong_Sign deprecated). */
#define FDC_LONG_GETSIGN (PY_VERSION_HEX >= 0x030E0000)

/* 3.14: CPython checks the C stack by address against per-thread bounds,
 * which a stack segment must set (PyUnstable_ThreadState_SetStackProtection);
 * before, it counted C recursion. */
#define FDC_STACK_PROTECTION (PY_VERSION_HEX >= 0x030E0000)

/* 3.12 and 3.13: CPython counts C recursion (a call into the interpreter
 * from C is one level) in PyThreadState.c_recursion_remaining, assuming a
 * main thread's stack holds its limit; a stack segment holds more, and gives
 * the code on it a fresh budget of that many levels. */
#define FDC_C_RECURSION_COUNTER (PY_VERSION_HEX >= 0x030C0000 && PY_VERSION_HEX < 0x030E0000)
#if PY_VERSION_HEX >= 0x030D0000 && PY_VERSION_HEX < 0x030E0000
#define FDC_C_RECURSION_BUDGET Py_C_RECURSION_LIMIT
#elif PY_VERSION_HEX >= 0x030C0000 && PY_VERSION_HEX < 0x030D0000
#define FDC_C_RECURSION_BUDGET C_RECURSION_LIMIT
#endif

/* 3.12: collections run only at the eval loop's safe points (fdc_gc_pause). */
#define FDC_GC_AT_ALLOCATION (PY_VERSION_HEX < 0x030C0000)

/* 3.12: a function's vectorcall can be set (PyFunction_SetVectorcall), which
 * is how a patched copy.deepcopy reaches the engine without a Python frame;
 * also Py_T_OBJECT_EX and the deprecation of ma_version_tag. */
#define FDC_SET_VECTORCALL (PY_VERSION_HEX >= 0x030C0000)

/* 3.11: PyObject_GenericGetDict makes an instance's dict from inline values. */
#define FDC_GENERIC_GETDICT (PY_VERSION_HEX >= 0x030B0000)

/* 3.13: a modified class gets version tag 0 (no Py_TPFLAGS_VALID_VERSION_TAG),
 * and an attribute set while an instance dict shares the object's inline
 * values leaves the dict's version alone. */
#define FDC_TYPE_TAG_ZERO (PY_VERSION_HEX >= 0x030D0000)

/* 3.13: PyObject_GetOptionalAttr (before: _PyObject_LookupAttr). */
#define FDC_GET_OPTIONAL_ATTR (PY_VERSION_HEX >= 0x030D0000)

#endif
