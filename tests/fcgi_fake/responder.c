/*
 * responder: a tiny FastCGI application on libfcgi (fcgiapp.h) for the end-to-end tests. It
 * produces what php-fpm will not: huge response heads, stderr floods, slow trickles, responses
 * that never end, huge bodies. Build: cc -O1 -o responder responder.c -lfcgi
 *
 * Usage: responder LISTEN [WORKERS]
 *   LISTEN   a unix socket path, or HOST:PORT / :PORT (libfcgi's FCGX_OpenSocket syntax)
 *   WORKERS  processes accepting on the socket (default 4), so a hung request does not block
 *            the others. Workers die with the parent (SIGTERM the parent to stop everything).
 *
 * The mode comes from the QUERY_STRING parameter mode=NAME, else from the basename of
 * SCRIPT_NAME without its extension (/hang.php -> hang). Other parameters: n, ms, size, tag.
 *   hello       (default) a small 200 with X-Fake-Conn: PID.CONN and X-Fake-Req: N (the
 *               connection's serial number in this worker and the request's number on it)
 *   headers     n headers "X-Big-NN: aaa..." of exactly 1024 bytes each with CRLF (values of
 *               1012 bytes; n = 4), then "headers ok\n"
 *   bigheaders  the same with n = 70: 70 KiB of response head
 *   stderr      1 MiB on FCGI_STDERR (16384 lines of 64 bytes, "stderr-flood TAG line N ...")
 *               around a 200 "stderr done\n" (TAG = tag, default "flood")
 *   trickle     the whole STDOUT (head and "trickle-done") one byte every 50 ms (ms = 50)
 *   slow        sleep ms (default 2000) milliseconds, then "slow done\n"
 *   hang        never answers: waits until the server closes the connection or aborts
 *   hangbody    sends a head and "partial", then waits as hang
 *   big         size bytes (default 50 MiB), byte i = i % 251, with Content-Length unless cl=0
 * Everything that happens to a request (start, done, peer closed, write failed) is logged on
 * the responder's own stderr, one line each: "responder PID conn C req R MODE [QUERY]: EVENT".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcgiapp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static FCGX_Request req;
static char mode[64];
static unsigned long conn_no, req_no;
static struct timespec t0;

static long elapsed_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
}

static void note(const char *fmt, ...)
{
    char line[512];
    const char *qs = FCGX_GetParam("QUERY_STRING", req.envp);
    int n =
        snprintf(line, sizeof line, "responder %d conn %lu req %lu %s [%.200s]: ", (int)getpid(),
                 conn_no, req_no, mode, qs ? qs : "");
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    ssize_t w = write(2, line, (size_t)n);
    (void)w;
}

/* Value of NAME in the query string (copied into out), or NULL. */
static const char *query_param(const char *name, char *out, size_t cap)
{
    const char *q = FCGX_GetParam("QUERY_STRING", req.envp);
    size_t nl = strlen(name);
    while (q && *q) {
        const char *end = strchr(q, '&');
        size_t len = end ? (size_t)(end - q) : strlen(q);
        if (len > nl && strncmp(q, name, nl) == 0 && q[nl] == '=') {
            size_t vl = len - nl - 1;
            if (vl >= cap)
                vl = cap - 1;
            memcpy(out, q + nl + 1, vl);
            out[vl] = '\0';
            return out;
        }
        q = end ? end + 1 : NULL;
    }
    return NULL;
}

static unsigned long long num_param(const char *name, unsigned long long dflt)
{
    char v[32];
    return query_param(name, v, sizeof v) ? strtoull(v, NULL, 10) : dflt;
}

static void pick_mode(void)
{
    if (query_param("mode", mode, sizeof mode))
        return;
    const char *s = FCGX_GetParam("SCRIPT_NAME", req.envp);
    const char *base = s ? strrchr(s, '/') : NULL;
    base = base ? base + 1 : s ? s : "";
    snprintf(mode, sizeof mode, "%.*s", (int)strcspn(base, "."), base);
    if (!mode[0])
        snprintf(mode, sizeof mode, "hello");
}

/* Wait up to ms milliseconds (forever if ms < 0); return 1 as soon as the server closed the
 * connection or sent anything (FCGI_ABORT_REQUEST), else 0. */
