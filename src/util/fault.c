/* Fault points for tests (BOB_FAULT). */
#include "util/fault.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FAULT_MAX 8

struct fault {
    char name[48]; /* a kind, or "@step" */
    long nth;
    atomic_long seen;
};

static struct fault faults[FAULT_MAX];
static int nfaults = -1; /* -1: BOB_FAULT not read yet */

/* Reads BOB_FAULT: "kind:N" or "kill@step:N", comma-separated. */
void fault_init(void)
{
    const char *env = getenv("BOB_FAULT");
    char *copy, *save = NULL, *tok;
    nfaults = 0;
    if (!env || !*env)
        return;
    copy = strdup(env);
    for (tok = copy ? strtok_r(copy, ",", &save) : NULL; tok && nfaults < FAULT_MAX;
         tok = strtok_r(NULL, ",", &save)) {
        char *colon = strrchr(tok, ':');
        struct fault *f = &faults[nfaults];
        long nth = colon ? strtol(colon + 1, NULL, 10) : 1;
        if (colon)
            *colon = '\0';
        if (strncmp(tok, "kill@", 5) == 0)
            tok += 4; /* keep the '@' */
        if (nth < 1 || strlen(tok) >= sizeof(f->name))
            continue;
        strcpy(f->name, tok);
        f->nth = nth;
        atomic_init(&f->seen, 0);
        nfaults++;
    }
    free(copy);
}

/* The fault for name, counted; true when this is its chosen arrival. */
static bool hit(const char *name, bool step)
{
    for (int i = 0; i < nfaults; i++) {
        struct fault *f = &faults[i];
        bool is_step = f->name[0] == '@';
        if (is_step != step || strcmp(f->name + is_step, name) != 0)
            continue;
        return atomic_fetch_add(&f->seen, 1) + 1 == f->nth;
    }
    return false;
}

int fault_check(const char *kind)
{
    return hit(kind, false) ? -EIO : 0;
}

void fault_step(const char *step)
{
    if (hit(step, true))
        kill(getpid(), SIGKILL);
}
