/*
 * preset: see include/preset.h. A preset name is a plain word ([A-Za-z0-9_-]), so it can never
 * name a file outside the presets directory. Each preset is loaded once and shared by the sites
 * that name it.
 */
#include "preset.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define PRESET_MAX_BYTES 65536

static struct preset **loaded;
static size_t n_loaded;
static struct preset **forgotten; /* loaded before a reload: old configurations point to them */
static size_t n_forgotten;

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

char *preset_dir(const struct config *cfg)
{
    if (cfg->server.presets_dir)
        return xstrdup(cfg->server.presets_dir);
    if (is_dir(WHARF_DATADIR "/presets"))
        return xstrdup(WHARF_DATADIR "/presets");
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            char *p = xasprintf("%s/../presets", exe);
            if (is_dir(p))
                return p;
            free(p);
        }
    }
#ifdef WHARF_SRC_PRESETS
    if (is_dir(WHARF_SRC_PRESETS)) /* uninstalled, built outside the source tree */
        return xstrdup(WHARF_SRC_PRESETS);
#endif
    return xstrdup(WHARF_DATADIR "/presets");
}

static bool is_preset_name(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-'))
            return false;
    return true;
}

/* The file's text, or NULL with *why (and *missing when there is no such file). */
static char *slurp(const char *path, const char **why, bool *missing)
{
    FILE *f = fopen(path, "rb");
    *missing = false;
    if (!f) {
        *missing = errno == ENOENT;
        *why = strerror(errno);
        return NULL;
    }
    char *text = xmalloc(PRESET_MAX_BYTES + 1);
    size_t n = fread(text, 1, PRESET_MAX_BYTES + 1, f);
    fclose(f);
    if (n > PRESET_MAX_BYTES) {
        *why = "file too large";
        free(text);
        return NULL;
    }
    text[n] = '\0';
    return text;
}

static const struct preset *load(const char *dir, const char *name, const char *at,
                                 struct errlist *errs)
{
    for (size_t i = 0; i < n_loaded; i++)
        if (strcmp(loaded[i]->name, name) == 0)
            return loaded[i];
    if (!is_preset_name(name)) {
        errlist_add(errs, "%s: fastcgi_preset: expected a preset name, got '%s'", at, name);
        return NULL;
    }
    char *path = xasprintf("%s/%s.ini", dir, name);
    const char *why = "unreadable";
    bool missing;
    char *text = slurp(path, &why, &missing);
    if (!text) {
        if (missing)
            errlist_add(errs, "%s: fastcgi_preset: unknown preset '%s' (no %s)", at, name, path);
        else
            errlist_add(errs, "%s: fastcgi_preset: cannot read preset '%s' (%s: %s)", at, name,
                        path, why);
        free(path);
        return NULL;
    }
    struct preset *p = xmalloc(sizeof *p);
    size_t before = errs->n;
    if (config_parse_preset(p, name, text, path, errs) != 0) {
        errlist_add(errs, "%s: fastcgi_preset: preset '%s' has %zu error%s (above)", at, name,
                    errs->n - before, errs->n - before == 1 ? "" : "s");
        config_preset_dispose(p);
        free(p);
        p = NULL;
    } else {
        loaded = xrealloc(loaded, (n_loaded + 1) * sizeof *loaded);
        loaded[n_loaded++] = p;
    }
    free(text);
    free(path);
    return p;
}

int preset_resolve_all(struct config *cfg, struct errlist *errs)
{
    size_t before = errs->n;
    char *dir = NULL;
    for (size_t i = 0; i < cfg->n_sites; i++) {
        struct site_conf *s = &cfg->sites[i];
        bool fastcgi = s->fcgi.n_upstreams || s->fcgi.spawn;
        /* a preset that was named is checked even where nothing runs it yet: a typo must not
         * wait for the day the site gets its fastcgi line */
        if (!fastcgi && !s->fcgi.preset_line && !s->fcgi.preset_from_cli)
            continue;
        if (!dir)
            dir = preset_dir(cfg);
        char at[320];
        if (s->fcgi.preset_from_cli)
            snprintf(at, sizeof at, "--preset");
        else if (s->fcgi.preset_line)
            snprintf(at, sizeof at, "%s:%u", cfg->filename ? cfg->filename : "(config)",
                     s->fcgi.preset_line);
        else
            snprintf(at, sizeof at, "[site %s]", s->name);
        const struct preset *p = load(dir, s->fcgi.preset_name, at, errs);
        if (fastcgi)
            s->fcgi.preset = p;
        else if (s->fcgi.preset_from_cli)
            errlist_add(errs, "--preset: [site %s] has no FastCGI backend (add --php)", s->name);
    }
    free(dir);
    return errs->n == before ? 0 : -1;
}

void preset_forget_loaded(void)
{
    forgotten = xrealloc(forgotten, (n_forgotten + n_loaded + 1) * sizeof *forgotten);
    for (size_t i = 0; i < n_loaded; i++)
        forgotten[n_forgotten++] = loaded[i];
    free(loaded);
    loaded = NULL;
    n_loaded = 0;
}

void preset_free_all(void)
{
    preset_forget_loaded();
    for (size_t i = 0; i < n_forgotten; i++) {
        config_preset_dispose(forgotten[i]);
        free(forgotten[i]);
    }
    free(forgotten);
    forgotten = NULL;
    n_forgotten = 0;
}
