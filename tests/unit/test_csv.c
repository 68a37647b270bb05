/*
 * test_csv.c - the RFC 4180 splitter of sources/csv.c.
 *
 * Three layers:
 *   1. a table of small inputs, each with the exact sequence of rows (line
 *      number and fields) and errors the splitter must return;
 *   2. a naive reference splitter written here, character by character,
 *      from the contract in csv.h, compared with the real splitter on the
 *      two real ci_trafi_l snapshots, on every prefix of a tricky sample and
 *      on many truncations of the real file (each input copied into a buffer
 *      of exactly its length, so that an over-read shows under ASan or
 *      valgrind);
 *   3. separator sniffing and the scratch storage of unescaped fields.
 */
#include "core/compat.h"

#include <setjmp.h>
#include <stdarg.h>

#include <cmocka.h>

#include "core/buf.h"
#include "sources/csv.h"

/* -------------------------------------------------------------- helpers */

#define MAXF 8

/* One expected result of bch_csv_next(). */
struct want {
    int rc;    /* 1 row, -1 error; 0 ends the list */
    long line; /* c.line of the row (also for errors) */
    size_t nf;
    const char *f[MAXF];
    const char *err; /* substring of the error message */
};

struct csv_case {
    const char *name;
    const char *in;
    size_t len; /* 0: strlen(in) */
    char sep;
    struct want want[8];
};

/* clang-format off */
#define ROW(line, n, ...) {1, line, n, {__VA_ARGS__}, NULL}
#define ERR(line, substr) {-1, line, 0, {NULL}, substr}
/* clang-format on */

