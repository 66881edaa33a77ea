/*
 * listen_queue: see include/listen_queue.h. The dump asks only for listening unix sockets,
 * with their names and queue lengths (for a listener, udiag_rqueue is the accept backlog).
 */
#include "listen_queue.h"

#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifdef HAVE_LINUX_UNIX_DIAG_H
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/tcp.h> /* TCP_LISTEN: unix sockets reuse the TCP state numbers */

/* The queue length in one dump message if it is the listener bound at path, else -1. */
static int match(const struct nlmsghdr *h, const char *path, size_t path_len)
{
    const struct unix_diag_msg *m = NLMSG_DATA(h);
    int len = (int)h->nlmsg_len - (int)NLMSG_LENGTH(sizeof *m);
    bool named = false;
    int queued = -1;
    for (const struct rtattr *a = (const void *)(m + 1); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
        if (a->rta_type == UNIX_DIAG_NAME) /* the bound address: may end with its NUL */
            named = strnlen(RTA_DATA(a), RTA_PAYLOAD(a)) == path_len &&
                    memcmp(RTA_DATA(a), path, path_len) == 0;
        else if (a->rta_type == UNIX_DIAG_RQLEN && RTA_PAYLOAD(a) >= sizeof(struct unix_diag_rqlen))
            queued = (int)((const struct unix_diag_rqlen *)RTA_DATA(a))->udiag_rqueue;
    }
    return named ? queued : -1;
}

int listen_queue_unix(const char *path)
{
    size_t path_len = strlen(path);
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0)
        return -1;
    struct {
        struct nlmsghdr nlh;
        struct unix_diag_req r;
    } req = {
        .nlh = {.nlmsg_len = sizeof req,
                .nlmsg_type = SOCK_DIAG_BY_FAMILY,
                .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP},
        .r = {.sdiag_family = AF_UNIX,
              .udiag_states = 1u << TCP_LISTEN,
              .udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_RQLEN},
    };
    int found = -1;
    if (send(fd, &req, sizeof req, 0) != (ssize_t)sizeof req)
        goto out;
    static _Thread_local char buf[16384] __attribute__((aligned(4)));
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n <= 0)
            goto out;
        for (const struct nlmsghdr *h = (const void *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR)
                goto out;
            int q = match(h, path, path_len);
            if (q >= 0)
                found = q; /* read on to the end of the dump */
        }
    }
out:
    close(fd);
    return found;
}
#else
int listen_queue_unix(const char *path)
{
    (void)path;
    return -1;
}
#endif
