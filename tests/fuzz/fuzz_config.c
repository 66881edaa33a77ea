/*
 * libFuzzer target for config: the input is an INI text (the first byte picks main file or
 * preset). Parsing must never crash or leak, must be deterministic, every error must name the
 * file, and a line unless it is about the whole file ("fuzz.ini:N: ..." or "fuzz.ini: ..."), and a
 * text that parses and finishes cleanly must give a usable config: at least one listen address and
 * one site, each with a root, and a site for any Host (config_site_for_host never NULL). Build:
 * make fuzz (clang, libFuzzer, ASan, UBSan).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "util.h"
#include "fuzz.h"

static void check_located(const struct errlist *e, size_t from, const char *prefix)
{
    size_t n = strlen(prefix);
    for (size_t i = from; i < e->n; i++) {
        CHECK(strncmp(e->msg[i], prefix, n) == 0);
        /* "FILE:LINE: ..." or, for what concerns the whole file, "FILE: ..." */
        CHECK((e->msg[i][n] >= '0' && e->msg[i][n] <= '9') || e->msg[i][n] == ' ');
    }
}

static void fuzz_main(const char *text)
{
    struct config a, b;
    struct errlist ea = {0}, eb = {0};
    config_init(&a);
    config_init(&b);
    int ra = config_parse(&a, text, "fuzz.ini", &ea);
    int rb = config_parse(&b, text, "fuzz.ini", &eb);
    CHECK(ra == rb && ea.n == eb.n);
    for (size_t i = 0; i < ea.n; i++)
        CHECK(strcmp(ea.msg[i], eb.msg[i]) == 0);
    CHECK((ra == 0) == (ea.n == 0));
    check_located(&ea, 0, "fuzz.ini:");
    if (ra == 0 && config_finish(&a, &ea) == 0) {
        CHECK(a.server.n_listen + a.server.n_tls_listen >= 1);
        CHECK(a.n_sites >= 1);
        for (size_t i = 0; i < a.n_sites; i++)
            CHECK(a.sites[i].root != NULL);
        CHECK(config_site_for_host(&a, NULL) != NULL);
        CHECK(config_site_for_host(&a, "no.such.host.example:80") != NULL);
    }
    config_dispose(&a);
    config_dispose(&b);
    errlist_dispose(&ea);
    errlist_dispose(&eb);
}

static void fuzz_preset(const char *text)
{
    struct preset p;
    struct errlist e = {0};
    int rc = config_parse_preset(&p, "fuzz", text, "fuzz.ini", &e);
    CHECK((rc == 0) == (e.n == 0));
    check_located(&e, 0, "fuzz.ini:");
    config_preset_dispose(&p);
    errlist_dispose(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    char *text = strndup((const char *)data + 1, size - 1);
    if (data[0] & 1)
        fuzz_preset(text);
    else
        fuzz_main(text);
    free(text);
    return 0;
}