static const struct csv_case cases[] = {
    {"LF rows", "a;b;c\n1;2;3\n", 0, ';', {ROW(1, 3, "a", "b", "c"), ROW(2, 3, "1", "2", "3")}},
    {"CRLF rows lose the CR", "a;b\r\n1;2\r\n", 0, ';', {ROW(1, 2, "a", "b"), ROW(2, 2, "1", "2")}},
    {"last line without newline", "a;b\n1;2", 0, ';', {ROW(1, 2, "a", "b"), ROW(2, 2, "1", "2")}},
    {"last line ends with a bare CR",
     "a;b\r\n1;2\r",
     0,
     ';',
     {ROW(1, 2, "a", "b"), ROW(2, 2, "1", "2")}},
    {"CR before a separator is data", "a\r;b\n", 0, ';', {ROW(1, 2, "a\r", "b")}},
    {"quoted fields", "\"a\";\"b c\";d\n", 0, ';', {ROW(1, 3, "a", "b c", "d")}},
    {"doubled quotes unescape", "\"say \"\"hi\"\"\";x\n", 0, ';', {ROW(1, 2, "say \"hi\"", "x")}},
    {"only a doubled quote", "\"\"\"\";\"\"\n", 0, ';', {ROW(1, 2, "\"", "")}},
    {"separators inside quotes", "\"a;b\";\"c,d\";e\n", 0, ';', {ROW(1, 3, "a;b", "c,d", "e")}},
    {"comma separator",
     "a,b\n\"1,5\",\"x;y\"\n",
     0,
     ',',
     {ROW(1, 2, "a", "b"), ROW(2, 2, "1,5", "x;y")}},
    {"embedded newline keeps line numbers",
     "h1;h2\n\"multi\nline\";x\nnext;row\n",
     0,
     ';',
     {ROW(1, 2, "h1", "h2"), ROW(2, 2, "multi\nline", "x"), ROW(4, 2, "next", "row")}},
    {"embedded CRLF is kept inside quotes",
     "\"a\r\nb\";c\r\nd;e\r\n",
     0,
     ';',
     {ROW(1, 2, "a\r\nb", "c"), ROW(3, 2, "d", "e")}},
    {"escapes and newlines in one field",
     "\"a\"\"\n\"\"b\";c\nx\n",
     0,
     ';',
     {ROW(1, 2, "a\"\n\"b", "c"), ROW(3, 1, "x")}},
    {"two newlines in two fields of a row",
     "\"1\n2\";\"3\n4\"\nz\n",
     0,
     ';',
     {ROW(1, 2, "1\n2", "3\n4"), ROW(4, 1, "z")}},
    {"empty fields",
     ";;\na;;b\n\"\";x\n",
     0,
     ';',
     {ROW(1, 3, "", "", ""), ROW(2, 3, "a", "", "b"), ROW(3, 2, "", "x")}},
    {"trailing separator gives an empty last field",
     "a;\nb;",
     0,
     ';',
     {ROW(1, 2, "a", ""), ROW(2, 2, "b", "")}},
    {"blanks are data", " a ; b \n", 0, ';', {ROW(1, 2, " a ", " b ")}},
    {"BOM is skipped",
     "\xEF\xBB\xBF"
     "a;b\n1;2\n",
     0,
     ';',
     {ROW(1, 2, "a", "b"), ROW(2, 2, "1", "2")}},
    {"BOM then quoted field", "\xEF\xBB\xBF\"a\";b\n", 0, ';', {ROW(1, 2, "a", "b")}},
    {"BOM-like bytes later are data",
     "x\n\xEF\xBB\xBFy\n",
     0,
     ';',
     {ROW(1, 1, "x"), ROW(2, 1, "\xEF\xBB\xBFy")}},
    {"empty lines are skipped and counted",
     "a\n\n\r\nb\n\n",
     0,
     ';',
     {ROW(1, 1, "a"), ROW(4, 1, "b")}},
    {"leading empty lines", "\n\nx;y\n", 0, ';', {ROW(3, 2, "x", "y")}},
    {"empty buffer", "", 0, ';', {{0}}},
    {"only a BOM", "\xEF\xBB\xBF", 0, ';', {{0}}},
    {"only newlines", "\n\r\n\n", 0, ';', {{0}}},
    {"unterminated quote: error, then the next line",
     "a;b\n\"x;y\nc;d\n",
     0,
     ';',
     {ROW(1, 2, "a", "b"), ERR(2, "unterminated"), ROW(3, 2, "c", "d")}},
    {"unterminated quote in a later field",
     "a;\"b\nc;d\ne;f\n",
     0,
     ';',
     {ERR(1, "unterminated"), ROW(2, 2, "c", "d"), ROW(3, 2, "e", "f")}},
    {"unterminated quote after a multi-line field",
     "\"p\nq\";\"r\ns;t\n",
     0,
     ';',
     {ERR(1, "unterminated"), ROW(3, 2, "s", "t")}},
    {"unterminated quote at the end",
     "a;b\nc;\"d",
     0,
     ';',
     {ROW(1, 2, "a", "b"), ERR(2, "unterminated")}},
    {"text after a closing quote",
     "\"a\"b;c\nd;e\n",
     0,
     ';',
     {ERR(1, "after a closing quote"), ROW(2, 2, "d", "e")}},
    {"text after a closing quote of a multi-line field",
     "x;\"a\nb\"c;d\ne\n",
     0,
     ';',
     {ERR(1, "after a closing quote"), ROW(3, 1, "e")}},
    {"lone CR after a closing quote is text",
     "\"a\"\rb;c\nd\n",
     0,
     ';',
     {ERR(1, "after a closing quote"), ROW(2, 1, "d")}},
    {"CRLF and final CR after a closing quote",
     "\"a\"\r\n\"b\"\r",
     0,
     ';',
     {ROW(1, 1, "a"), ROW(2, 1, "b")}},
    {"space after a closing quote",
     "\"a\" ;b\nc\n",
     0,
     ';',
     {ERR(1, "after a closing quote"), ROW(2, 1, "c")}},
    {"embedded NUL is data", "a\0b;c\n", 6, ';', {ROW(1, 2, NULL, "c")}},
};

/*
 * The raw view of a returned row: row..row_len runs from the first field's
 * opening byte to the last field's last byte (line end excluded); fields sit
 * side by side with one separator between them; a quoted field's raw text
 * is its quotes and what they enclose, an unquoted one is its value.
 * Returns the number of violations.
 */
