/* GGUF reader: maps the file read-only and indexes its metadata and tensors in place.
 *
 * Layout (v2/v3, little endian):  "GGUF" u32 version, u64 n_tensors, u64 n_kv,
 *   n_kv x (string key, u32 type, value),  n_tensors x (string name, u32 n_dims, u64 ne[n_dims],
 *   u32 type, u64 offset),  padding to general.alignment,  tensor data.
 * A string is u64 length + bytes; an array is u32 element type + u64 count + elements.
 *
 * Nothing here trusts the file: every read goes through rd_*(), which refuses to step past
 * the end, and every size is computed with overflow checks before use. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "parrot_llm.h"

#define GGUF_MAX_DEPTH 3 /* arrays of arrays of arrays are plenty */

typedef struct {
    const uint8_t *p;
    size_t pos, size;
    char *err;
    size_t errlen;
} reader;

static int fail(reader *r, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, r->errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static int rd_bytes(reader *r, size_t n, const uint8_t **out, const char *what) {
    if (n > r->size - r->pos)
        return fail(r, "truncated file: %s at offset %zu needs %zu bytes, file has %zu", what, r->pos, n,
                    r->size);
    *out = r->p + r->pos;
    r->pos += n;
    return 0;
}

static int rd_u32(reader *r, uint32_t *v, const char *what) {
    const uint8_t *b = NULL;
    if (rd_bytes(r, 4, &b, what)) return -1;
    memcpy(v, b, 4);
    return 0;
}

static int rd_u64(reader *r, uint64_t *v, const char *what) {
    const uint8_t *b = NULL;
    if (rd_bytes(r, 8, &b, what)) return -1;
    memcpy(v, b, 8);
    return 0;
}

static int rd_str(reader *r, const char **s, size_t *len, const char *what) {
    uint64_t n;
    const uint8_t *b = NULL;
    if (rd_u64(r, &n, what)) return -1;
    if (n > r->size - r->pos)
        return fail(r, "%s: string length %llu at offset %zu runs past the end of the file", what,
                    (unsigned long long)n, r->pos - 8);
    if (rd_bytes(r, (size_t)n, &b, what)) return -1;
    *s = (const char *)b;
    *len = (size_t)n;
    return 0;
}

size_t gguf_vtype_size(uint32_t t) {
    switch (t) {
    case GGUF_U8: case GGUF_I8: case GGUF_BOOL: return 1;
    case GGUF_U16: case GGUF_I16: return 2;
    case GGUF_U32: case GGUF_I32: case GGUF_F32: return 4;
    case GGUF_U64: case GGUF_I64: case GGUF_F64: return 8;
    default: return 0;
    }
}

/* Skips one value of type t (already read), checking every length on the way. */
static int skip_value(reader *r, uint32_t t, int depth, const char *key) {
    const uint8_t *b = NULL;
    size_t sz = gguf_vtype_size(t);
    if (sz) return rd_bytes(r, sz, &b, key);
    if (t == GGUF_STRING) {
        const char *s;
        size_t n;
        return rd_str(r, &s, &n, key);
    }
    if (t == GGUF_ARRAY) {
        uint32_t et;
        uint64_t n;
        if (depth >= GGUF_MAX_DEPTH) return fail(r, "metadata %s: arrays nested too deeply", key);
        if (rd_u32(r, &et, key) || rd_u64(r, &n, key)) return -1;
        size_t esz = gguf_vtype_size(et);
        if (esz) {
            if (n > (r->size - r->pos) / esz)
                return fail(r, "metadata %s: array of %llu elements runs past the end of the file", key,
                            (unsigned long long)n);
            return rd_bytes(r, (size_t)n * esz, &b, key);
        }
        if (et != GGUF_STRING && et != GGUF_ARRAY)
            return fail(r, "metadata %s: unknown array element type %u", key, et);
        /* every string/array element takes at least 8 bytes: reject absurd counts up front */
        if (n > (r->size - r->pos) / 8)
            return fail(r, "metadata %s: array of %llu elements runs past the end of the file", key,
                        (unsigned long long)n);
        for (uint64_t i = 0; i < n; i++)
            if (skip_value(r, et, depth + 1, key)) return -1;
        return 0;
    }
    return fail(r, "metadata %s: unknown value type %u", key, t);
}

static void keyname(char *dst, size_t cap, const char *k, size_t n) {
    if (n >= cap) n = cap - 1;
    memcpy(dst, k, n);
    dst[n] = 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)dst[i] < 32) dst[i] = '?';
}

