/* dictver.c — versions of the dicts the engine follows.
 *
 * The engine keeps decisions that hold while a dict stays unchanged: the copy
 * and copyreg globals and dispatch tables (env.c), an exposed memo's index
 * (mirror.c), the names a known __deepcopy__ reads (selfhook.c).  Until 3.13
 * a dict's ma_version_tag changed on every modification and was the version.
 * 3.14 removed it: a dict watcher bumps the version of each followed dict on
 * every event (added, modified, deleted, cloned, cleared, deallocated), from a
 * process-wide clock, so a version is never reused.  Our own writes to a
 * followed dict bump it too, as they bumped ma_version_tag.
 *
 * Handles are allocated one by one and never move while someone holds them;
 * the same dict followed twice shares one handle (counted users).
 */
#include "fdc.h"

#if FDC_DICT_WATCHERS

static int watcher_id = -1;
static uint64_t clock_now;
static fdc_dictver **followed;   /* the live handles */
static Py_ssize_t n_followed, room_followed;
static fdc_dictver *last_hit;    /* the handle the last event was for */

static fdc_dictver *
find_handle(PyObject *dict)
{
    if (last_hit != NULL && last_hit->dict == dict) {
        return last_hit;
    }
    for (Py_ssize_t i = 0; i < n_followed; i++) {
        if (followed[i]->dict == dict) {
            return followed[i];
        }
    }
    return NULL;
}

static int
on_dict_event(PyDict_WatchEvent event, PyObject *dict, PyObject *key, PyObject *new_value)
{
    fdc_dictver *h = find_handle(dict);
    if (h == NULL) {
        return 0;   /* (unfollowed while another watcher keeps it watched) */
    }
    last_hit = h;
    h->version = ++clock_now;
    if (event == PyDict_EVENT_DEALLOCATED) {
        h->dict = NULL;   /* holders see a new version and decide again */
        last_hit = NULL;
    }
    return 0;
}

int
fdc_dictver_init(void)
{
    if (watcher_id >= 0) {
        return 0;
    }
    watcher_id = PyDict_AddWatcher(on_dict_event);
    return watcher_id >= 0 ? 0 : -1;
}

static int
add_handle(fdc_dictver *h)
{
    if (n_followed == room_followed) {
        Py_ssize_t room = room_followed ? 2 * room_followed : 16;
        fdc_dictver **grown = PyMem_Realloc(followed, (size_t)room * sizeof(*grown));
        if (grown == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        followed = grown;
        room_followed = room;
    }
    followed[n_followed++] = h;
    return 0;
}

fdc_dictref
fdc_dict_follow(PyObject *dict)
{
    fdc_dictver *h = find_handle(dict);
    if (h != NULL) {
        h->users++;
        return h;
    }
    h = PyMem_Malloc(sizeof(*h));
    if (h == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    h->dict = dict;
    h->version = ++clock_now;
    h->users = 1;
    if (add_handle(h) < 0) {
        PyMem_Free(h);
        return NULL;
    }
    if (PyDict_Watch(watcher_id, dict) < 0) {
        n_followed--;
        PyMem_Free(h);
        return NULL;
    }
    return h;
}

void
fdc_dict_unfollow(fdc_dictref h)
{
    if (h == NULL || --h->users > 0) {
        return;
    }
    for (Py_ssize_t i = 0; i < n_followed; i++) {
        if (followed[i] == h) {
            followed[i] = followed[--n_followed];
            break;
        }
    }
    if (last_hit == h) {
        last_hit = NULL;
    }
    if (h->dict != NULL && PyDict_Unwatch(watcher_id, h->dict) < 0) {
        PyErr_Clear();   /* (cannot fail for a dict we watch) */
    }
    PyMem_Free(h);
}

void
fdc_dict_quiet_begin(fdc_dictref h)
{
    if (h->dict != NULL && PyDict_Unwatch(watcher_id, h->dict) < 0) {
        PyErr_Clear();   /* (cannot fail for a dict we watch) */
    }
}

void
fdc_dict_quiet_end(fdc_dictref h)
{
    if (h->dict != NULL && PyDict_Watch(watcher_id, h->dict) < 0) {
        PyErr_Clear();   /* (cannot fail for a dict) */
    }
}

#else   /* ma_version_tag */

int
fdc_dictver_init(void)
{
    return 0;
}

fdc_dictref
fdc_dict_follow(PyObject *dict)
{
    return dict;
}

void
fdc_dict_unfollow(fdc_dictref ref)
{
}

void
fdc_dict_quiet_begin(fdc_dictref ref)
{
}

void
fdc_dict_quiet_end(fdc_dictref ref)
{
}

#endif
