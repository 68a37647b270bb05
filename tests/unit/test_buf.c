/*
 * test_buf.c - the bounded byte buffer of core/buf.c.
 *
 * The ceiling is checked at its exact edge for every append function, the
 * content is compared byte for byte (and must stay NUL-terminated and
 * unchanged after a refused append), and the JSON escaping is verified by
 * parsing the output back with jansson.
 */
#include "core/compat.h"

#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/grow.h"

static void assert_content(const struct bch_buf *b, const void *want, size_t len)
{
    assert_int_equal(b->len, len);
    assert_non_null(b->data);
    assert_memory_equal(b->data, want, len);
    assert_int_equal(b->data[len], '\0');
    assert_true(b->cap > b->len);
}

static void test_append(void **state)
{
    struct bch_buf b;

    (void)state;
    bch_buf_init(&b, 1000);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(bch_buf_add(&b, "ab", 2), 0);
    assert_int_equal(bch_buf_addc(&b, 'c'), 0);
    assert_int_equal(bch_buf_adds(&b, "def"), 0);
    assert_int_equal(bch_buf_add(&b, "g\0h", 3), 0);
    assert_int_equal(bch_buf_add(&b, NULL, 0), 0);
    assert_content(&b, "abcdefg\0h", 9);
    bch_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    assert_int_equal(bch_buf_adds(&b, "x"), 0);
    assert_content(&b, "x", 1);
    bch_buf_release(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    bch_buf_release(&b); /* twice is harmless */
    bch_buf_reset(&b);   /* on an empty buffer too */

    /* Many small appends across several reallocations. */
    bch_buf_init(&b, 1u << 20);
    for (int i = 0; i < 100000; i++) {
        assert_int_equal(bch_buf_addc(&b, (char)('a' + i % 26)), 0);
    }
    assert_int_equal(b.len, 100000);
    for (int i = 0; i < 100000; i++) {
        if (b.data[i] != (char)('a' + i % 26)) {
            fail_msg("byte %d lost in a reallocation", i);
        }
    }
    assert_int_equal(b.data[100000], '\0');
    bch_buf_release(&b);
}

/* The ceiling: exactly max bytes fit, one more is refused with EFBIG and
 * leaves the content as it was. */
static void test_max(void **state)
{
    static const size_t maxes[] = {0, 1, 10, 255, 256, 257, 1000, 4096};

    (void)state;
    for (size_t k = 0; k < BCH_ARRAY_LEN(maxes); k++) {
        size_t max = maxes[k];
        struct bch_buf b;
        char *want = malloc(max + 1);

        assert_non_null(want);
        for (size_t i = 0; i < max; i++) {
            want[i] = (char)('0' + i % 10);
        }
        bch_buf_init(&b, max);
        assert_int_equal(bch_buf_add(&b, "", 0), 0);
        assert_content(&b, "", 0);
        /* half with add, the rest one byte at a time */
        assert_int_equal(bch_buf_add(&b, want, max / 2), 0);
        for (size_t i = max / 2; i < max; i++) {
            assert_int_equal(bch_buf_addc(&b, want[i]), 0);
        }
        assert_content(&b, want, max);
        assert_true(b.cap <= max + 1); /* never allocates past the ceiling */
        errno = 0;
        assert_int_equal(bch_buf_addc(&b, 'x'), -1);
        assert_int_equal(errno, EFBIG);
        assert_int_equal(bch_buf_adds(&b, "xy"), -1);
        assert_int_equal(bch_buf_add(&b, "x", 1), -1);
        assert_int_equal(bch_buf_add(&b, want, SIZE_MAX), -1); /* no wrap-around */
        assert_int_equal(bch_buf_printf(&b, "%d", 7), -1);
        assert_int_equal(bch_buf_add_json_str(&b, "", 0), -1);
        assert_int_equal(bch_buf_add(&b, "", 0), 0); /* nothing more still fits */
        assert_content(&b, want, max);
        /* after a reset the whole ceiling is available again */
        bch_buf_reset(&b);
        assert_int_equal(bch_buf_add(&b, want, max), 0);
        assert_content(&b, want, max);
        bch_buf_release(&b);

        /* a single append larger than max is refused on an empty buffer */
        bch_buf_init(&b, max);
        assert_int_equal(bch_buf_add(&b, "0123456789abcdef0123456789", max + 1 > 26 ? 26 : max + 1),
                         max + 1 > 26 ? 0 : -1);
        bch_buf_release(&b);
        free(want);
    }
}

static void test_printf(void **state)
{
    struct bch_buf b;
    char big[3000];

    (void)state;
    bch_buf_init(&b, 4096);
    assert_int_equal(bch_buf_printf(&b, "gid=%d ident=%s", 2151, "I83"), 0);
    assert_int_equal(bch_buf_printf(&b, " %.2f%%", 6.2849), 0);
    assert_int_equal(bch_buf_printf(&b, "%s", ""), 0);
    assert_content(&b, "gid=2151 ident=I83 6.28%", 24);
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(bch_buf_printf(&b, "[%s]", big), 0); /* grows past 256 */
    assert_int_equal(b.len, 24 + 2 + sizeof(big) - 1);
    assert_int_equal(b.data[24], '[');
    assert_int_equal(b.data[b.len - 1], ']');
    /* 4096 - 3025 = 1071 bytes left: 1071 fit, 1072 do not */
    assert_int_equal(bch_buf_printf(&b, "%1072d", 1), -1);
    assert_int_equal(b.len, 3025);
    assert_int_equal(b.data[b.len], '\0');
    assert_int_equal(bch_buf_printf(&b, "%1071d", 1), 0);
    assert_int_equal(b.len, 4096);
    assert_int_equal(b.data[4095], '1');
    bch_buf_release(&b);

    /* printf on a buffer that has no storage yet */
    bch_buf_init(&b, 16);
    assert_int_equal(bch_buf_printf(&b, "%05d", 42), 0);
    assert_content(&b, "00042", 5);
    bch_buf_release(&b);
}

static void test_json_string(void **state)
{
    static const struct {
        const char *in;
        size_t len;
        const char *want;
    } t[] = {
        {"", 0, "\"\""},
        {"I83", 3, "\"I83\""},
        {"a\"b", 3, "\"a\\\"b\""},
        {"back\\slash", 10, "\"back\\\\slash\""},
        {"\\\"", 2, "\"\\\\\\\"\""},
        {"l1\nl2", 5, "\"l1\\u000al2\""},
        {"\t\r\b\f", 4, "\"\\u0009\\u000d\\u0008\\u000c\""},
        {"\x01\x1f", 2, "\"\\u0001\\u001f\""},
        {"nul\0x", 5, "\"nul\\u0000x\""},
        {" \x7f/", 3, "\" \x7f/\""},
        {"Villenave-d'Ornon", 17, "\"Villenave-d'Ornon\""},
        {"B\xc3\xa8gles", 7, "\"B\xc3\xa8gles\""},
        {"{\"coordinates\": [[-0.5, 44.8]]}", 31, "\"{\\\"coordinates\\\": [[-0.5, 44.8]]}\""},
    };

    (void)state;
    for (size_t i = 0; i < BCH_ARRAY_LEN(t); i++) {
        struct bch_buf b;
        json_error_t jerr;
        json_t *j;

        bch_buf_init(&b, 1024);
        assert_int_equal(bch_buf_adds(&b, "pre:"), 0);
        assert_int_equal(bch_buf_add_json_str(&b, t[i].in, t[i].len), 0);
        if (b.len != 4 + strlen(t[i].want) || memcmp(b.data + 4, t[i].want, b.len - 4) != 0) {
            fail_msg("case %zu: got '%s', want '%s'", i, b.data + 4, t[i].want);
        }
        /* jansson reads back exactly the input bytes */
        j = json_loadb(b.data + 4, b.len - 4, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        if (!j) {
            fail_msg("case %zu: output is not JSON: %s", i, jerr.text);
        }
        assert_true(json_is_string(j));
        assert_int_equal(json_string_length(j), t[i].len);
        assert_memory_equal(json_string_value(j), t[i].in, t[i].len);
        json_decref(j);
        bch_buf_release(&b);
    }

    /* Every byte value 0x00-0x7f in one string reads back. */
    {
        char all[128];
        struct bch_buf b;
        json_t *j;

        for (int c = 0; c < 128; c++) {
            all[c] = (char)c;
        }
        bch_buf_init(&b, 4096);
        assert_int_equal(bch_buf_add_json_str(&b, all, sizeof(all)), 0);
        j = json_loadb(b.data, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        assert_non_null(j);
        assert_int_equal(json_string_length(j), sizeof(all));
        assert_memory_equal(json_string_value(j), all, sizeof(all));
        json_decref(j);
        bch_buf_release(&b);
    }

    /* The ceiling counts the escaped size: "\"" needs 4 bytes. */
    {
        struct bch_buf b;

        bch_buf_init(&b, 4);
        assert_int_equal(bch_buf_add_json_str(&b, "\"", 1), 0);
        assert_content(&b, "\"\\\"\"", 4);
        bch_buf_reset(&b);
        assert_int_equal(bch_buf_add_json_str(&b, "\n", 1), -1);
        bch_buf_release(&b);
    }
}

static void test_take(void **state)
{
    struct bch_buf b;
    char *s;

    (void)state;
    bch_buf_init(&b, 100);
    assert_int_equal(bch_buf_adds(&b, "owned"), 0);
    s = bch_buf_take(&b);
    assert_string_equal(s, "owned");
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_int_equal(b.cap, 0);
    /* the buffer is reusable and keeps its ceiling */
    assert_int_equal(bch_buf_adds(&b, "again"), 0);
    assert_content(&b, "again", 5);
    free(s);
    s = calloc(1, 100);
    assert_non_null(s);
    assert_int_equal(bch_buf_add(&b, s, 96), -1); /* 5 + 96 > 100 */
    assert_int_equal(bch_buf_add(&b, s, 95), 0);
    free(s);
    bch_buf_release(&b);

    /* taking from a buffer that never held anything gives "" */
    bch_buf_init(&b, 100);
    s = bch_buf_take(&b);
    assert_non_null(s);
    assert_string_equal(s, "");
    free(s);
    bch_buf_release(&b);
}

static char *temp_file(const void *data, size_t len)
{
    char *path = strdup("/tmp/bouchon-test-buf-XXXXXX");
    int fd;

    assert_non_null(path);
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
    return path;
}

static void test_read_file(void **state)
{
    struct bch_buf b;
    char *path, *big;
    size_t n = 200000;

    (void)state;
    /* binary content, larger than the 64 KiB read chunk */
    big = malloc(n);
    assert_non_null(big);
    for (size_t i = 0; i < n; i++) {
        big[i] = (char)(i * 7 + i / 256);
    }
    path = temp_file(big, n);
    bch_buf_init(&b, n);
    assert_int_equal(bch_buf_read_file(&b, path), 0);
    assert_content(&b, big, n);
    bch_buf_release(&b);
    /* one byte under the size: refused with EFBIG */
    bch_buf_init(&b, n - 1);
    errno = 0;
    assert_int_equal(bch_buf_read_file(&b, path), -1);
    assert_int_equal(errno, EFBIG);
    bch_buf_release(&b);
    unlink(path);
    free(path);
    free(big);

    /* an empty file gives an empty, NUL-terminated buffer */
    path = temp_file("", 0);
    bch_buf_init(&b, 10);
    assert_int_equal(bch_buf_read_file(&b, path), 0);
    assert_content(&b, "", 0);
    bch_buf_release(&b);
    unlink(path);

    /* a missing file: -1 with errno from fopen */
    bch_buf_init(&b, 10);
    errno = 0;
    assert_int_equal(bch_buf_read_file(&b, path), -1);
    assert_int_equal(errno, ENOENT);
    /* a directory cannot be read either */
    assert_int_equal(bch_buf_read_file(&b, "/tmp"), -1);
    bch_buf_release(&b);
    free(path);
}

/* bch_reserve(): first capacity, doubling, contents kept, overflow refused. */
static void test_reserve(void **state)
{
    int *v = NULL, *n;
    size_t cap = 0;

    (void)state;
    v = bch_reserve(v, &cap, 1, sizeof(*v), 4);
    assert_non_null(v);
    assert_int_equal(cap, 4);
    for (int i = 0; i < 100; i++) {
        n = bch_reserve(v, &cap, (size_t)i + 1, sizeof(*v), 4);
        assert_non_null(n);
        v = n;
        assert_true(cap >= (size_t)i + 1);
        v[i] = i * 7;
    }
    assert_int_equal(cap, 128); /* 4, 8, ..., 128 */
    for (int i = 0; i < 100; i++) {
        assert_int_equal(v[i], i * 7);
    }
    /* enough room: the same array, capacity unchanged */
    assert_ptr_equal(bch_reserve(v, &cap, 50, sizeof(*v), 4), v);
    assert_int_equal(cap, 128);
    /* a jump past the doubled capacity grows to the next power step */
    n = bch_reserve(v, &cap, 1000, sizeof(*v), 4);
    assert_non_null(n);
    v = n;
    assert_int_equal(cap, 1024);
    assert_int_equal(v[99], 99 * 7);
    /* sizes that overflow: NULL, the array and its capacity untouched */
    assert_null(bch_reserve(v, &cap, SIZE_MAX / 2, sizeof(*v), 4));
    assert_null(bch_reserve(v, &cap, SIZE_MAX, 1, 4));
    assert_int_equal(cap, 1024);
    assert_int_equal(v[99], 99 * 7);
    free(v);
    /* need 0 still gives an array; first 0 counts as 1 */
    cap = 0;
    v = bch_reserve(NULL, &cap, 0, sizeof(*v), 0);
    assert_non_null(v);
    assert_int_equal(cap, 1);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append),  cmocka_unit_test(test_max),
        cmocka_unit_test(test_printf),  cmocka_unit_test(test_json_string),
        cmocka_unit_test(test_take),    cmocka_unit_test(test_read_file),
        cmocka_unit_test(test_reserve),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
