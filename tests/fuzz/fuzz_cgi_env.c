/*
 * libFuzzer target for cgi_env: the input is cut at '\n' into request fields, header
 * lines ("Name: value") and config env entries. Every param emitted must keep the promises
 * of cgi_env.h: names are non-empty and unique, HTTP_ names are upper-cased tokens without '.', and
 * never HTTP_PROXY, no header-derived value holds CR or LF (uniqueness also means config env
 * never overrides a variable cgi_env sets); and a callback that fails at call k stops the build
 * right there. Build: make fuzz (clang, libFuzzer, ASan, UBSan).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cgi_env.h"
#include "fuzz.h"

#define MAX_PARAMS 512

struct sink {
    char *names[MAX_PARAMS];
    int n, fail_at, calls;
    const struct cgi_request *r;
};

static int collect(void *ctx, const char *name, size_t nlen, const char *value, size_t vlen)
{
    struct sink *s = ctx;
    if (++s->calls == s->fail_at)
        return -1;
    CHECK(s->fail_at == 0 || s->calls < s->fail_at);
    CHECK(nlen > 0 && memchr(name, '\0', nlen) == NULL);
    if (nlen > 5 && memcmp(name, "HTTP_", 5) == 0) {
        /* a token with '-' turned into '_', upper-cased; no '.' (PHP folds it into '_') */
        for (size_t i = 5; i < nlen; i++)
            CHECK((name[i] >= 'A' && name[i] <= 'Z') || (name[i] >= '0' && name[i] <= '9') ||
                  (name[i] != '.' && strchr("!#$%&'*+^_`|~", name[i]) != NULL));
        CHECK(!(nlen == 10 && memcmp(name, "HTTP_PROXY", 10) == 0));
        CHECK(memchr(value, '\r', vlen) == NULL && memchr(value, '\n', vlen) == NULL);
    }
    for (int i = 0; i < s->n; i++)
        CHECK(strlen(s->names[i]) != nlen || memcmp(s->names[i], name, nlen) != 0);
    if (s->n < MAX_PARAMS)
        s->names[s->n++] = strndup(name, nlen);
    return 0;
}

static void sink_dispose(struct sink *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->names[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size > 16384)
        return 0;
    uint8_t flags = data[0];
    char *text = strndup((const char *)data + 1, size - 1); /* a NUL cuts the input short */
    char *fields[64];
    size_t n = 0;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line && n < 64;
         line = strtok_r(NULL, "\n", &save))
        fields[n++] = line;

    /* fields 0..7 are request strings, the rest headers ("a: b") then env ("A=b") */
    const char *f[8] = {0};
    for (size_t i = 0; i < 8 && i < n; i++)
        f[i] = fields[i];
    struct cgi_header headers[56];
    char *env[56];
    size_t n_headers = 0, n_env = 0;
    for (size_t i = 8; i < n; i++) {
        char *colon = strchr(fields[i], ':');
        if (colon && !strchr(fields[i], '=')) {
            *colon = '\0';
            headers[n_headers++] = (struct cgi_header){fields[i], colon + 1};
        } else {
            env[n_env++] = fields[i];
        }
    }
    size_t half = n_env / 2;
    struct cgi_request r = {
        .method = f[0],
        .request_uri = f[1],
        .query = flags & 1 ? f[2] : NULL,
        .script_name = f[3],
        .path_info = flags & 2 ? f[4] : NULL,
        .document_root = f[5] ? f[5] : "/srv/www/",
        .script_filename = flags & 4 ? f[6] : NULL,
        .document_uri = f[7],
        .server_port = 8080,
        .remote_port = 1234,
        .content_type = flags & 8 ? "text/plain" : NULL,
        .content_length = flags,
        .has_body = flags & 16,
        .https = flags & 32,
        .redirect_status = flags & 64 ? 200 : 0,
        .headers = headers,
        .n_headers = n_headers,
        .env = {{env, half}, {env + half, n_env - half}},
    };

    struct sink all = {.r = &r};
    CHECK(cgi_env_build(&r, collect, &all) == 0);
    /* fail at every position: the build stops there and reports it */
    for (int k = 1; k <= all.calls; k += (all.calls / 8) + 1) {
        struct sink cut = {.fail_at = k, .r = &r};
        CHECK(cgi_env_build(&r, collect, &cut) == -1);
        CHECK(cut.calls == k);
        sink_dispose(&cut);
    }
    sink_dispose(&all);
    free(text);
    return 0;
}