static int check_raw(const struct bch_csv *c, const char *what)
{
    const struct bch_csv_field *last;
    const char *e;
    int bad = 0;

    if (c->nfields == 0) {
        return 0;
    }
    last = &c->fields[c->nfields - 1];
    if (c->row != c->fields[0].raw || c->row + c->row_len != last->raw + last->raw_len) {
        bad++;
    }
    e = c->row + c->row_len;
    if (e > c->end || (e < c->end && *e != '\n' && *e != '\r')) {
        bad++;
    }
    for (size_t i = 0; i < c->nfields; i++) {
        const struct bch_csv_field *f = &c->fields[i];

        if (i + 1 < c->nfields &&
            (f->raw + f->raw_len + 1 != c->fields[i + 1].raw || f->raw[f->raw_len] != c->sep)) {
            bad++;
        }
        if (f->quoted) {
            if (f->raw_len < 2 || f->raw[0] != '"' || f->raw[f->raw_len - 1] != '"' ||
                f->raw_len < f->len + 2) {
                bad++;
            }
        } else if (f->raw != f->s || f->raw_len != f->len) {
            bad++;
        }
    }
    if (bad) {
        print_error("%s: line %ld: raw view of the row is inconsistent\n", what, c->line);
    }
    return bad;
}

/* Returns the number of mismatches (printed). */
static int check_case(const struct csv_case *tc)
{
    size_t len = tc->len ? tc->len : strlen(tc->in);
    char *copy = malloc(len ? len : 1); /* exact size: over-reads show under ASan */
    struct bch_csv c;
    char err[128];
    int failures = 0;
    size_t k = 0;

    assert_non_null(copy);
    memcpy(copy, tc->in, len);
    bch_csv_init(&c, copy, len, tc->sep);
    for (;; k++) {
        const struct want *w = &tc->want[k];
        int rc;

        err[0] = '\0';
        rc = bch_csv_next(&c, err, sizeof(err));
        if (rc != w->rc) {
            print_error("%s: call %zu: rc %d, want %d (err '%s')\n", tc->name, k, rc, w->rc, err);
            failures++;
            break;
        }
        if (rc == 0) {
            break;
        }
        if (c.line != w->line) {
            print_error("%s: call %zu: line %ld, want %ld\n", tc->name, k, c.line, w->line);
            failures++;
        }
        if (rc < 0) {
            if (!strstr(err, w->err)) {
                print_error("%s: call %zu: error '%s' lacks '%s'\n", tc->name, k, err, w->err);
                failures++;
            }
            continue;
        }
        failures += check_raw(&c, tc->name);
        if (c.nfields != w->nf) {
            print_error("%s: call %zu: %zu fields, want %zu\n", tc->name, k, c.nfields, w->nf);
            failures++;
            continue;
        }
        for (size_t i = 0; i < w->nf; i++) {
            const char *f = w->f[i];

            if (!f) {
                continue; /* checked by the caller (binary content) */
            }
            if (c.fields[i].len != strlen(f) || memcmp(c.fields[i].s, f, strlen(f)) != 0) {
                print_error("%s: call %zu field %zu: '%.*s', want '%s'\n", tc->name, k, i,
                            (int)c.fields[i].len, c.fields[i].s, f);
                failures++;
            }
        }
    }
    /* The end is sticky. */
    if (failures == 0 && bch_csv_next(&c, err, sizeof(err)) != 0) {
        print_error("%s: a call after the end did not return 0\n", tc->name);
        failures++;
    }
    bch_csv_release(&c);
    free(copy);
    return failures;
}

static void test_table(void **state)
{
    int failed = 0;

    (void)state;
    for (size_t i = 0; i < BCH_ARRAY_LEN(cases); i++) {
        failed += check_case(&cases[i]) != 0;
    }
    assert_int_equal(failed, 0);
}

