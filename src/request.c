/*
 * request: see include/request.h. The struct is filled by http_front and read by every
 * handler; the only code here is what a handler may ask of the connection beneath it without
 * depending on the front.
 */
#include "request.h"

const struct sockaddr *request_local_addr(struct request *r)
{
    struct request_conn *conn = r->conn;
    if (!conn || conn->fd < 0)
        return NULL;
    if (!conn->local_len) {
        socklen_t len = sizeof conn->local;
        if (getsockname(conn->fd, (struct sockaddr *)&conn->local, &len) != 0)
            return NULL;
        conn->local_len = len;
    }
    return (const struct sockaddr *)&conn->local;
}
