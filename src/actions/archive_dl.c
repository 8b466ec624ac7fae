/* Loading libarchive on first use. */
#define ARCHIVE_DL_IMPL
#include "actions/archive_dl.h"

#include <dlfcn.h>
#include <stdio.h>
#include <pthread.h>
#include <string.h>

struct archive_dl archive_dl;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char load_error[512];

/* Opens the library and fills the table; records an error instead. */
static void load(void)
{
    void *h = dlopen("libarchive.so.13", RTLD_NOW | RTLD_LOCAL);
    if (!h)
        h = dlopen("libarchive.so", RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(load_error, sizeof(load_error), "cannot load libarchive: %s", dlerror());
        return;
    }
#define ARCHIVE_DL_LOAD(name)                                                                      \
    if (!load_error[0]) {                                                                          \
        *(void **)&archive_dl.name = dlsym(h, #name);                                              \
        if (!archive_dl.name)                                                                      \
            snprintf(load_error, sizeof(load_error), "cannot load libarchive: no %s", #name);      \
    }
    ARCHIVE_DL_FUNCTIONS(ARCHIVE_DL_LOAD)
#undef ARCHIVE_DL_LOAD
}

int archive_dl_load(struct err *e)
{
    pthread_once(&once, load);
    if (load_error[0])
        return err_set(e, "%s", load_error);
    return 0;
}