static void test_quoted_flag_and_nul(void **state)
{
    static const char in[] = "\"a\";b;\"\";;\"c\"\"d\"\nx\0y;z\n";
    struct bch_csv c;
    char err[64];

    (void)state;
    bch_csv_init(&c, in, sizeof(in) - 1, ';');
    assert_int_equal(bch_csv_next(&c, err, sizeof(err)), 1);
    assert_int_equal(c.nfields, 5);
    assert_true(c.fields[0].quoted);
    assert_false(c.fields[1].quoted);
    assert_true(c.fields[2].quoted);
    assert_int_equal(c.fields[2].len, 0);
    assert_false(c.fields[3].quoted);
    assert_int_equal(c.fields[3].len, 0);
    assert_true(c.fields[4].quoted);
    assert_int_equal(c.fields[4].len, 3);
    assert_memory_equal(c.fields[4].s, "c\"d", 3);
    /* An unquoted field points into the caller's buffer (zero copy). */
    assert_ptr_equal(c.fields[1].s, in + 4);
    /* the row as it stands, without its line end */
    assert_ptr_equal(c.row, in);
    assert_int_equal(c.row_len, 16);
    assert_ptr_equal(c.fields[4].raw, in + 10);
    assert_int_equal(c.fields[4].raw_len, 6);
    assert_int_equal(bch_csv_next(&c, err, sizeof(err)), 1);
    assert_int_equal(c.line, 2);
    assert_int_equal(c.fields[0].len, 3);
    assert_memory_equal(c.fields[0].s, "x\0y", 3);
    assert_int_equal(bch_csv_next(&c, err, sizeof(err)), 0);
    bch_csv_release(&c);
}

/* Exactly BCH_CSV_MAX_FIELDS fields is a row; one more is an error that
 * skips that line only. */
static void test_field_limit(void **state)
{
    struct bch_buf b;
    struct bch_csv c;
    char err[128];

    (void)state;
    bch_buf_init(&b, 1 << 20);
    for (int row = 0; row < 2; row++) {
        size_t n = BCH_CSV_MAX_FIELDS + (size_t)row;

        for (size_t i = 0; i < n; i++) {
            assert_int_equal(bch_buf_printf(&b, i ? ";%zu" : "%zu", i), 0);
        }
        assert_int_equal(bch_buf_addc(&b, '\n'), 0);
    }
    assert_int_equal(bch_buf_adds(&b, "\"q\";tail\n"), 0);
    bch_csv_init(&c, b.data, b.len, ';');
    assert_int_equal(bch_csv_next(&c, err, sizeof(err)), 1);
    assert_int_equal(c.nfields, BCH_CSV_MAX_FIELDS);
    assert_int_equal(c.fields[255].len, 3);
    assert_memory_equal(c.fields[255].s, "255", 3);
    assert_int_equal(bch_csv_next(&c, err, sizeof(err)), -1);
    assert_int_equal(c.line, 2);
    assert_non_null(strstr(err, "too many fields"));
    assert_int_equal(bch_csv_next(&c, err, sizeof(err)), 1);
    assert_int_equal(c.line, 3);
    assert_int_equal(c.nfields, 2);
    assert_memory_equal(c.fields[1].s, "tail", 4);
    assert_int_equal(bch_csv_next(&c, err, sizeof(err)), 0);
    bch_csv_release(&c);
    bch_buf_release(&b);
}

/* Several unescaped fields in one row, each large enough to make the scratch
 * storage move: all must still be right after the row is returned. */
static void test_scratch_moves(void **state)
{
    struct bch_buf in, want[3];
    struct bch_csv c;
    char err[64];

    (void)state;
    bch_buf_init(&in, 1 << 20);
    for (int k = 0; k < 3; k++) {
        bch_buf_init(&want[k], 1 << 20);
        assert_int_equal(bch_buf_addc(&in, '"'), 0);
        for (int i = 0; i < 700 * (k + 1); i++) {
            char ch = (char)('a' + (i + k) % 26);

            assert_int_equal(bch_buf_addc(&want[k], ch), 0);
            assert_int_equal(bch_buf_addc(&in, ch), 0);
            if (i % 97 == 0) {
                assert_int_equal(bch_buf_addc(&want[k], '"'), 0);
                assert_int_equal(bch_buf_adds(&in, "\"\""), 0);
            }
        }
        assert_int_equal(bch_buf_adds(&in, k < 2 ? "\";" : "\"\n"), 0);
    }
    bch_csv_init(&c, in.data, in.len, ';');
    assert_int_equal(bch_csv_next(&c, err, sizeof(err)), 1);
    assert_int_equal(c.nfields, 3);
    for (int k = 0; k < 3; k++) {
        assert_int_equal(c.fields[k].len, want[k].len);
        assert_memory_equal(c.fields[k].s, want[k].data, want[k].len);
        bch_buf_release(&want[k]);
    }
    assert_int_equal(bch_csv_next(&c, err, sizeof(err)), 0);
    bch_csv_release(&c);
    bch_buf_release(&in);
}

