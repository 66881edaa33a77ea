/*
 * request: see include/request.h. The struct is filled by http_front and read by every
 * handler; the only code here is what a handler may ask of the connection beneath it without
 * depending on the front.
 */
#include "request.h"

#include <stdlib.h>

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

void request_sendfile_drop_kept(struct request_sendfile *sf)
{
    for (size_t i = 0; i < sf->n_keep; i++) {
        free(sf->keep[i][0]);
        free(sf->keep[i][1]);
    }
    sf->n_keep = 0;
}
