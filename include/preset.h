/*
 * preset: find and load presets/NAME.ini for every site that uses FastCGI. Parsing is
 * config_parse_preset() (same syntax, same FILE:LINE errors); this module only locates the
 * files and owns the loaded presets for the life of the process.
 */
#ifndef WHARF_PRESET_H
#define WHARF_PRESET_H

#include "config.h"

/** The directory presets are read from: [server] presets_dir, else the installed one, else
 *  ../presets beside the wharf binary (a build tree), else the source tree's. Caller frees. */
char *preset_dir(const struct config *cfg);
/** Resolve site->fcgi.preset for every FastCGI site; a missing or malformed preset is an error
 *  at the fastcgi_preset line. Returns 0 if no errors. */
int preset_resolve_all(struct config *cfg, struct errlist *errs);
/** A reload: the next preset_resolve_all reads the preset files again (the presets loaded so
 *  far stay valid, for the configurations that use them, until preset_free_all). */
void preset_forget_loaded(void);
/** Free every loaded preset (after the server stopped). */
void preset_free_all(void);

#endif
