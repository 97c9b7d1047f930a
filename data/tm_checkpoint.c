#include "tm_checkpoint.h"

#include <errno.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tm_fs.h"

struct tm_ckpt_writer {
    hid_t file;
    char *path, *tmp;
};

struct tm_ckpt_reader {
    hid_t file;
    char *path;
};

/* A failed H5Fclose (a full disk) leaves a half-closed id that HDF5's exit
 * handler then crashes on; every file here is closed explicitly, so the
 * process needs no HDF5 clean-up at exit. Must run before HDF5 starts. */
__attribute__((constructor)) static void tm_h5_no_atexit(void) { H5dont_atexit(); }

/* HDF5 prints its error stack to stderr by default; the library reports through tm_error. */
static void tm_h5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

static herr_t tm_h5_walk(unsigned n, const H5E_error2_t *e, void *data)
{
    char *buf = data;
    size_t used = strlen(buf);
    /* Keep the two most specific entries: the cause and what it broke. */
    if (n >= 2 || !e->desc || !e->desc[0])
        return 0;
    /* The POSIX layer's long description (time, fd, buffer) holds an errno: that is the reason. */
    const char *en = strstr(e->desc, "errno = ");
    if (en) {
        snprintf(buf + used, 256 - used, "%s%s", used ? "; " : "", strerror(atoi(en + 8)));
        return 0;
    }
    snprintf(buf + used, 256 - used, "%s%s", used ? "; " : "", e->desc);
    return 0;
}

/* The innermost HDF5 error descriptions of the failed call, for messages. */
static const char *tm_h5_reason(char buf[256])
{
    buf[0] = '\0';
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, tm_h5_walk, buf);
    if (!buf[0])
        snprintf(buf, 256, "HDF5 call failed");
    return buf;
}

static const char *tm_dims_str(char *buf, size_t n, int ndim, const hsize_t *dims)
{
    size_t used = 0;
    buf[0] = '\0';
    if (ndim == 0)
        snprintf(buf, n, "scalar");
    for (int i = 0; i < ndim && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%llu", i ? "x" : "",
                                 (unsigned long long)dims[i]);
    return buf;
}

static char *tm_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* 1 when every component of the slash path exists (H5Lexists needs its parents to exist). */
static int tm_h5_path_exists(hid_t file, const char *name)
{
    char buf[1024];
    size_t len = strlen(name);
    if (len == 0 || len >= sizeof buf)
        return 0;
    memcpy(buf, name, len + 1);
    int any = 0;
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        if (buf[i - 1] == '/')
            continue;
        char saved = buf[i];
        buf[i] = '\0';
        htri_t e = H5Lexists(file, buf, H5P_DEFAULT);
        buf[i] = saved;
        if (e <= 0)
            return 0;
        any = 1;
    }
    return any;
}

static tm_status tm_check_name(const char *path, const char *what, const char *name)
{
    if (!name || !name[0] || strspn(name, "/") == strlen(name))
        return tm_error(TM_ERR_ARG, "checkpoint %s: empty %s name", path, what);
    if (strlen(name) >= 1024)
        return tm_error(TM_ERR_ARG, "checkpoint %s: %s name longer than 1023 characters", path, what);
    return TM_OK;
}

/* ---- writing ------------------------------------------------------------ */

