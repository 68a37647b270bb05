/*
 * assets.c - the dashboard's static files, from the assets folder only.
 *
 * A request path is mapped to a file only if every segment is a plain name
 * (no "", ".", "..", backslash; percent-escapes were decoded before, so
 * %2e%2e is ".." here), and the file's real path (symlinks resolved) lies
 * inside the real path of the folder.  Anything else is a 404.  Text files
 * are cached in memory with their gzip form (keyed by mtime and size);
 * other files are sent from their descriptor.
 */
#include "core/compat.h"

#include <fcntl.h>
#include <limits.h>
#include <microhttpd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "http/internal.h"

#define TEXT_CACHE_MAX (4u << 20) /* larger text files are sent from disk */

struct mime {
    const char *ext;
    const char *type;
    bool text;
};

static const struct mime mimes[] = {
    {".html", "text/html; charset=utf-8", true},
    {".js", "text/javascript; charset=utf-8", true},
    {".mjs", "text/javascript; charset=utf-8", true},
    {".css", "text/css; charset=utf-8", true},
    {".json", "application/json", true},
    {".geojson", "application/geo+json", true},
    {".map", "application/json", true},
    {".svg", "image/svg+xml", true},
    {".txt", "text/plain; charset=utf-8", true},
    {".webmanifest", "application/manifest+json", true},
    {".png", "image/png", false},
    {".jpg", "image/jpeg", false},
    {".jpeg", "image/jpeg", false},
    {".gif", "image/gif", false},
    {".ico", "image/x-icon", false},
    {".webp", "image/webp", false},
    {".woff", "font/woff", false},
    {".woff2", "font/woff2", false},
    {".wasm", "application/wasm", false},
};

static const struct mime *mime_of(const char *path)
{
    static const struct mime other = {"", "application/octet-stream", false};
    const char *dot = strrchr(path, '.');

    if (dot && !strchr(dot, '/')) {
        for (size_t i = 0; i < BCH_ARRAY_LEN(mimes); i++) {
            if (strcasecmp(dot, mimes[i].ext) == 0) {
                return &mimes[i];
            }
        }
    }
    return &other;
}

/* Every '/'-separated segment of rel is a plain file name. */
static bool plain_relative(const char *rel)
{
    const char *s = rel;

    if (!*rel || strchr(rel, '\\')) {
        return false;
    }
    for (;;) {
        const char *slash = strchr(s, '/');
        size_t n = slash ? (size_t)(slash - s) : strlen(s);

        if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.')) {
            return false;
        }
        if (!slash) {
            return true;
        }
        s = slash + 1;
    }
}

static void page(struct http_reply *r, unsigned status, const char *title, const char *text)
{
    struct bch_buf b;
    size_t len;

    bch_buf_init(&b, 4096);
    if (bch_buf_printf(&b,
                       "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                       "<title>%s</title></head>\n<body><h1>%s</h1>\n<p>%s</p>\n</body></html>\n",
                       title, title, text)) {
        bch_buf_release(&b);
        r->status = status;
        return;
    }
    len = b.len;
    http_reply_body(r, status, "text/html; charset=utf-8", bch_buf_take(&b), len, false);
    r->no_store = true;
}

static void not_found(struct http_reply *r)
{
    page(r, MHD_HTTP_NOT_FOUND, "Not found",
         "There is no such page here. The dashboard is at "
         "<a href=\"/\">/</a>.");
}

static void not_built(struct http_reply *r)
{
    page(r, MHD_HTTP_NOT_FOUND, "Dashboard not built",
         "The dashboard's files were not found in the assets folder. Build them with "
         "<code>sh web/build.sh build/web</code> (or <code>make web</code>) and pass "
         "<code>--assets DIR</code> if they are elsewhere. The API under "
         "<code>/api/v1/</code> works without them.");
}

void http_assets(struct http_request *q, struct http_reply *r)
{
    const char *rel = strcmp(q->path, "/") == 0 ? "index.html" : q->path + 1;
    char root[PATH_MAX], want[PATH_MAX + HTTP_MAX_PATH], real[PATH_MAX];
    const struct mime *m;
    struct stat sb;
    size_t rootlen;
    int fd;

    r->no_store = false;
    if (!realpath(q->srv->assets_dir, root) || stat(root, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        not_built(r);
        return;
    }
    if (!plain_relative(rel)) {
        not_found(r);
        return;
    }
    rootlen = strlen(root);
    snprintf(want, sizeof(want), "%s/%s", root, rel);
    if (!realpath(want, real)) {
        if (strcmp(rel, "index.html") == 0) {
            not_built(r);
        } else {
            not_found(r);
        }
        return;
    }
    /* Symlinks may point anywhere: only the resolved path counts. */
    if (strncmp(real, root, rootlen) != 0 || real[rootlen] != '/') {
        not_found(r);
        return;
    }
    fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        not_found(r);
        return;
    }
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        not_found(r);
        return;
    }
    m = mime_of(rel); /* the name asked for: a symlink's target may be named otherwise */
    if (m->text && (uint64_t)sb.st_size <= TEXT_CACHE_MAX) {
        int64_t fp[2] = {(int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec,
                         (int64_t)sb.st_size};
        char key[PATH_MAX + 64];
        struct cache_entry *e;

        /* API keys start with '/'; the type is part of the key (symlinks). */
        snprintf(key, sizeof(key), "file:%s:%s", m->type, real);
        e = http_cache_get(&q->srv->cache, key, fp);

        if (!e) {
            char *body = malloc((size_t)sb.st_size + 1);
            size_t got = 0;

            while (body && got < (size_t)sb.st_size) {
                ssize_t n = read(fd, body + got, (size_t)sb.st_size - got);

                if (n <= 0) {
                    break;
                }
                got += (size_t)n;
            }
            if (!body || got != (size_t)sb.st_size) {
                free(body);
                close(fd);
                r->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
                return;
            }
            e = http_entry_new(&q->srv->cache, key, fp, m->type, body, got, true);
        }
        close(fd);
        if (!e) {
            r->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
            return;
        }
        r->entry = e;
        r->status = MHD_HTTP_OK;
        return;
    }
    r->resp = MHD_create_response_from_fd((uint64_t)sb.st_size, fd); /* it owns fd now */
    if (!r->resp) {
        close(fd);
        r->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        return;
    }
    MHD_add_response_header(r->resp, MHD_HTTP_HEADER_CONTENT_TYPE, m->type);
    r->status = MHD_HTTP_OK;
}
