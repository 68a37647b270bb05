/*
 * kafka_conf.h - librdkafka properties from the command line and from files.
 *
 * Every librdkafka property passes through unchanged, so TLS, SASL and any
 * tuning work by configuration: `-X prop=value` (as in kcat) and
 * `--config FILE` (prop=value lines, '#' comments, blank lines ignored).
 * A property set twice keeps its last value.  Each property remembers where
 * it came from ("-X", "path:line", "default"), so that librdkafka's refusal
 * of a name or value is reported at its origin, e.g.
 * "kafka.conf:3: No such configuration property: \"bootstrap.server\"".
 *
 * Values are never logged: some are secrets (sasl.password, ssl.key.password).
 */
#ifndef BCH_KAFKA_CONF_H
#define BCH_KAFKA_CONF_H

#include "core/compat.h"

#include <librdkafka/rdkafka.h>

struct bch_kafka_prop {
    char *name;
    char *value;
    char *origin; /* "-X", "path:line", "default", "--brokers", ... */
};

/* An ordered list of properties; names are unique (set replaces). */
struct bch_kafka_props {
    struct bch_kafka_prop *v;
    size_t n, cap;
};

void bch_kafka_props_init(struct bch_kafka_props *p);
void bch_kafka_props_release(struct bch_kafka_props *p);

/* Sets name=value (replacing an earlier value).  0 or BCH_ERR_NOMEM. */
int bch_kafka_props_set(struct bch_kafka_props *p, const char *name, const char *value,
                        const char *origin) BCH_WUR;

/* Sets name=value unless name is already set (program defaults). */
int bch_kafka_props_default(struct bch_kafka_props *p, const char *name, const char *value) BCH_WUR;
/* Each {name, value} of table[0..n) as by bch_kafka_props_default(), then, when
 * stats, statistics.interval.ms=5000 (librdkafka statistics feed /metrics).
 * The defaults tables of the Kafka commands go through here.  0 or -1. */
int bch_kafka_props_defaults(struct bch_kafka_props *p, const char *const table[][2], size_t n,
                             bool stats) BCH_WUR;

/* Value of name, or NULL. */
const char *bch_kafka_props_get(const struct bch_kafka_props *p, const char *name);

/*
 * Parses one "-X name=value" argument.  0, or BCH_ERR_USAGE with the reason
 * in err ("-X 'foo': expected prop=value").
 */
int bch_kafka_props_add_arg(struct bch_kafka_props *p, const char *arg, char *err,
                            size_t errlen) BCH_WUR;

/*
 * Parses config text (the contents of path, used in messages): one
 * prop=value per line, spaces around name and value trimmed, '#' starting a
 * comment line.  0, or BCH_ERR_INPUT with "path:line: reason" in err.
 */
int bch_kafka_props_parse(struct bch_kafka_props *p, const char *text, size_t len, const char *path,
                          char *err, size_t errlen) BCH_WUR;

/* Reads and parses a config file (at most 1 MiB).  0 or BCH_ERR_INPUT. */
int bch_kafka_props_read_file(struct bch_kafka_props *p, const char *path, char *err,
                              size_t errlen) BCH_WUR;

/*
 * Builds a librdkafka configuration from p.  Returns it (the caller owns it
 * until rd_kafka_new() takes it), or NULL with "origin: librdkafka's reason"
 * in err.
 */
rd_kafka_conf_t *bch_kafka_conf_new(const struct bch_kafka_props *p, char *err, size_t errlen);

/*
 * Command-line options shared by ingest, load and topics.  The caller's
 * getopt loop hands -X, --config and --brokers values here, then calls
 * bch_kafka_cli_finish() once: the config file is applied first, then
 * --brokers, then the -X values in order (the command line wins).
 */
struct bch_kafka_cli {
    const char *brokers;
    const char *config_file;
    const char **xargs;
    size_t nx, capx;
};

void bch_kafka_cli_init(struct bch_kafka_cli *c);
void bch_kafka_cli_release(struct bch_kafka_cli *c);
int bch_kafka_cli_add_x(struct bch_kafka_cli *c, const char *arg) BCH_WUR;
/* Fills p.  0, or a negative bch_err with the reason in err; fails when no
 * broker list is given at all. */
int bch_kafka_cli_finish(const struct bch_kafka_cli *c, struct bch_kafka_props *p, char *err,
                         size_t errlen) BCH_WUR;

#define BCH_KAFKA_CLI_HELP                                                                         \
    "  --brokers LIST        bootstrap brokers, host:port,... (or -X bootstrap.servers=)\n"        \
    "  -X PROP=VALUE         any librdkafka property (repeatable; wins over --config)\n"           \
    "  --config FILE         librdkafka properties, prop=value lines, # comments\n"

#endif