tm_status tm_ckpt_create(tm_ckpt_writer **out, const char *path)
{
    if (!out)
        return tm_error(TM_ERR_ARG, "tm_ckpt_create: out is NULL");
    *out = NULL;
    if (!path || !path[0])
        return tm_error(TM_ERR_ARG, "tm_ckpt_create: empty path");
    tm_h5_quiet();
    tm_ckpt_writer *w = calloc(1, sizeof *w);
    size_t n = strlen(path);
    if (!w || !(w->path = tm_strdup(path)) || !(w->tmp = malloc(n + 32))) {
        if (w)
            free(w->path);
        free(w);
        return tm_error(TM_ERR_NOMEM, "checkpoint %s: writer state", path);
    }
    /* The process id keeps two writers of the same file (a shared feature
     * cache) from writing into one temporary file; rename keeps it atomic. */
    snprintf(w->tmp, n + 32, "%s.tmp.%ld", path, (long)getpid());
    /* PATH.tmp.PID of dead processes: a kill mid-write leaves them */
    static const char *const seps[] = {".tmp.", NULL};
    tm_fs_remove_stale(path, seps);

    /* The 1.10 format: all metadata checksummed, large attributes allowed, and a
     * one-chunk array indexed from its (checksummed) header instead of a B-tree
     * whose damage HDF5 would silently read as zeros. */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl >= 0)
        H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, H5F_LIBVER_LATEST);
    w->file = H5Fcreate(w->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl >= 0 ? fapl : H5P_DEFAULT);
    if (fapl >= 0)
        H5Pclose(fapl);
    if (w->file < 0) {
        char why[256];
        tm_status s = tm_error(TM_ERR_IO, "checkpoint %s: cannot create %s: %s", path, w->tmp,
                               tm_h5_reason(why));
        free(w->path);
        free(w->tmp);
        free(w);
        return s;
    }
    *out = w;
    return TM_OK;
}

tm_status tm_ckpt_put_array(tm_ckpt_writer *w, const char *name, const float *data, int ndim,
                            const int *shape)
{
    if (!w)
        return tm_error(TM_ERR_ARG, "tm_ckpt_put_array: writer is NULL");
    TM_TRY(tm_check_name(w->path, "dataset", name));
    if (!data || !shape || ndim < 1 || ndim > TM_CKPT_MAX_DIMS)
        return tm_error(TM_ERR_ARG, "checkpoint %s: dataset '%s': no data or ndim %d outside [1, %d]",
                        w->path, name, ndim, TM_CKPT_MAX_DIMS);
    tm_h5_quiet();
    hsize_t dims[TM_CKPT_MAX_DIMS];
    double bytes = sizeof(float);
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 1)
            return tm_error(TM_ERR_ARG, "checkpoint %s: dataset '%s': dimension %d is %d", w->path,
                            name, i, shape[i]);
        dims[i] = (hsize_t)shape[i];
        bytes *= shape[i];
    }
    if (tm_h5_path_exists(w->file, name))
        return tm_error(TM_ERR_ARG, "checkpoint %s: dataset '%s' written twice", w->path, name);

    tm_status s = TM_OK;
    char why[256];
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t space = H5Screate_simple(ndim, dims, NULL), dset = -1;
    if (lcpl < 0 || dcpl < 0 || space < 0 || H5Pset_create_intermediate_group(lcpl, 1) < 0) {
        s = tm_error(TM_ERR_INTERNAL, "checkpoint %s: dataset '%s': HDF5 setup failed: %s", w->path,
                     name, tm_h5_reason(why));
        goto done;
    }
    /* One chunk per array so the Fletcher-32 checksum can be applied (chunks are capped at 4 GB). */
    if (bytes < 4e9 && (H5Pset_chunk(dcpl, ndim, dims) < 0 || H5Pset_fletcher32(dcpl) < 0)) {
        s = tm_error(TM_ERR_INTERNAL, "checkpoint %s: dataset '%s': checksum setup failed: %s",
                     w->path, name, tm_h5_reason(why));
        goto done;
    }
    dset = H5Dcreate2(w->file, name, H5T_IEEE_F32LE, space, lcpl, dcpl, H5P_DEFAULT);
    if (dset < 0) {
        s = tm_error(TM_ERR_IO, "checkpoint %s: cannot create dataset '%s': %s", w->path, name,
                     tm_h5_reason(why));
        goto done;
    }
    if (H5Dwrite(dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
        s = tm_error(TM_ERR_IO, "checkpoint %s: writing dataset '%s' failed: %s", w->path, name,
                     tm_h5_reason(why));
done:
    if (dset >= 0)
        H5Dclose(dset);
    if (space >= 0)
        H5Sclose(space);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (lcpl >= 0)
        H5Pclose(lcpl);
    return s;
}

/* Root attribute; takes ownership of ftype (a copy) and space. */
static tm_status tm_put_attr(tm_ckpt_writer *w, const char *name, hid_t ftype, hid_t mtype,
                             hid_t space, const void *buf)
{
    tm_status s = TM_OK;
    char why[256];
    hid_t attr = -1;
    if (ftype < 0 || space < 0) {
        s = tm_error(TM_ERR_INTERNAL, "checkpoint %s: attribute '%s': HDF5 setup failed: %s",
                     w->path, name, tm_h5_reason(why));
        goto done;
    }
    if (H5Aexists(w->file, name) > 0 && H5Adelete(w->file, name) < 0) {
        s = tm_error(TM_ERR_IO, "checkpoint %s: cannot replace attribute '%s': %s", w->path, name,
                     tm_h5_reason(why));
        goto done;
    }
    attr = H5Acreate2(w->file, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT);
    if (attr < 0 || H5Awrite(attr, mtype, buf) < 0)
        s = tm_error(TM_ERR_IO, "checkpoint %s: writing attribute '%s' failed: %s", w->path, name,
                     tm_h5_reason(why));
done:
    if (attr >= 0)
        H5Aclose(attr);
    if (space >= 0)
        H5Sclose(space);
    if (ftype >= 0)
        H5Tclose(ftype);
    return s;
}

static tm_status tm_writer_attr_check(tm_ckpt_writer *w, const char *name)
{
    if (!w)
        return tm_error(TM_ERR_ARG, "checkpoint attribute '%s': writer is NULL", name ? name : "?");
    TM_TRY(tm_check_name(w->path, "attribute", name));
    tm_h5_quiet();
    return TM_OK;
}

tm_status tm_ckpt_put_attr_string(tm_ckpt_writer *w, const char *name, const char *value)
{
    TM_TRY(tm_writer_attr_check(w, name));
    if (!value)
        return tm_error(TM_ERR_ARG, "checkpoint %s: attribute '%s': value is NULL", w->path, name);
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t >= 0 && (H5Tset_size(t, strlen(value) + 1) < 0 || H5Tset_strpad(t, H5T_STR_NULLTERM) < 0 ||
                   H5Tset_cset(t, H5T_CSET_UTF8) < 0)) {
        H5Tclose(t);
        t = -1;
    }
    return tm_put_attr(w, name, t, t, H5Screate(H5S_SCALAR), value);
}