static int parse(gguf_file *f, reader *r) {
    const uint8_t *magic = NULL;
    uint32_t version;
    if (rd_bytes(r, 4, &magic, "magic")) return -1;
    if (memcmp(magic, "GGUF", 4) != 0) return fail(r, "not a GGUF file (bad magic)");
    if (rd_u32(r, &version, "version")) return -1;
    if (version != 2 && version != 3)
        return fail(r, "unsupported GGUF version %u (only 2 and 3 are read)", version);
    f->version = version;
    if (rd_u64(r, &f->n_tensors, "tensor count") || rd_u64(r, &f->n_kv, "metadata count")) return -1;
    /* a kv needs >= 8+4+1 bytes and a tensor info >= 8+4+8+4+8: bound the counts by the file size */
    if (f->n_kv > r->size / 13) return fail(r, "absurd metadata count %llu", (unsigned long long)f->n_kv);
    if (f->n_tensors > r->size / 32)
        return fail(r, "absurd tensor count %llu", (unsigned long long)f->n_tensors);

    f->kv = calloc(f->n_kv ? f->n_kv : 1, sizeof *f->kv);
    f->tensors = calloc(f->n_tensors ? f->n_tensors : 1, sizeof *f->tensors);
    if (!f->kv || !f->tensors) return fail(r, "out of memory");

    char kname[80];
    for (uint64_t i = 0; i < f->n_kv; i++) {
        gguf_kv *kv = &f->kv[i];
        if (rd_str(r, &kv->key, &kv->key_len, "metadata key")) return -1;
        keyname(kname, sizeof kname, kv->key, kv->key_len);
        if (rd_u32(r, &kv->type, kname)) return -1;
        if (kv->type == GGUF_ARRAY) {
            /* remember where the elements start, then let skip_value re-read and check them */
            size_t at = r->pos;
            if (rd_u32(r, &kv->arr_type, kname) || rd_u64(r, &kv->arr_n, kname)) return -1;
            kv->val = r->p + r->pos;
            r->pos = at;
        } else {
            kv->val = r->p + r->pos;
        }
        if (skip_value(r, kv->type, 0, kname)) return -1;
    }

    f->alignment = 32;
    const gguf_kv *al = gguf_find(f, "general.alignment");
    if (al) {
        int64_t a;
        if (gguf_get_i64(f, "general.alignment", &a) || a <= 0 || a > (1 << 20) || (a & (a - 1)))
            return fail(r, "general.alignment must be a power of two (got an invalid value)");
        f->alignment = (size_t)a;
    }

    uint64_t *offsets = calloc(f->n_tensors ? f->n_tensors : 1, sizeof *offsets);
    if (!offsets) return fail(r, "out of memory");
    int rc = -1;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        gguf_tensor *t = &f->tensors[i];
        const char *name;
        size_t nlen;
        if (rd_str(r, &name, &nlen, "tensor name")) goto out;
        if (nlen == 0 || nlen >= sizeof t->name) {
            fail(r, "tensor %llu: name length %zu out of range", (unsigned long long)i, nlen);
            goto out;
        }
        keyname(t->name, sizeof t->name, name, nlen);
        if (rd_u32(r, &t->n_dims, t->name)) goto out;
        if (t->n_dims < 1 || t->n_dims > 4) {
            fail(r, "tensor %s: %u dimensions (1..4 allowed)", t->name, t->n_dims);
            goto out;
        }
        uint64_t n_elem = 1;
        for (int d = 0; d < 4; d++) t->ne[d] = 1;
        for (uint32_t d = 0; d < t->n_dims; d++) {
            if (rd_u64(r, &t->ne[d], t->name)) goto out;
            if (t->ne[d] == 0 || t->ne[d] > ((uint64_t)1 << 40) || n_elem > ((uint64_t)1 << 50) / t->ne[d]) {
                fail(r, "tensor %s: dimension %u = %llu is out of range", t->name, d,
                     (unsigned long long)t->ne[d]);
                goto out;
            }
            n_elem *= t->ne[d];
        }
        t->n_elem = n_elem;
        if (rd_u32(r, &t->type, t->name) || rd_u64(r, &offsets[i], t->name)) goto out;
        const pl_type_info *ti = pl_type(t->type);
        if (ti->blck == 0) {
            fail(r, "tensor %s: unknown tensor type %u", t->name, t->type);
            goto out;
        }
        if (t->ne[0] % (uint64_t)ti->blck) {
            fail(r, "tensor %s: row length %llu is not a multiple of the %s block size %d", t->name,
                 (unsigned long long)t->ne[0], ti->name, ti->blck);
            goto out;
        }
        t->n_bytes = n_elem / (uint64_t)ti->blck * ti->bytes;
        if (offsets[i] % f->alignment) {
            fail(r, "tensor %s: data offset %llu is not aligned to %zu", t->name,
                 (unsigned long long)offsets[i], f->alignment);
            goto out;
        }
        for (uint64_t j = 0; j < i; j++)
            if (strcmp(f->tensors[j].name, t->name) == 0) {
                fail(r, "duplicate tensor name %s", t->name);
                goto out;
            }
    }
    /* data section starts at the next multiple of the alignment */
    size_t data = r->pos;
    if (data % f->alignment) data += f->alignment - data % f->alignment;
    if (data > r->size && f->n_tensors) {
        fail(r, "truncated file: tensor data section starts past the end (offset %zu, size %zu)", data, r->size);
        goto out;
    }
    f->data_offset = data;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        gguf_tensor *t = &f->tensors[i];
        size_t room = r->size - data;
        if (offsets[i] > room || t->n_bytes > room - offsets[i]) {
            fail(r, "truncated file: tensor %s (%llu bytes at data offset %llu) runs past the end of the file",
                 t->name, (unsigned long long)t->n_bytes, (unsigned long long)offsets[i]);
            goto out;
        }
        t->data = r->p + data + offsets[i];
    }
    rc = 0;