static void test_error_buffer(void **state)
{
    struct bch_csv c;
    char err[8];

    (void)state;
    /* A short or absent error buffer must not be overrun. */
    memset(err, 'X', sizeof(err));
    bch_csv_init(&c, "\"a\"b\nx\n", 7, ';');
    assert_int_equal(bch_csv_next(&c, err, 4), -1);
    assert_int_equal(strlen(err), 3);
    assert_int_equal(err[4], 'X');
    assert_int_equal(bch_csv_next(&c, NULL, 0), 1);
    bch_csv_release(&c);
    bch_csv_init(&c, "\"abc", 4, ';');
    assert_int_equal(bch_csv_next(&c, NULL, 0), -1);
    assert_int_equal(bch_csv_next(&c, NULL, 0), 0);
    bch_csv_release(&c);
}

/* ------------------------------------------------------------- sniffing */

static void test_sniff(void **state)
{
    static const struct {
        const char *in;
        char want;
    } t[] = {
        {"geo_point_2d;geo_shape;gml_id;gid;ident\n1,2;x", ';'},
        {"\"gid\",\"time\",\"scores_horaires_ponderes\"\n1;2;3;4;5;6\n", ','},
        {"a,b,c", ','},
        {"a;b;c", ';'},
        {"\"x;y;z\",a,b\n", ','},
        {"\"x,y,z\";a;b\n", ';'},
        {"\xEF\xBB\xBF"
         "IDENT;HPM_VAL;HPS_VAL\r\n",
         ';'},
        {"Geo Point;Geo Shape;gid\n44.8, -0.5;\"{}\";1\n", ';'},
        {"a;b,c,d\n", ','},
        {"a,b;c;d\n", ';'},
    };

    (void)state;
    for (size_t i = 0; i < BCH_ARRAY_LEN(t); i++) {
        char got = bch_csv_sniff_sep(t[i].in, strlen(t[i].in));

        if (got != t[i].want) {
            fail_msg("sniff '%s': got '%c', want '%c'", t[i].in, got, t[i].want);
        }
    }
    /* Only the first line counts, and only len bytes of it. */
    assert_int_equal(bch_csv_sniff_sep("a;b\nc,d,e,f,g\n", 14), ';');
    assert_int_equal(bch_csv_sniff_sep("a,b,c;d;e", 3), ',');
}

/* ------------------------------------------------------ reference model */

/* One row or error as the reference splitter sees it. */
struct ref_ev {
    int rc;
    long line;
    size_t nf;
    char **f;
    size_t *len;
};

struct ref_out {
    struct ref_ev *ev;
    size_t n, cap;
};

static void ref_push(struct ref_out *o, int rc, long line, struct bch_buf *fields, size_t *lens,
                     size_t nf)
{
    struct ref_ev *e;

    if (o->n == o->cap) {
        o->cap = o->cap ? o->cap * 2 : 64;
        o->ev = realloc(o->ev, o->cap * sizeof(*o->ev));
        assert_non_null(o->ev);
    }
    e = &o->ev[o->n++];
    e->rc = rc;
    e->line = line;
    e->nf = rc == 1 ? nf : 0;
    e->f = NULL;
    e->len = NULL;
    if (rc == 1) {
        e->f = calloc(nf ? nf : 1, sizeof(char *));
        e->len = calloc(nf ? nf : 1, sizeof(size_t));
        assert_non_null(e->f);
        assert_non_null(e->len);
        for (size_t i = 0; i < nf; i++) {
            e->f[i] = bch_buf_take(&fields[i]);
            e->len[i] = lens[i];
        }
    }
    for (size_t i = 0; i < nf; i++) {
        bch_buf_release(&fields[i]);
    }
}

static void ref_free(struct ref_out *o)
{
    for (size_t i = 0; i < o->n; i++) {
        for (size_t k = 0; k < o->ev[i].nf; k++) {
            free(o->ev[i].f[k]);
        }
        free(o->ev[i].f);
        free(o->ev[i].len);
    }
    free(o->ev);
    memset(o, 0, sizeof(*o));
}