tm_status tm_ckpt_put_attr_int(tm_ckpt_writer *w, const char *name, long long value)
{
    TM_TRY(tm_writer_attr_check(w, name));
    return tm_put_attr(w, name, H5Tcopy(H5T_STD_I64LE), H5T_NATIVE_LLONG, H5Screate(H5S_SCALAR),
                       &value);
}

tm_status tm_ckpt_put_attr_double(tm_ckpt_writer *w, const char *name, double value)
{
    TM_TRY(tm_writer_attr_check(w, name));
    return tm_put_attr(w, name, H5Tcopy(H5T_IEEE_F64LE), H5T_NATIVE_DOUBLE, H5Screate(H5S_SCALAR),
                       &value);
}

tm_status tm_ckpt_put_attr_u32_array(tm_ckpt_writer *w, const char *name, const uint32_t *v, int n)
{
    TM_TRY(tm_writer_attr_check(w, name));
    if (!v || n < 1)
        return tm_error(TM_ERR_ARG, "checkpoint %s: attribute '%s': no values (n = %d)", w->path,
                        name, n);
    hsize_t dims[1] = {(hsize_t)n};
    return tm_put_attr(w, name, H5Tcopy(H5T_STD_U32LE), H5T_NATIVE_UINT32,
                       H5Screate_simple(1, dims, NULL), v);
}

static void tm_writer_free(tm_ckpt_writer *w)
{
    free(w->path);
    free(w->tmp);
    free(w);
}

tm_status tm_ckpt_commit(tm_ckpt_writer *w)
{
    if (!w)
        return tm_error(TM_ERR_ARG, "tm_ckpt_commit: writer is NULL");
    tm_h5_quiet();
    char why[256];
    tm_status s = TM_OK;
    if (H5Fflush(w->file, H5F_SCOPE_GLOBAL) < 0)
        s = tm_error(TM_ERR_IO, "checkpoint %s: flushing %s failed: %s", w->path, w->tmp,
                     tm_h5_reason(why));
    if (H5Fclose(w->file) < 0 && s == TM_OK)
        s = tm_error(TM_ERR_IO, "checkpoint %s: closing %s failed: %s", w->path, w->tmp,
                     tm_h5_reason(why));
    s = tm_publish(w->tmp, w->path, s);
    tm_writer_free(w);
    return s;
}