static int wait_or_gone(long ms)
{
    long until = elapsed_ms() + ms;
    for (;;) {
        long left = ms < 0 ? 1000 : until - elapsed_ms();
        if (left <= 0)
            return 0;
        struct pollfd p = {.fd = req.ipcFd, .events = POLLIN | POLLRDHUP};
        int n = poll(&p, 1, (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n > 0) {
            char c;
            ssize_t r = recv(req.ipcFd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
            if (r == 0 || (r < 0 && errno != EAGAIN)) {
                note("peer closed after %ld ms", elapsed_ms());
                return 1;
            }
            if (r > 0) {
                note("peer sent data (abort?) after %ld ms", elapsed_ms());
                return 1;
            }
        }
    }
}

static int put(const char *s, size_t n)
{
    if (FCGX_PutStr(s, (int)n, req.out) != (int)n) {
        note("write failed after %ld ms", elapsed_ms());
        return -1;
    }
    return 0;
}

static int puts_out(const char *s)
{
    return put(s, strlen(s));
}

static void do_hello(void)
{
    FCGX_FPrintF(req.out,
                 "Content-Type: text/plain\r\nX-Fake-Conn: %d.%lu\r\nX-Fake-Req: %lu\r\n\r\n"
                 "hello\n",
                 (int)getpid(), conn_no, req_no);
}

static void do_headers(unsigned long long n)
{
    char line[1025];
    for (unsigned long long i = 0; i < n; i++) {
        int k = snprintf(line, sizeof line, "X-Big-%02llu: ", i); /* 10 bytes for i < 100 */
        memset(line + k, 'a', 1022 - (size_t)k);
        line[1022] = '\r';
        line[1023] = '\n';
        if (put(line, 1024) != 0)
            return;
    }
    puts_out("Content-Type: text/plain\r\n\r\nheaders ok\n");
}

static void do_stderr(void)
{
    char tag[32], line[65];
    if (!query_param("tag", tag, sizeof tag))
        snprintf(tag, sizeof tag, "flood");
    for (unsigned i = 0; i < 16384; i++) {
        int k = snprintf(line, sizeof line, "stderr-flood %s line %05u ", tag, i);
        memset(line + k, 'x', 63 - (size_t)k);
        line[63] = '\n';
        if (FCGX_PutStr(line, 64, req.err) != 64) {
            note("stderr write failed at line %u", i);
            return;
        }
        if (i == 8191 && puts_out("Content-Type: text/plain\r\n\r\n") != 0)
            return;
    }
    puts_out("stderr done\n");
}

static void do_trickle(void)
{
    static const char all[] = "Content-Type: text/plain\r\n\r\ntrickle-done";
    long ms = (long)num_param("ms", 50);
    for (size_t i = 0; i < sizeof all - 1; i++) {
        if (i && wait_or_gone(ms))
            return;
        if (FCGX_PutChar(all[i], req.out) < 0 || FCGX_FFlush(req.out) < 0) {
            note("write failed after %ld ms", elapsed_ms());
            return;
        }
    }
}

static void do_slow(void)
{
    if (wait_or_gone((long)num_param("ms", 2000)))
        return;
    puts_out("Content-Type: text/plain\r\n\r\nslow done\n");
}

static void do_hang(bool with_head)
{
    if (with_head) {
        puts_out("Content-Type: text/plain\r\n\r\npartial");
        FCGX_FFlush(req.out);
    }
    wait_or_gone(-1);
}

static void do_big(void)
{
    unsigned long long size = num_param("size", 50ull << 20), off = 0;
    static char pat[65536 + 251];
    for (size_t i = 0; i < sizeof pat; i++)
        pat[i] = (char)(i % 251);
    if (num_param("cl", 1))
        FCGX_FPrintF(req.out,
                     "Content-Type: application/octet-stream\r\nContent-Length: %llu\r\n\r\n",
                     size);
    else
        FCGX_FPrintF(req.out, "Content-Type: application/octet-stream\r\n\r\n");
    while (off < size) {
        size_t n = size - off < 65536 ? (size_t)(size - off) : 65536;
        if (FCGX_PutStr(pat + off % 251, (int)n, req.out) != (int)n) {
            note("write failed after %llu bytes, %ld ms", off, elapsed_ms());
            return;
        }
        off += n;
    }
}

static void serve(void)
{
    pick_mode();
    clock_gettime(CLOCK_MONOTONIC, &t0);
    note("start");
    if (strcmp(mode, "headers") == 0)
        do_headers(num_param("n", 4));
    else if (strcmp(mode, "bigheaders") == 0)
        do_headers(num_param("n", 70));
    else if (strcmp(mode, "stderr") == 0)
        do_stderr();
    else if (strcmp(mode, "trickle") == 0)
        do_trickle();
    else if (strcmp(mode, "slow") == 0)
        do_slow();
    else if (strcmp(mode, "hang") == 0)
        do_hang(false);
    else if (strcmp(mode, "hangbody") == 0)
        do_hang(true);
    else if (strcmp(mode, "big") == 0)
        do_big();
    else
        do_hello();
    note("done after %ld ms", elapsed_ms());
}

static void worker(int sock, pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(0);
    FCGX_InitRequest(&req, sock, 0);
    for (;;) {
        bool fresh = req.ipcFd < 0; /* after FCGX_Finish_r: a kept connection stays open */
        if (FCGX_Accept_r(&req) < 0) {
            if (errno == EINTR)
                continue;
            usleep(10000); /* a broken connection: accept the next one */
            continue;
        }
        if (fresh) {
            conn_no++;
            req_no = 0;
        }
        req_no++;
        serve();
        FCGX_Finish_r(&req);
    }
}

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: responder LISTEN [WORKERS]\n");
        return 2;
    }
    int workers = argc == 3 ? atoi(argv[2]) : 4;
    if (workers < 1 || workers > 64)
        workers = 4;
    signal(SIGPIPE, SIG_IGN);
    if (FCGX_Init() != 0) {
        fprintf(stderr, "responder: FCGX_Init failed\n");
        return 1;
    }
    int sock = FCGX_OpenSocket(argv[1], 64);
    if (sock < 0) {
        fprintf(stderr, "responder: cannot listen on %s\n", argv[1]);
        return 1;
    }
    pid_t parent = getpid(), kids[64];
    for (int i = 0; i < workers; i++) {
        kids[i] = fork();
        if (kids[i] == 0)
            worker(sock, parent);
    }
    struct sigaction sa = {.sa_handler = on_term};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    fprintf(stderr, "responder %d: listening on %s with %d workers\n", (int)parent, argv[1],
            workers);
    while (!stop)
        pause();
    for (int i = 0; i < workers; i++)
        if (kids[i] > 0)
            kill(kids[i], SIGKILL);
    while (wait(NULL) > 0)
        ;
    if (argv[1][0] == '/')
        unlink(argv[1]);
    return 0;
}
