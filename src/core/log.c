#include "core/compat.h"

#include <stdarg.h>

#include "core/log.h"

int bch_log_level = BCH_LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void bch_log_write(int level, const char *component, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    int n;

    if (level < 0 || level > BCH_LOG_DEBUG) {
        level = BCH_LOG_ERROR;
    }
    n = snprintf(line, sizeof(line), "bouchon: %s [%s] ", level_names[level],
                 component ? component : "-");
    if (n < 0 || (size_t)n >= sizeof(line)) {
        n = 0;
    }
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    /* One fputs per line so that lines of concurrent threads do not interleave. */
    fprintf(stderr, "%s\n", line);
}
