/* Environments for commands in sandboxes. */
#include "sandbox/exec.h"

#include <stdlib.h>
#include <string.h>

void sandbox_env(const struct config *cfg, enum env_ctx which, bool with_vars,
                 const struct strv *extra, struct strv *out)
{
    const struct env_policy *p = which == CTX_DEV ? &cfg->env_dev : &cfg->env_build;
    if (!p->present || !p->clear) {
        env_from_environ(out);
    } else {
        for (size_t i = 0; i < p->inherit.n; i++) {
            const char *v = getenv(p->inherit.v[i]);
            if (v)
                env_setkv(out, p->inherit.v[i], v);
        }
    }
    if (p->present && with_vars)
        for (size_t i = 0; i < p->vars.n; i++)
            env_set(out, p->vars.v[i]);
    for (size_t i = 0; extra && i < extra->n; i++)
        env_set(out, extra->v[i]);
}

char *shell_dquote(const char *s)
{
    struct buf b = {0};
    buf_adds(&b, "\"");
    for (; *s; s++) {
        if (*s == '"' || *s == '\\' || *s == '`' || *s == '$')
            buf_add(&b, "\\", 1);
        buf_add(&b, s, 1);
    }
    buf_adds(&b, "\"");
    return b.p;
}

const char *const sandbox_cover[] = {"/.bob", NULL};
