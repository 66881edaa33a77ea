/* gate: see include/gate.h. */
#include "gate.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "gate_spec.h"
#include "util.h"

#define TOKEN_BYTES 24

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char token[TOKEN_BYTES * 2 + 1];
static bool token_ok;
static bool curl_ok;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char base_url[80]; /* "http://127.0.0.1:8080", under lock; "" = no listener */
static bool capturing;    /* a check runs: keep stderr lines, under lock */
static struct buf captured;

static void init_once(void)
{
    unsigned char raw[TOKEN_BYTES];
    if (gnutls_rnd(GNUTLS_RND_KEY, raw, sizeof raw) == 0) {
        for (size_t i = 0; i < sizeof raw; i++)
            snprintf(token + 2 * i, 3, "%02x", raw[i]);
        token_ok = true;
    }
    curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
    buf_init(&captured, GATE_STDERR_MAX);
}

void gate_set_listener(int fd)
{
    pthread_once(&once, init_once);
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char url[sizeof base_url] = "";
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
        char ip[INET6_ADDRSTRLEN];
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *a = (struct sockaddr_in *)&ss;
            if (a->sin_addr.s_addr == htonl(INADDR_ANY))
                a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
            snprintf(url, sizeof url, "http://%s:%u", ip, ntohs(a->sin_port));
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
            if (IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr))
                a->sin6_addr = in6addr_loopback;
            inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
            snprintf(url, sizeof url, "http://[%s]:%u", ip, ntohs(a->sin6_port));
        }
    }
    pthread_mutex_lock(&lock);
    copy_str(base_url, sizeof base_url, url);
    pthread_mutex_unlock(&lock);
}

bool gate_token_ok(const char *value)
{
    pthread_once(&once, init_once);
    if (!token_ok || !value || strlen(value) != sizeof token - 1)
        return false;
    return gnutls_memcmp(value, token, sizeof token - 1) == 0;
}

void gate_note_stderr(const char *line)
{
    pthread_mutex_lock(&lock);
    if (capturing) {
        if (captured.len)
            buf_putc(&captured, '\n');
        buf_puts(&captured, line);
    }
    pthread_mutex_unlock(&lock);
}

struct body {
    char data[GATE_SPEC_BODY_SHOWN + 1];
    size_t len;  /* kept */
    size_t seen; /* received */
};

static size_t on_body(char *p, size_t size, size_t n, void *user)
{
    struct body *b = user;
    size_t len = size * n;
    if (b->len < sizeof b->data) {
        size_t take = sizeof b->data - b->len < len ? sizeof b->data - b->len : len;
        memcpy(b->data + b->len, p, take);
        b->len += take;
    }
    b->seen += len;
    return len;
}

bool gate_check(const struct site_conf *site, const char *release, struct buf *why)
{
    pthread_once(&once, init_once);
    char path[GATE_SPEC_PATH_MAX];
    unsigned want = 0;
    const char *perr;
    if (!site->git.check || gate_spec_parse(site->git.check, path, sizeof path, &want, &perr) != 0)
        return true; /* no check (config_load refused a bad one) */
    struct body body = {.len = 0};
    struct gate_spec_result res = {.status = 0};
    char errbuf[CURL_ERROR_SIZE] = "";
    pthread_mutex_lock(&lock);
    char *url = base_url[0] ? xasprintf("%s%s", base_url, path) : NULL;
    capturing = true;
    buf_reset(&captured);
    pthread_mutex_unlock(&lock);
    CURL *c = url && curl_ok && token_ok ? curl_easy_init() : NULL;
    struct curl_slist *h = NULL;
    if (!c) {
        res.error = !url ? "no listener to send the check to" : "libcurl is not available";
    } else {
        char *hv = xasprintf("Host: %s", site->hosts.n ? site->hosts.v[0] : "localhost");
        h = curl_slist_append(h, hv);
        free(hv);
        hv = xasprintf(GATE_TOKEN_HEADER ": %s", token);
        h = curl_slist_append(h, hv);
        free(hv);
        if (release) {
            hv = xasprintf(GATE_RELEASE_HEADER ": %s", release);
            h = curl_slist_append(h, hv);
            free(hv);
        }
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_USERAGENT, "wharf-check/" PACKAGE_VERSION);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)site->git.check_timeout_ms);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(c, CURLOPT_PROXY, ""); /* never through a proxy from the environment */
        curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
        CURLcode rc = curl_easy_perform(c);
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (rc == CURLE_OK)
            res.status = status;
        else
            res.error = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    }
    res.body = body.data;
    res.body_len = body.len; /* one byte more than shown when cut: describe marks it */
    pthread_mutex_lock(&lock);
    capturing = false;
    char *err_text = xasprintf("%.*s", (int)captured.len, captured.data ? captured.data : "");
    buf_reset(&captured);
    pthread_mutex_unlock(&lock);
    res.stderr_text = err_text;
    bool passed = res.status && gate_spec_status_ok(want, res.status);
    if (!passed)
        gate_spec_describe(path, want, &res, why);
    free(err_text);
    curl_slist_free_all(h);
    if (c)
        curl_easy_cleanup(c);
    free(url);
    return passed;
}