void tm_ckpt_abort(tm_ckpt_writer *w)
{
    if (!w)
        return;
    tm_h5_quiet();
    H5Fclose(w->file);
    remove(w->tmp);
    tm_writer_free(w);
}

/* ---- reading ------------------------------------------------------------ */

tm_status tm_ckpt_open(tm_ckpt_reader **out, const char *path)
{
    if (!out)
        return tm_error(TM_ERR_ARG, "tm_ckpt_open: out is NULL");
    *out = NULL;
    if (!path || !path[0])
        return tm_error(TM_ERR_ARG, "tm_ckpt_open: empty path");
    tm_h5_quiet();
    struct stat st;
    if (stat(path, &st) != 0)
        return tm_error(TM_ERR_IO, "checkpoint %s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return tm_error(TM_ERR_IO, "checkpoint %s: not a regular file", path);
    if (access(path, R_OK) != 0)
        return tm_error(TM_ERR_IO, "checkpoint %s: %s", path, strerror(errno));
    char why[256];
    htri_t is = H5Fis_hdf5(path);
    if (is == 0)
        return tm_error(TM_ERR_FORMAT, "checkpoint %s: not an HDF5 file (no HDF5 signature)", path);
    if (is < 0)
        return tm_error(TM_ERR_FORMAT, "checkpoint %s: cannot be read as HDF5: %s", path,
                        tm_h5_reason(why));
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0)
        return tm_error(TM_ERR_FORMAT, "checkpoint %s: truncated or corrupt HDF5 file: %s", path,
                        tm_h5_reason(why));
    tm_ckpt_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->path = tm_strdup(path))) {
        free(r);
        H5Fclose(file);
        return tm_error(TM_ERR_NOMEM, "checkpoint %s: reader state", path);
    }
    r->file = file;
    *out = r;
    return TM_OK;
}

void tm_ckpt_close(tm_ckpt_reader *r)
{
    if (!r)
        return;
    tm_h5_quiet();
    H5Fclose(r->file);
    free(r->path);
    free(r);
}

static int tm_is_dataset(hid_t file, const char *name)
{
    if (!tm_h5_path_exists(file, name))
        return 0;
    hid_t obj = H5Oopen(file, name, H5P_DEFAULT);
    if (obj < 0)
        return 0;
    int is = H5Iget_type(obj) == H5I_DATASET;
    H5Oclose(obj);
    return is;
}

int tm_ckpt_has_array(tm_ckpt_reader *r, const char *name)
{
    if (!r || !name || !name[0])
        return 0;
    tm_h5_quiet();
    return tm_is_dataset(r->file, name);
}

static const char *tm_class_name(H5T_class_t c)
{
    switch (c) {
    case H5T_INTEGER: return "integer";
    case H5T_FLOAT: return "float";
    case H5T_STRING: return "string";
    case H5T_COMPOUND: return "compound";
    case H5T_ARRAY: return "array";
    default: return "non-numeric";
    }
}

