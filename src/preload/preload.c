/* preload.c — the LD_PRELOAD route into the shim.
 *
 *   LD_PRELOAD=/path/to/shim/libfastdeepcopy_preload.so python app.py
 *
 * The dynamic loader runs this object's constructor before main() of every
 * process that inherits LD_PRELOAD.  It prepends the directory the object lives
 * in (the shim directory, found with dladdr) to PYTHONPATH, keeping the existing
 * entries and adding nothing if the directory is already one of them.  Python
 * reads PYTHONPATH after that, imports the shim's sitecustomize.py, and the rest
 * is the PYTHONPATH route.  It does not link to libpython, does not interpose
 * any function, and does nothing else in processes that are not Python.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Does the ':'-separated `list` contain exactly `dir` as an entry? */
static int
has_entry(const char *list, const char *dir)
{
    size_t n = strlen(dir);
    const char *p = list;
    for (;;) {
        const char *end = strchr(p, ':');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, dir, n) == 0) {
            return 1;
        }
        /* tolerate a trailing '/' on the entry */
        if (len == n + 1 && p[n] == '/' && strncmp(p, dir, n) == 0) {
            return 1;
        }
        if (end == NULL) {
            return 0;
        }
        p = end + 1;
    }
}

/* Any object of this library: dladdr() maps its address to our file name. */
static const char marker = 0;

__attribute__((constructor)) static void
fastdeepcopy_preload(void)
{
    Dl_info info;
    char dir[PATH_MAX];
    if (dladdr(&marker, &info) == 0 || info.dli_fname == NULL ||
        realpath(info.dli_fname, dir) == NULL) {
        return;
    }
    char *slash = strrchr(dir, '/');
    if (slash == NULL) {
        return;
    }
    slash[slash == dir ? 1 : 0] = '\0';   /* "/lib.so" -> "/" */

    const char *old = getenv("PYTHONPATH");
    if (old != NULL && *old != '\0' && has_entry(old, dir)) {
        return;
    }
    if (old == NULL || *old == '\0') {
        setenv("PYTHONPATH", dir, 1);
        return;
    }
    size_t size = strlen(dir) + 1 + strlen(old) + 1;
    char *value = malloc(size);
    if (value == NULL) {
        return;
    }
    snprintf(value, size, "%s:%s", dir, old);
    setenv("PYTHONPATH", value, 1);   /* setenv copies */
    free(value);
}