/* Skips past the next '\n' at or after *i, counting it. */
static void ref_skip_line(const char *b, size_t n, size_t *i, long *line)
{
    while (*i < n && b[*i] != '\n') {
        (*i)++;
    }
    if (*i < n) {
        (*i)++;
    }
    (*line)++;
}

/*
 * The contract of csv.h, one character at a time: BOM skipped, empty lines
 * skipped, '"' fields with "" escapes and any byte inside, unquoted fields up
 * to the separator or LF with a CR dropped before LF or the end (after a
 * closing quote, too: only CRLF or a final CR ends the row); an error
 * (unterminated quote, text after a closing quote, more than the field
 * limit) skips to the line after the one where it was detected (for an
 * unterminated quote: the line of the opening quote).
 */
static void ref_split(const char *b, size_t n, char sep, struct ref_out *o)
{
    static struct bch_buf fields[BCH_CSV_MAX_FIELDS];
    static size_t lens[BCH_CSV_MAX_FIELDS];
    size_t i = 0;
    long line = 1;

    if (n >= 3 && memcmp(b, "\xEF\xBB\xBF", 3) == 0) {
        i = 3;
    }
    for (;;) {
        size_t nf = 0;
        long row_line;
        bool bad = false;

        while (i < n && (b[i] == '\n' || b[i] == '\r')) {
            line += b[i] == '\n';
            i++;
        }
        if (i >= n) {
            return;
        }
        row_line = line;
        for (;;) {
            struct bch_buf *f;

            if (nf == BCH_CSV_MAX_FIELDS) {
                ref_push(o, -1, row_line, fields, lens, nf);
                ref_skip_line(b, n, &i, &line);
                bad = true;
                break;
            }
            f = &fields[nf];
            bch_buf_init(f, 1u << 24);
            assert_int_equal(bch_buf_add(f, "", 0), 0);
            if (i < n && b[i] == '"') {
                size_t j = i + 1;
                long qline = line;
                bool closed = false;

                while (j < n) {
                    if (b[j] == '"') {
                        if (j + 1 < n && b[j + 1] == '"') {
                            assert_int_equal(bch_buf_addc(f, '"'), 0);
                            j += 2;
                            continue;
                        }
                        j++;
                        closed = true;
                        break;
                    }
                    line += b[j] == '\n';
                    assert_int_equal(bch_buf_addc(f, b[j]), 0);
                    j++;
                }
                if (!closed) {
                    ref_push(o, -1, row_line, fields, lens, nf + 1);
                    i = i + 1;
                    line = qline;
                    ref_skip_line(b, n, &i, &line);
                    bad = true;
                    break;
                }
                i = j;
                if (i < n && b[i] != sep && b[i] != '\n' &&
                    (b[i] != '\r' || (i + 1 < n && b[i + 1] != '\n'))) {
                    ref_push(o, -1, row_line, fields, lens, nf + 1);
                    ref_skip_line(b, n, &i, &line);
                    bad = true;
                    break;
                }
            } else {
                size_t j = i;

                while (j < n && b[j] != sep && b[j] != '\n') {
                    j++;
                }
                if (j > i && b[j - 1] == '\r' && (j == n || b[j] == '\n')) {
                    assert_int_equal(bch_buf_add(f, b + i, j - i - 1), 0);
                } else {
                    assert_int_equal(bch_buf_add(f, b + i, j - i), 0);
                }
                i = j;
            }
            lens[nf] = f->len;
            nf++;
            if (i < n && b[i] == sep) {
                i++;
                continue;
            }
            if (i < n && b[i] == '\r') {
                i++;
            }
            if (i < n && b[i] == '\n') {
                i++;
                line++;
            }
            break;
        }
        if (!bad) {
            ref_push(o, 1, row_line, fields, lens, nf);
        }
    }
}

/* Splits buf[0..len) (copied to an exact-size buffer) with both splitters;
 * returns the number of differences (printed, up to a few). */