out:
    free(offsets);
    return rc;
}

gguf_file *gguf_open(const char *path, char *err, size_t errlen) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s is not a regular file", path);
        close(fd);
        return NULL;
    }
    if (st.st_size < 24) {
        snprintf(err, errlen, "%s: truncated file (%lld bytes, not a GGUF model)", path, (long long)st.st_size);
        close(fd);
        return NULL;
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd); /* the mapping keeps the file alive */
    if (map == MAP_FAILED) {
        snprintf(err, errlen, "cannot map %s: %s", path, strerror(errno));
        return NULL;
    }
    gguf_file *f = calloc(1, sizeof *f);
    if (!f) {
        munmap(map, (size_t)st.st_size);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    f->map = map;
    f->size = (size_t)st.st_size;
    reader r = {f->map, 0, f->size, err, errlen};
    if (parse(f, &r) != 0) {
        gguf_close(f);
        return NULL;
    }
    return f;
}

void gguf_close(gguf_file *f) {
    if (!f) return;
    if (f->map) munmap((void *)f->map, f->size);
    free(f->kv);
    free(f->tensors);
    free(f);
}

const gguf_kv *gguf_find(const gguf_file *f, const char *key) {
    size_t n = strlen(key);
    for (uint64_t i = 0; i < f->n_kv; i++)
        if (f->kv[i].key_len == n && memcmp(f->kv[i].key, key, n) == 0) return &f->kv[i];
    return NULL;
}

