/*
 * log.h - leveled diagnostics on stderr.
 *
 * Every line is "bouchon: LEVEL [component] message".  The macros test the
 * level before evaluating their arguments.  Data (reports, fetched payloads)
 * goes to stdout; diagnostics never do.  Secrets must never be passed here:
 * URLs are logged through bch_log_redact_url() by the HTTP client.
 */
#ifndef BCH_LOG_H
#define BCH_LOG_H

#include "core/compat.h"

enum bch_log_level {
    BCH_LOG_ERROR = 0,
    BCH_LOG_WARN = 1,
    BCH_LOG_INFO = 2,
    BCH_LOG_DEBUG = 3,
};

/* Current threshold; messages above it are dropped.  Default BCH_LOG_INFO. */
extern int bch_log_level;

void bch_log_write(int level, const char *component, const char *fmt, ...) BCH_PRINTF(3, 4);

#define BCH_LOG(level, component, ...)                                                             \
    do {                                                                                           \
        if ((level) <= bch_log_level)                                                              \
            bch_log_write((level), (component), __VA_ARGS__);                                      \
    } while (0)

#define bch_error(comp, ...) BCH_LOG(BCH_LOG_ERROR, comp, __VA_ARGS__)
#define bch_warn(comp, ...)  BCH_LOG(BCH_LOG_WARN, comp, __VA_ARGS__)
#define bch_info(comp, ...)  BCH_LOG(BCH_LOG_INFO, comp, __VA_ARGS__)
#define bch_debug(comp, ...) BCH_LOG(BCH_LOG_DEBUG, comp, __VA_ARGS__)

#endif
