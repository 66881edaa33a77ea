/*
 * live_reload: see include/live_reload.h. The script is plain ES5 so that any browser runs it;
 * an EventSource reconnects by itself (retry: 500 ms, sent by the endpoint) when wharf
 * restarts, and then reloads once, since the page may be stale.
 */
#include "live_reload.h"

#include <string.h>

#include "util.h"

const char live_reload_script[] =
    "<script>/* wharf dev: live reload */(function(){"
    "if(!window.EventSource||window.__wharfLR)return;window.__wharfLR=1;"
    "var es=new EventSource('" LIVE_RELOAD_PATH "'),up=0;"
    "es.onopen=function(){if(up)location.reload();up=1;};"
    "es.onmessage=function(e){"
    "if(e.data!=='css'){location.reload();return;}"
    "var l=document.querySelectorAll('link[rel~=\"stylesheet\"]');"
    "for(var i=0;i<l.length;i++){var h=l[i].href.replace(/([?&])wharf-lr=\\d+&?/,'$1')"
    ".replace(/[?&]$/,'');"
    "l[i].href=h+(h.indexOf('?')<0?'?':'&')+'wharf-lr='+Date.now();}};"
    "})();</script>";

bool live_reload_is_html(const char *ct)
{
    if (!ct)
        return false;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    return ascii_ncasecmp(ct, "text/html", 9) == 0 &&
           (ct[9] == '\0' || ct[9] == ';' || ct[9] == ' ' || ct[9] == '\t');
}

size_t live_reload_insert_at(const char *body, size_t n)
{
    for (size_t i = n; i >= 6; i--)
        if (body[i - 6] == '<' && ascii_ncasecmp(body + i - 5, "/body", 5) == 0)
            return i - 6;
    return n;
}

int live_reload_inject(struct buf *out, const char *body, size_t n)
{
    size_t start = out->len, at = live_reload_insert_at(body, n);
    if (buf_append(out, body, at) != 0 || buf_puts(out, live_reload_script) != 0 ||
        buf_append(out, body + at, n - at) != 0) {
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
        return -1;
    }
    return 0;
}

bool live_reload_etag(const char *etag, char *out, size_t n)
{
    size_t len = etag ? strlen(etag) : 0, weak = len > 2 && etag[0] == 'W' && etag[1] == '/';
    const char *q = etag + 2 * weak;
    size_t qlen = len - 2 * weak;
    if (qlen < 2 || q[0] != '"' || q[qlen - 1] != '"' || len + 4 > n)
        return false;
    memcpy(out, etag, len - 1);
    memcpy(out + len - 1, "-lr\"", 5);
    return true;
}

const char *live_reload_event(const char *path, size_t n)
{
    return n > 4 && ascii_ncasecmp(path + n - 4, ".css", 4) == 0 ? "css" : "reload";
}
