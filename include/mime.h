/*
 * mime: file extension -> Content-Type. Pure: parsing /etc/mime.types text is separate from
 * reading the file. A built-in table of the common web types always applies on top, so a
 * missing or old mime.types never breaks a site. Text types get "; charset=utf-8".
 */
#ifndef WHARF_MIME_H
#define WHARF_MIME_H

#include <stdbool.h>
#include <stddef.h>

struct mime_table;

/** A table holding only the built-in web types. */
struct mime_table *mime_table_new(void);
/** Add the entries of a mime.types-format text ("type ext ext ..." lines, '#' comments). The
 *  built-in entries keep precedence. Returns the number of extensions added. */
size_t mime_table_load_text(struct mime_table *t, const char *text, size_t len);
/** Set or replace one mapping (ext without the dot, case-insensitive). */
void mime_table_set(struct mime_table *t, const char *ext, const char *type);
/** Content-Type for a path, by its last extension, case-insensitive; charset added for
 *  text/ *, application/javascript, application/json, application/xml, image/svg+xml ...
 *  Unknown -> "application/octet-stream". The string lives as long as the table. */
const char *mime_lookup(const struct mime_table *t, const char *path);
/** Whether a Content-Type is worth gzipping (text, json, js, xml, svg, wasm ...; not images,
 *  archives, fonts already compressed like woff2, audio or video). */
bool mime_is_compressible(const char *content_type);
void mime_table_free(struct mime_table *t);

#endif
