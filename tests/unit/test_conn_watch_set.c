/* conn_watch sets (one per worker): deadlines on the caller's clock, sets kept apart. */
#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn_watch.h"
#include "tap.h"
#include "util.h"

#define HEADER_MS 200
#define IDLE_MS 300

static bool is_cut(int peer)
{
    char c;
    return recv(peer, &c, 1, MSG_DONTWAIT) == 0;
}

int main(void)
{
    int a[2], b[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, a) || socketpair(AF_UNIX, SOCK_STREAM, 0, b))
        return 99;
    conn_watch_configure(HEADER_MS, IDLE_MS);
    struct conn_watch_set *s1 = conn_watch_set_new(), *s2 = conn_watch_set_new();
    uint64_t t0 = clock_ms();
    struct conn_watch *wa = conn_watch_add_to(s1, a[0]);
    struct conn_watch *wb = conn_watch_add_to(s2, b[0]);
    conn_watch_reading_head(wa);
    conn_watch_reading_head(wb);
    is_int(conn_watch_sweep_set(s1, t0), 0, "nothing due at the start");
    /* a clock far enough ahead that both heads are late, whatever the real time took */
    uint64_t late = clock_ms() + HEADER_MS + 50;
    is_int(conn_watch_sweep_set(s1, late), 1, "set 1: its late head is cut");
    ok(is_cut(a[1]), "its socket is shut down");
    ok(!is_cut(b[1]), "the other set's connection is not touched by set 1's sweep");
    is_int(conn_watch_sweep_set(s1, late), 0, "not counted twice");
    is_int(conn_watch_sweep(), 0, "the global set holds neither");
    is_int(conn_watch_sweep_set(s2, late), 1, "set 2 cuts its own");
    ok(is_cut(b[1]), "its socket is shut down");
    conn_watch_remove(wa);
    conn_watch_remove(wb);
    is_int(conn_watch_sweep_set(s1, late + 100000), 0, "removed: empty");
    conn_watch_set_free(s1);
    conn_watch_set_free(s2);
    conn_watch_set_free(NULL);
    for (int i = 0; i < 2; i++) {
        close(a[i]);
        close(b[i]);
    }

    /* the drain: waiting connections are closed, unless too fresh or with a request pending */
    int w[2], p[2], h[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, w) || socketpair(AF_UNIX, SOCK_STREAM, 0, p) ||
        socketpair(AF_UNIX, SOCK_STREAM, 0, h))
        return 99;
    struct conn_watch_set *s3 = conn_watch_set_new();
    uint64_t t1 = clock_ms();
    struct conn_watch *ww = conn_watch_add_to(s3, w[0]); /* waiting, silent */
    struct conn_watch *wp = conn_watch_add_to(s3, p[0]); /* waiting, its request is here */
    struct conn_watch *wh = conn_watch_add_to(s3, h[0]); /* busy with a request */
    conn_watch_busy(wh);
    if (write(p[1], "GET / HTTP/1.1\r\n", 16) != 16)
        return 99;
    is_int(conn_watch_close_waiting(s3, t1), 0, "drain: a connection that just arrived is kept");
    uint64_t later = clock_ms() + CONN_WATCH_DRAIN_GRACE_MS + 10;
    is_int(conn_watch_close_waiting(s3, later), 1, "drain: after the grace, one is closed");
    ok(is_cut(w[1]), "drain: the silent waiting connection is shut down");
    ok(!is_cut(p[1]), "drain: one with request bytes pending is left to be served");
    ok(!is_cut(h[1]), "drain: a busy one is left to finish its response");
    is_int(conn_watch_close_waiting(s3, later), 0, "drain: not closed twice");
    conn_watch_remove(ww);
    conn_watch_remove(wp);
    conn_watch_remove(wh);
    conn_watch_set_free(s3);
    for (int i = 0; i < 2; i++) {
        close(w[i]);
        close(p[i]);
        close(h[i]);
    }
    return done_testing();
}
