/* bench/fcgi_load.c - FastCGI load client: the "no front server" ceiling for bench/run.sh.
 *
 * Opens N kept-alive connections (FCGI_KEEP_CONN) straight to a php-fpm unix socket, one thread
 * per connection, and on each sends one request at a time (BEGIN_REQUEST, PARAMS like nginx's
 * fastcgi_params, empty STDIN), reads to END_REQUEST and repeats for D seconds.  php-fpm does not
 * multiplex, so N connections = N requests in flight (keep N <= pm.max_children: a kept
 * connection pins a child).  Prints "key value" lines: requests, errors, seconds, rps, p50_ms,
 * p90_ms, p99_ms, p999_ms, max_ms, stdout_bytes_per_req.
 *
 * An error is: a failed connect/read/write (the connection is reopened), protocol status other
 * than REQUEST_COMPLETE, a non-zero app status, any STDERR record, or a "Status: 4xx/5xx" header.
 *
 * build: cc -O2 -pthread -o fcgi_load fcgi_load.c   (needs <fastcgi.h> from libfcgi-dev;
 *        header only, nothing to link)
 * usage: fcgi_load -s SOCKET -f SCRIPT_FILENAME [-u REQUEST_URI] [-r DOCUMENT_ROOT]
 *                  [-c CONNS] [-d SECONDS] [-p]
 *        -p: send one request, print the response's STDOUT (headers + body) and exit
 *            (exit status 1 if it was an error).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fastcgi.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static const char *sock_path, *script, *uri, *docroot;
static double deadline;
static int print_mode;

struct worker {
    pthread_t tid;
    int idx;
    uint32_t *lat_us; /* one entry per completed request */
    size_t n, cap;
    unsigned long errors;
    unsigned long long stdout_bytes;
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- request encoding ------------------------------------------------------------------ */

struct out {
    unsigned char *p;
    size_t n, cap;
};

static void put(struct out *o, const void *d, size_t n)
{
    if (o->n + n > o->cap) {
        o->cap = (o->n + n) * 2 + 256;
        o->p = realloc(o->p, o->cap);
        if (!o->p) { perror("realloc"); exit(2); }
    }
    memcpy(o->p + o->n, d, n);
    o->n += n;
}

static void header(struct out *o, int type, size_t len)
{
    FCGI_Header h = {FCGI_VERSION_1, (unsigned char)type, 0, 1, (unsigned char)(len >> 8),
                     (unsigned char)len, 0, 0};
    put(o, &h, sizeof h);
}

static void nv_len(struct out *o, size_t n)
{
    unsigned char b[4];
    if (n < 128) {
        b[0] = (unsigned char)n;
        put(o, b, 1);
    } else {
        b[0] = (unsigned char)((n >> 24) | 0x80); b[1] = (unsigned char)(n >> 16);
        b[2] = (unsigned char)(n >> 8); b[3] = (unsigned char)n;
        put(o, b, 4);
    }
}

static void param(struct out *o, const char *name, const char *value)
{
    nv_len(o, strlen(name));
    nv_len(o, strlen(value));
    put(o, name, strlen(name));
    put(o, value, strlen(value));
}

/* the whole request (request id 1) as one buffer, written with one write() per request */
static struct out build_request(void)
{
    struct out params = {0}, req = {0};
    const char *script_name = uri;
    param(&params, "SCRIPT_FILENAME", script);
    param(&params, "QUERY_STRING", "");
    param(&params, "REQUEST_METHOD", "GET");
    param(&params, "CONTENT_TYPE", "");
    param(&params, "CONTENT_LENGTH", "");
    param(&params, "SCRIPT_NAME", script_name);
    param(&params, "REQUEST_URI", uri);
    param(&params, "DOCUMENT_URI", uri);
    param(&params, "DOCUMENT_ROOT", docroot);
    param(&params, "SERVER_PROTOCOL", "HTTP/1.1");
    param(&params, "REQUEST_SCHEME", "http");
    param(&params, "GATEWAY_INTERFACE", "CGI/1.1");
    param(&params, "SERVER_SOFTWARE", "fcgi_load");
    param(&params, "REMOTE_ADDR", "127.0.0.1");
    param(&params, "REMOTE_PORT", "40000");
    param(&params, "SERVER_ADDR", "127.0.0.1");
    param(&params, "SERVER_PORT", "80");
    param(&params, "SERVER_NAME", "bench");
    param(&params, "REDIRECT_STATUS", "200");
    param(&params, "HTTP_HOST", "bench");
    param(&params, "HTTP_USER_AGENT", "fcgi_load");
    param(&params, "HTTP_ACCEPT", "*/*");
    if (params.n > FCGI_MAX_LENGTH) { fprintf(stderr, "params too long\n"); exit(2); }

