#!/bin/sh
# Print the path of a runnable interpreter for NAME (e.g. python3.12).
# Falls back to pyenv's versions directory when the name is not on PATH
# (pyenv shims refuse versions that are installed but not selected).
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
echo "findpython: no runnable interpreter for '$name'" >&2
exit 1