static int compare_with_ref(const char *buf, size_t len, char sep, const char *what,
                            size_t *rows_out)
{
    char *copy = malloc(len ? len : 1);
    struct ref_out ref = {0};
    struct bch_csv c;
    char err[128];
    int diffs = 0;
    size_t k = 0, rows = 0;

    assert_non_null(copy);
    memcpy(copy, buf, len);
    ref_split(copy, len, sep, &ref);
    bch_csv_init(&c, copy, len, sep);
    for (;; k++) {
        int rc = bch_csv_next(&c, err, sizeof(err));
        const struct ref_ev *e = k < ref.n ? &ref.ev[k] : NULL;

        if (rc == 0 || !e) {
            if (rc != 0 || e) {
                print_error("%s: event %zu: splitter rc %d, reference %s\n", what, k, rc,
                            e ? "has more" : "ended");
                diffs++;
            }
            break;
        }
        if (rc != e->rc || c.line != e->line) {
            print_error("%s: event %zu: rc %d line %ld, reference rc %d line %ld (err '%s')\n",
                        what, k, rc, c.line, e->rc, e->line, rc < 0 ? err : "");
            diffs++;
            break;
        }
        if (rc < 0) {
            continue;
        }
        rows++;
        diffs += check_raw(&c, what);
        if (c.nfields != e->nf) {
            print_error("%s: line %ld: %zu fields, reference %zu\n", what, c.line, c.nfields,
                        e->nf);
            diffs++;
            break;
        }
        for (size_t i = 0; i < e->nf; i++) {
            if (c.fields[i].len != e->len[i] || memcmp(c.fields[i].s, e->f[i], e->len[i]) != 0) {
                print_error("%s: line %ld field %zu differs\n", what, c.line, i);
                diffs++;
            }
        }
        if (diffs > 5) {
            break;
        }
    }
    bch_csv_release(&c);
    ref_free(&ref);
    free(copy);
    if (rows_out) {
        *rows_out = rows;
    }
    return diffs;
}

/* The reference itself, on a case with a known answer. */
static void test_reference_sanity(void **state)
{
    static const char in[] = "a;\"b\"\"\nc\";d\r\n\r\n\"e\"x;f\n\"g";
    struct ref_out o = {0};

    (void)state;
    ref_split(in, sizeof(in) - 1, ';', &o);
    assert_int_equal(o.n, 3);
    assert_int_equal(o.ev[0].rc, 1);
    assert_int_equal(o.ev[0].line, 1);
    assert_int_equal(o.ev[0].nf, 3);
    assert_string_equal(o.ev[0].f[1], "b\"\nc");
    assert_string_equal(o.ev[0].f[2], "d");
    assert_int_equal(o.ev[1].rc, -1);
    assert_int_equal(o.ev[1].line, 4);
    assert_int_equal(o.ev[2].rc, -1);
    assert_int_equal(o.ev[2].line, 5);
    ref_free(&o);
}

/* Every prefix of a sample that exercises every rule. */
static void test_every_prefix(void **state)
{
    static const char sample[] =
        "\xEF\xBB\xBF"
        "id;text;geo\r\n"
        "1;\"plain\";\"{\"\"coordinates\"\": [[-0.5, 44.8]], \"\"type\"\": \"\"Point\"\"}\"\r\n"
        "\r\n"
        "2;\"multi\nline\";;\n"
        "3;\"bad\"x;z\n"
        "4;\"\";\"a;b\"\n"
        "5;tail\r";
    int diffs = 0;

    (void)state;
    for (size_t len = 0; len <= sizeof(sample) - 1; len++) {
        char what[48];

        snprintf(what, sizeof(what), "prefix %zu", len);
        diffs += compare_with_ref(sample, len, ';', what, NULL);
    }
    assert_int_equal(diffs, 0);
}

static char *read_shared(const char *name, size_t *len)
{
    const char *root = getenv("BOUCHON_SHARED");
    char path[4096];
    struct bch_buf b;

    if (!root || !*root) {
        root = "../shared";
    }
    snprintf(path, sizeof(path), "%s/data/bordeaux/%s", root, name);
    bch_buf_init(&b, 64u << 20);
    if (bch_buf_read_file(&b, path)) {
        bch_buf_release(&b);
        fail_msg("cannot read %s (set BOUCHON_SHARED to the shared folder): %s", path,
                 strerror(errno));
    }
    *len = b.len;
    return bch_buf_take(&b);
}