    FCGI_BeginRequestBody b = {0, FCGI_RESPONDER, FCGI_KEEP_CONN, {0}};
    header(&req, FCGI_BEGIN_REQUEST, sizeof b);
    put(&req, &b, sizeof b);
    header(&req, FCGI_PARAMS, params.n);
    put(&req, params.p, params.n);
    static const unsigned char pad[8];
    size_t padn = (8 - params.n % 8) % 8;
    req.p[req.n - params.n - 2] = (unsigned char)padn; /* paddingLength of the PARAMS header */
    put(&req, pad, padn);
    header(&req, FCGI_PARAMS, 0);
    header(&req, FCGI_STDIN, 0);
    free(params.p);
    return req;
}

/* ---- connection ------------------------------------------------------------------------ */

static int connect_fpm(void)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(sock_path) >= sizeof sa.sun_path) { fprintf(stderr, "socket path too long\n"); exit(2); }
    strcpy(sa.sun_path, sock_path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

struct reader {
    unsigned char buf[65536 + 16];
    size_t start, end;
};

/* make at least n bytes available at r->buf + r->start */
static int fill(int fd, struct reader *r, size_t n)
{
    if (r->end - r->start >= n) return 0;
    if (r->start) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    while (r->end < n) {
        ssize_t got = read(fd, r->buf + r->end, sizeof r->buf - r->end);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return -1;
        r->end += (size_t)got;
    }
    return 0;
}

/* Reads one response to END_REQUEST.  Returns 0 ok, 1 application-level error,
 * -1 connection failure.  *bytes = STDOUT bytes; with print_mode STDOUT goes to stdout. */
static int read_response(int fd, struct reader *r, unsigned long long *bytes)
{
    char head[1024]; /* start of STDOUT, to find a Status: header */
    size_t headn = 0;
    int err = 0;
    *bytes = 0;
    for (;;) {
        if (fill(fd, r, FCGI_HEADER_LEN) < 0) return -1;
        FCGI_Header *h = (FCGI_Header *)(r->buf + r->start);
        size_t clen = ((size_t)h->contentLengthB1 << 8) | h->contentLengthB0;
        size_t total = FCGI_HEADER_LEN + clen + h->paddingLength;
        int type = h->type;
        if (h->version != FCGI_VERSION_1) return -1;
        if (fill(fd, r, total) < 0) return -1;
        unsigned char *c = r->buf + r->start + FCGI_HEADER_LEN;
        if (type == FCGI_STDOUT) {
            *bytes += clen;
            if (headn < sizeof head - 1) {
                size_t k = clen < sizeof head - 1 - headn ? clen : sizeof head - 1 - headn;
                memcpy(head + headn, c, k);
                headn += k;
            }
            if (print_mode) fwrite(c, 1, clen, stdout);
        } else if (type == FCGI_STDERR) {
            if (clen) {
                err = 1;
                if (print_mode) fprintf(stderr, "STDERR: %.*s\n", (int)clen, (char *)c);
            }
        } else if (type == FCGI_END_REQUEST) {
            FCGI_EndRequestBody *e = (FCGI_EndRequestBody *)c;
            if (clen < sizeof *e) return -1;
            unsigned app = ((unsigned)e->appStatusB3 << 24) | (e->appStatusB2 << 16) |
                           (e->appStatusB1 << 8) | e->appStatusB0;
            if (e->protocolStatus != FCGI_REQUEST_COMPLETE || app != 0) err = 1;
            r->start += total;
            break;
        }
        r->start += total;
    }
    head[headn] = 0;
    /* CGI response headers end at the first empty line; a Status: >= 400 is an error */
    char *eoh = strstr(head, "\r\n\r\n");
    if (eoh) *eoh = 0;
    for (char *l = head; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncasecmp(l, "Status:", 7) == 0 && atoi(l + 7) >= 400) err = 1;
    }
    return err;
}