tm_status tm_ckpt_get_array(tm_ckpt_reader *r, const char *name, float *data, int ndim,
                            const int *shape)
{
    if (!r)
        return tm_error(TM_ERR_ARG, "tm_ckpt_get_array: reader is NULL");
    TM_TRY(tm_check_name(r->path, "dataset", name));
    if (!data || !shape || ndim < 1 || ndim > TM_CKPT_MAX_DIMS)
        return tm_error(TM_ERR_ARG, "checkpoint %s: dataset '%s': no buffer or ndim %d outside [1, %d]",
                        r->path, name, ndim, TM_CKPT_MAX_DIMS);
    tm_h5_quiet();
    hsize_t want[TM_CKPT_MAX_DIMS], have[H5S_MAX_RANK];
    for (int i = 0; i < ndim; i++)
        want[i] = shape[i] > 0 ? (hsize_t)shape[i] : 0;
    char ws[128], hs[128], why[256];
    if (!tm_is_dataset(r->file, name))
        return tm_error(TM_ERR_FORMAT, "checkpoint %s: no dataset '%s' (expected shape %s)", r->path,
                        name, tm_dims_str(ws, sizeof ws, ndim, want));

    tm_status s = TM_OK;
    hid_t dset = H5Dopen2(r->file, name, H5P_DEFAULT), space = -1, type = -1;
    if (dset < 0 || (space = H5Dget_space(dset)) < 0 || (type = H5Dget_type(dset)) < 0) {
        s = tm_error(TM_ERR_FORMAT, "checkpoint %s: cannot open dataset '%s': %s", r->path, name,
                     tm_h5_reason(why));
        goto done;
    }
    int hn = H5Sget_simple_extent_ndims(space);
    if (hn < 0 || H5Sget_simple_extent_dims(space, have, NULL) < 0) {
        s = tm_error(TM_ERR_FORMAT, "checkpoint %s: dataset '%s' has an unreadable shape: %s",
                     r->path, name, tm_h5_reason(why));
        goto done;
    }
    int same = hn == ndim;
    for (int i = 0; same && i < ndim; i++)
        same = have[i] == want[i];
    if (!same) {
        s = tm_error(TM_ERR_FORMAT, "checkpoint %s: dataset '%s' has shape %s but %s was expected",
                     r->path, name, tm_dims_str(hs, sizeof hs, hn, have),
                     tm_dims_str(ws, sizeof ws, ndim, want));
        goto done;
    }
    H5T_class_t cls = H5Tget_class(type);
    if (cls != H5T_FLOAT) {
        s = tm_error(TM_ERR_FORMAT, "checkpoint %s: dataset '%s' holds %s values, not float",
                     r->path, name, tm_class_name(cls));
        goto done;
    }
    /* A damaged chunk index makes HDF5 return the fill value (zeros) without an error,
     * so check that the array's one chunk is found where it was written. */
    hid_t dcpl = H5Dget_create_plist(dset);
    int chunked = dcpl >= 0 && H5Pget_layout(dcpl) == H5D_CHUNKED;
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (chunked) {
        hsize_t origin[H5S_MAX_RANK] = {0}, stored = 0, need = (hsize_t)sizeof(float);
        for (int i = 0; i < ndim; i++)
            need *= want[i];
        if (H5Dget_chunk_storage_size(dset, origin, &stored) < 0 || stored < need) {
            s = tm_error(TM_ERR_FORMAT,
                         "checkpoint %s: dataset '%s' has %llu of its %llu data bytes stored "
                         "(corrupt file)",
                         r->path, name, (unsigned long long)stored, (unsigned long long)need);
            goto done;
        }
    }
    if (H5Dread(dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
        s = tm_error(TM_ERR_FORMAT, "checkpoint %s: reading dataset '%s' failed (corrupt file?): %s",
                     r->path, name, tm_h5_reason(why));
done:
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
    if (dset >= 0)
        H5Dclose(dset);
    return s;
}

/* Opens a root attribute and checks its class and value count. */
static tm_status tm_open_attr(tm_ckpt_reader *r, const char *name, H5T_class_t cls, hssize_t count,
                              hid_t *attr, hid_t *type)
{
    *attr = *type = -1;
    if (!r)
        return tm_error(TM_ERR_ARG, "checkpoint attribute '%s': reader is NULL", name ? name : "?");
    TM_TRY(tm_check_name(r->path, "attribute", name));
    tm_h5_quiet();
    char why[256];
    if (H5Aexists(r->file, name) <= 0)
        return tm_error(TM_ERR_FORMAT, "checkpoint %s: no attribute '%s'", r->path, name);
    hid_t a = H5Aopen(r->file, name, H5P_DEFAULT);
    hid_t t = a >= 0 ? H5Aget_type(a) : -1;
    hid_t sp = a >= 0 ? H5Aget_space(a) : -1;
    tm_status s = TM_OK;
    if (a < 0 || t < 0 || sp < 0) {
        s = tm_error(TM_ERR_FORMAT, "checkpoint %s: cannot open attribute '%s': %s", r->path, name,
                     tm_h5_reason(why));
    } else if (H5Tget_class(t) != cls) {
        s = tm_error(TM_ERR_FORMAT, "checkpoint %s: attribute '%s' is %s, expected %s", r->path,
                     name, tm_class_name(H5Tget_class(t)), tm_class_name(cls));
    } else {
        hssize_t np = H5Sget_simple_extent_npoints(sp);
        if (np != count)
            s = tm_error(TM_ERR_FORMAT, "checkpoint %s: attribute '%s' holds %lld values, expected %lld",
                         r->path, name, (long long)np, (long long)count);
    }
    if (sp >= 0)
        H5Sclose(sp);
    if (s != TM_OK) {
        if (t >= 0)
            H5Tclose(t);
        if (a >= 0)
            H5Aclose(a);
        return s;
    }
    *attr = a;
    *type = t;
    return TM_OK;
}

static tm_status tm_read_attr(tm_ckpt_reader *r, const char *name, H5T_class_t cls,
                              hssize_t count, hid_t mtype, void *buf)
{
    hid_t a, t;
    TM_TRY(tm_open_attr(r, name, cls, count, &a, &t));
    char why[256];
    tm_status s = TM_OK;
    if (H5Aread(a, mtype, buf) < 0)
        s = tm_error(TM_ERR_FORMAT, "checkpoint %s: reading attribute '%s' failed: %s", r->path,
                     name, tm_h5_reason(why));
    H5Tclose(t);
    H5Aclose(a);
    return s;
}

tm_status tm_ckpt_get_attr_string(tm_ckpt_reader *r, const char *name, char **value)
{
    if (!value)
        return tm_error(TM_ERR_ARG, "checkpoint attribute '%s': value is NULL", name ? name : "?");
    *value = NULL;
    hid_t a, t;
    TM_TRY(tm_open_attr(r, name, H5T_STRING, 1, &a, &t));
    char why[256];
    tm_status s = TM_OK;
    hid_t m = H5Tcopy(t);
    if (H5Tis_variable_str(t) > 0) {
        /* Written by other tools (h5py writes variable-length strings). */
        char *p = NULL;
        if (m < 0 || H5Aread(a, m, &p) < 0 || !p)
            s = tm_error(TM_ERR_FORMAT, "checkpoint %s: reading attribute '%s' failed: %s", r->path,
                         name, tm_h5_reason(why));
        else if (!(*value = tm_strdup(p)))
            s = tm_error(TM_ERR_NOMEM, "checkpoint %s: attribute '%s'", r->path, name);
        if (p)
            H5free_memory(p);
    } else {
        size_t n = H5Tget_size(t);
        char *buf = malloc(n + 1);
        if (!buf)
            s = tm_error(TM_ERR_NOMEM, "checkpoint %s: attribute '%s' (%zu bytes)", r->path, name, n);
        else if (m < 0 || H5Aread(a, m, buf) < 0)
            s = tm_error(TM_ERR_FORMAT, "checkpoint %s: reading attribute '%s' failed: %s", r->path,
                         name, tm_h5_reason(why));
        if (s == TM_OK) {
            buf[n] = '\0';
            *value = buf;
        } else {
            free(buf);
        }
    }
    if (m >= 0)
        H5Tclose(m);
    H5Tclose(t);
    H5Aclose(a);
    return s;
}

tm_status tm_ckpt_get_attr_int(tm_ckpt_reader *r, const char *name, long long *value)
{
    if (!value)
        return tm_error(TM_ERR_ARG, "checkpoint attribute '%s': value is NULL", name ? name : "?");
    return tm_read_attr(r, name, H5T_INTEGER, 1, H5T_NATIVE_LLONG, value);
}

tm_status tm_ckpt_get_attr_double(tm_ckpt_reader *r, const char *name, double *value)
{
    if (!value)
        return tm_error(TM_ERR_ARG, "checkpoint attribute '%s': value is NULL", name ? name : "?");
    return tm_read_attr(r, name, H5T_FLOAT, 1, H5T_NATIVE_DOUBLE, value);
}

tm_status tm_ckpt_get_attr_u32_array(tm_ckpt_reader *r, const char *name, uint32_t *v, int n)
{
    if (!v || n < 1)
        return tm_error(TM_ERR_ARG, "checkpoint attribute '%s': no buffer (n = %d)",
                        name ? name : "?", n);
    return tm_read_attr(r, name, H5T_INTEGER, n, H5T_NATIVE_UINT32, v);
}
