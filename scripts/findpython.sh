#!/bin/sh
# Print the path of a runnable interpreter for NAME (e.g. python3.12).
# Looks, in this order, on PATH; in pyenv's versions directory (pyenv shims
# refuse versions that are installed but not selected); and at
# /opt/cpython/X.Y/bin/pythonX.Y, where CPython versions that neither the
# system nor pyenv provides (3.14, 3.15) are installed.
name="${1:-python3}"
if "$name" -c 'import sys' >/dev/null 2>&1; then
    command -v "$name"
    exit 0
fi
ver="${name#python}"
for root in "${PYENV_ROOT:-$HOME/.pyenv}" /root/.pyenv; do
    for cand in "$root"/versions/"$ver".*/bin/"$name"; do
        if [ -x "$cand" ] && "$cand" -c 'import sys' >/dev/null 2>&1; then
            echo "$cand"
            exit 0
        fi
    done
done
case "$name" in
    python[0-9]*)
        cand="/opt/cpython/$ver/bin/python$ver"
        if [ -x "$cand" ] && "$cand" -c 'import sys' >/dev/null 2>&1; then
            echo "$cand"
            exit 0
        fi
        ;;
esac
echo "findpython: no runnable interpreter for '$name'" >&2
exit 1