static void *run(void *arg)
{
    struct worker *w = arg;
    struct out req = build_request();
    struct reader *r = malloc(sizeof *r);
    int fd = -1;
    if (!r) { perror("malloc"); exit(2); }
    while (now() < deadline) {
        if (fd < 0) {
            fd = connect_fpm();
            if (fd < 0) {
                w->errors++;
                usleep(1000);
                continue;
            }
            r->start = r->end = 0;
        }
        double t0 = now();
        unsigned long long bytes;
        int rc = write_all(fd, req.p, req.n) < 0 ? -1 : read_response(fd, r, &bytes);
        double t1 = now();
        if (rc < 0) {
            w->errors++;
            close(fd);
            fd = -1;
            continue;
        }
        if (rc > 0) w->errors++;
        w->stdout_bytes += bytes;
        if (w->n == w->cap) {
            w->cap = w->cap ? w->cap * 2 : 65536;
            w->lat_us = realloc(w->lat_us, w->cap * sizeof *w->lat_us);
            if (!w->lat_us) { perror("realloc"); exit(2); }
        }
        double us = (t1 - t0) * 1e6;
        w->lat_us[w->n++] = us > 4e9 ? 4000000000u : (uint32_t)us;
    }
    if (fd >= 0) close(fd);
    free(r);
    free(req.p);
    return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static double pct(const uint32_t *v, size_t n, double p)
{
    if (!n) return 0;
    size_t i = (size_t)(p / 100.0 * (double)n);
    if (i >= n) i = n - 1;
    return v[i] / 1000.0;
}

static void usage(void)
{
    fprintf(stderr, "usage: fcgi_load -s SOCKET -f SCRIPT_FILENAME [-u URI] [-r DOCROOT] "
                    "[-c CONNS] [-d SECONDS] [-p]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int conns = 4, opt;
    double secs = 10;
    while ((opt = getopt(argc, argv, "s:f:u:r:c:d:p")) != -1) {
        switch (opt) {
        case 's': sock_path = optarg; break;
        case 'f': script = optarg; break;
        case 'u': uri = optarg; break;
        case 'r': docroot = optarg; break;
        case 'c': conns = atoi(optarg); break;
        case 'd': secs = atof(optarg); break;
        case 'p': print_mode = 1; break;
        default: usage();
        }
    }
    if (!sock_path || !script || conns < 1 || conns > 1024 || secs <= 0) usage();
    if (!strncmp(sock_path, "unix:", 5)) sock_path += 5;
    if (!uri) {
        const char *slash = strrchr(script, '/');
        uri = slash ? slash : script;
    }
    if (!docroot) docroot = "/";

    if (print_mode) {
        struct out req = build_request();
        struct reader *r = malloc(sizeof *r);
        unsigned long long bytes;
        int fd = connect_fpm();
        if (fd < 0) { perror("connect"); return 1; }
        r->start = r->end = 0;
        if (write_all(fd, req.p, req.n) < 0) { perror("write"); return 1; }
        int rc = read_response(fd, r, &bytes);
        fflush(stdout);
        close(fd);
        return rc != 0;
    }

    struct worker *w = calloc((size_t)conns, sizeof *w);
    double t0 = now();
    deadline = t0 + secs;
    for (int i = 0; i < conns; i++) {
        w[i].idx = i;
        if (pthread_create(&w[i].tid, NULL, run, &w[i])) { perror("pthread_create"); return 2; }
    }
    size_t total = 0;
    unsigned long errors = 0;
    unsigned long long bytes = 0;
    for (int i = 0; i < conns; i++) {
        pthread_join(w[i].tid, NULL);
        total += w[i].n;
        errors += w[i].errors;
        bytes += w[i].stdout_bytes;
    }
    double elapsed = now() - t0;
    uint32_t *all = malloc((total ? total : 1) * sizeof *all);
    size_t k = 0;
    for (int i = 0; i < conns; i++) {
        memcpy(all + k, w[i].lat_us, w[i].n * sizeof *all);
        k += w[i].n;
        free(w[i].lat_us);
    }
    qsort(all, total, sizeof *all, cmp_u32);
    printf("requests %zu\nerrors %lu\nseconds %.3f\nrps %.1f\n", total, errors, elapsed,
           total / elapsed);
    printf("p50_ms %.3f\np90_ms %.3f\np99_ms %.3f\np999_ms %.3f\nmax_ms %.3f\n",
           pct(all, total, 50), pct(all, total, 90), pct(all, total, 99), pct(all, total, 99.9),
           total ? all[total - 1] / 1000.0 : 0.0);
    printf("stdout_bytes_per_req %.0f\n", total ? (double)bytes / (double)total : 0.0);
    free(all);
    free(w);
    return 0;
}
