/*
 * fcgi_req: see include/fcgi_req.h (the fields and who may touch them). Creating and freeing
 * only: what the two sides do with a request is in fcgi_request.c and fcgi_pool.c.
 */
#include "fcgi_req.h"

#include <stdlib.h>
#include <unistd.h>

#include "fcgi_exchange.h"
#include "site.h"
#include "util.h"

struct fcgi_req *fcgi_req_new(struct site *site, uint64_t id, struct MHD_Connection *conn)
{
    struct fcgi_req *q = xcalloc(1, sizeof *q);
    atomic_init(&q->refs, 1);
    q->id = id;
    q->site = site;
    site_pin(site); /* q points into its pool, and may outlive the HTTP request */
    q->pool = site->pool;
    q->conn = conn;
    q->body_fd = -1;
    q->client_fd = -1;
    buf_init(&q->params, FCGI_REQ_PARAMS_MAX);
    buf_init(&q->body_mem, 0); /* the MHD side applies the site's fastcgi_body_buffer */
    buf_init(&q->out, 0);
    buf_init(&q->dev_stderr, FCGI_EXCHANGE_STDERR_LOG_MAX + 1024);
    cgi_head_init(&q->head_parser);
    pthread_mutex_init(&q->lock, NULL);
    return q;
}

void fcgi_req_ref(struct fcgi_req *q)
{
    atomic_fetch_add(&q->refs, 1);
}

void fcgi_req_release(struct fcgi_req *q)
{
    if (!q || atomic_fetch_sub(&q->refs, 1) != 1)
        return;
    buf_dispose(&q->params);
    buf_dispose(&q->body_mem);
    buf_dispose(&q->out);
    buf_dispose(&q->dev_stderr);
    cgi_head_dispose(&q->head_parser); /* the MHD side reads the head after the pool let go */
    if (q->body_fd >= 0)
        close(q->body_fd);
    pthread_mutex_destroy(&q->lock);
    site_unpin(q->site);
    free(q);
}
