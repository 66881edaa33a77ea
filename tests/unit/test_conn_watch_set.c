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
    struct conn_watch *wa = conn_watch_add_to(s1, a[0], NULL);
    struct conn_watch *wb = conn_watch_add_to(s2, b[0], NULL);
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
    struct conn_watch *ww = conn_watch_add_to(s3, w[0], NULL); /* waiting, silent */
    struct conn_watch *wp = conn_watch_add_to(s3, p[0], NULL); /* waiting, its request is here */
    struct conn_watch *wh = conn_watch_add_to(s3, h[0], NULL); /* busy with a request */
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

    /* a removed listener: only its own connections are marked and closed */
    int o1[2], o2[2], x[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, o1) || socketpair(AF_UNIX, SOCK_STREAM, 0, o2) ||
        socketpair(AF_UNIX, SOCK_STREAM, 0, x))
        return 99;
    int gone_daemon, kept_daemon; /* their addresses are the owners */
    struct conn_watch_set *s4 = conn_watch_set_new();
    struct conn_watch *wo1 = conn_watch_add_to(s4, o1[0], &gone_daemon); /* idle */
    struct conn_watch *wo2 = conn_watch_add_to(s4, o2[0], &gone_daemon); /* busy */
    struct conn_watch *wx = conn_watch_add_to(s4, x[0], &kept_daemon);   /* idle */
    conn_watch_busy(wo2);
    ok(!conn_watch_closing(wo1) && !conn_watch_closing(NULL), "not closing before the removal");
    later = clock_ms() + CONN_WATCH_DRAIN_GRACE_MS + 10;
    is_int(conn_watch_close_owner(s4, &gone_daemon, later), 1,
           "removed listener: its idle connection is closed");
    ok(is_cut(o1[1]) && !is_cut(o2[1]) && !is_cut(x[1]),
       "... not its busy one, nor another listener's idle one");
    ok(conn_watch_closing(wo2) && !conn_watch_closing(wx),
       "its busy one closes after its response; the other listener's does not");
    conn_watch_remove(wo1);
    conn_watch_remove(wo2);
    conn_watch_remove(wx);
    conn_watch_set_free(s4);
    for (int i = 0; i < 2; i++) {
        close(o1[i]);
        close(o2[i]);
        close(x[i]);
    }
    return done_testing();
}