const gguf_tensor *gguf_tensor_find(const gguf_file *f, const char *name) {
    for (uint64_t i = 0; i < f->n_tensors; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

/* Reads one scalar of type t at p. Values are little endian like the host (x86, arm). */
static int scalar(uint32_t t, const uint8_t *p, int64_t *iv, double *dv) {
    union { uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32; int32_t i32; float f32;
            uint64_t u64; int64_t i64; double f64; } u;
    size_t sz = gguf_vtype_size(t);
    if (!sz) return -1;
    memcpy(&u, p, sz);
    switch (t) {
    case GGUF_U8: case GGUF_BOOL: *iv = u.u8; *dv = u.u8; break;
    case GGUF_I8: *iv = u.i8; *dv = u.i8; break;
    case GGUF_U16: *iv = u.u16; *dv = u.u16; break;
    case GGUF_I16: *iv = u.i16; *dv = u.i16; break;
    case GGUF_U32: *iv = u.u32; *dv = u.u32; break;
    case GGUF_I32: *iv = u.i32; *dv = u.i32; break;
    case GGUF_U64: *iv = u.u64 > INT64_MAX ? INT64_MAX : (int64_t)u.u64; *dv = (double)u.u64; break;
    case GGUF_I64: *iv = u.i64; *dv = (double)u.i64; break;
    case GGUF_F32: *dv = u.f32; *iv = (u.f32 > -9e18f && u.f32 < 9e18f) ? (int64_t)u.f32 : 0; break;
    case GGUF_F64: *dv = u.f64; *iv = (u.f64 > -9e18 && u.f64 < 9e18) ? (int64_t)u.f64 : 0; break;
    default: return -1;
    }
    return 0;
}

int gguf_get_i64(const gguf_file *f, const char *key, int64_t *out) {
    const gguf_kv *kv = gguf_find(f, key);
    double d;
    if (!kv || kv->type == GGUF_F32 || kv->type == GGUF_F64) return -1;
    return kv ? scalar(kv->type, kv->val, out, &d) : -1;
}

int gguf_get_f64(const gguf_file *f, const char *key, double *out) {
    const gguf_kv *kv = gguf_find(f, key);
    int64_t i;
    return kv ? scalar(kv->type, kv->val, &i, out) : -1;
}

const char *gguf_get_str(const gguf_file *f, const char *key, size_t *len) {
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv || kv->type != GGUF_STRING) return NULL;
    uint64_t n;
    memcpy(&n, kv->val, 8); /* checked at parse time */
    *len = (size_t)n;
    return (const char *)kv->val + 8;
}

int gguf_arr_strings(const gguf_kv *kv, const char **ptrs, size_t *lens) {
    if (!kv || kv->type != GGUF_ARRAY || kv->arr_type != GGUF_STRING) return -1;
    const uint8_t *p = kv->val;
    for (uint64_t i = 0; i < kv->arr_n; i++) {
        uint64_t n;
        memcpy(&n, p, 8);
        ptrs[i] = (const char *)p + 8;
        lens[i] = (size_t)n;
        p += 8 + n;
    }
    return 0;
}

int64_t gguf_arr_i64(const gguf_kv *kv, uint64_t i) {
    int64_t v = 0;
    double d;
    size_t sz = gguf_vtype_size(kv->arr_type);
    if (sz && i < kv->arr_n) scalar(kv->arr_type, kv->val + i * sz, &v, &d);
    return v;
}

double gguf_arr_f64(const gguf_kv *kv, uint64_t i) {
    int64_t v;
    double d = 0;
    size_t sz = gguf_vtype_size(kv->arr_type);
    if (sz && i < kv->arr_n) scalar(kv->arr_type, kv->val + i * sz, &v, &d);
    return d;
}
