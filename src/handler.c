/*
 * handler: see include/handler.h. Only what handlers share lives here; each handler's table
 * is defined in its own module.
 */
#include "handler.h"

enum MHD_Result handler_discard_body(struct MHD_Connection *c, struct request *r,
                                     const char *upload_data, size_t *upload_data_size)
{
    (void)c;
    (void)r;
    (void)upload_data;
    *upload_data_size = 0; /* the response is already queued */
    return MHD_YES;
}

const struct handler handler_error = {"error", handler_discard_body, NULL};