static const char *const snapshots[] = {"ci_trafi_l_2025-12-18T0950.csv",
                                        "ci_trafi_l_2025-12-18T1000.csv"};

/* The real snapshots: both splitters agree, 695 rows of 12 fields, and the
 * geo_shape cells come out as plain JSON text. */
static void test_real_files(void **state)
{
    (void)state;
    for (size_t s = 0; s < BCH_ARRAY_LEN(snapshots); s++) {
        size_t len, rows = 0;
        char *text = read_shared(snapshots[s], &len);
        struct bch_csv c;
        char err[128];
        const char *tail = "]], \"type\": \"LineString\"}";
        int rc;

        assert_int_equal(bch_csv_sniff_sep(text, len), ';');
        assert_int_equal(compare_with_ref(text, len, ';', snapshots[s], &rows), 0);
        assert_int_equal(rows, 695);
        bch_csv_init(&c, text, len, ';');
        while ((rc = bch_csv_next(&c, err, sizeof(err))) == 1) {
            assert_int_equal(c.nfields, 12);
            if (c.line == 1) {
                assert_int_equal(c.fields[0].len, 12);
                assert_memory_equal(c.fields[0].s, "geo_point_2d", 12);
                assert_memory_equal(c.fields[11].s, "code_commune", 12);
                continue;
            }
            assert_true(c.fields[1].quoted);
            assert_true(c.fields[1].len > 40);
            assert_memory_equal(c.fields[1].s, "{\"coordinates\": [[", 18);
            assert_memory_equal(c.fields[1].s + c.fields[1].len - strlen(tail), tail, strlen(tail));
            assert_null(memchr(c.fields[1].s, '\n', c.fields[1].len));
            /* gml_id is "CI_TRAFI_L." + gid */
            assert_int_equal(c.fields[2].len, 11 + c.fields[3].len);
            assert_memory_equal(c.fields[2].s + 11, c.fields[3].s, c.fields[3].len);
        }
        assert_int_equal(rc, 0);
        assert_int_equal(c.line, 695);
        bch_csv_release(&c);

        /* The same bytes with CRLF line ends and a BOM: same split. */
        {
            struct bch_buf crlf;
            size_t rows2 = 0;

            bch_buf_init(&crlf, 64u << 20);
            assert_int_equal(bch_buf_add(&crlf, "\xEF\xBB\xBF", 3), 0);
            for (size_t i = 0; i < len; i++) {
                if (text[i] == '\n') {
                    assert_int_equal(bch_buf_addc(&crlf, '\r'), 0);
                }
                assert_int_equal(bch_buf_addc(&crlf, text[i]), 0);
            }
            assert_int_equal(compare_with_ref(crlf.data, crlf.len, ';', "crlf", &rows2), 0);
            assert_int_equal(rows2, 695);
            bch_buf_release(&crlf);
        }
        free(text);
    }
}

/* The real file cut at many points (inside quotes, after a CR, ...). */
static void test_real_truncations(void **state)
{
    size_t len;
    char *text = read_shared(snapshots[1], &len);
    uint64_t x = 0x9E3779B97F4A7C15u;
    int diffs = 0;

    (void)state;
    for (int k = 0; k < 150 && diffs == 0; k++) {
        size_t cut;
        char what[48];

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        cut = k < 20 ? (size_t)k * 97 : (size_t)(x % len);
        snprintf(what, sizeof(what), "cut at %zu", cut);
        diffs += compare_with_ref(text, cut, ';', what, NULL);
    }
    assert_int_equal(diffs, 0);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_quoted_flag_and_nul),
        cmocka_unit_test(test_field_limit),
        cmocka_unit_test(test_scratch_moves),
        cmocka_unit_test(test_error_buffer),
        cmocka_unit_test(test_sniff),
        cmocka_unit_test(test_reference_sanity),
        cmocka_unit_test(test_every_prefix),
        cmocka_unit_test(test_real_files),
        cmocka_unit_test(test_real_truncations),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
