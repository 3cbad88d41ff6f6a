/*  sb-embed-sql.c — compiles a service's SQL migrations into C.

        sb-embed-sql <service> <out.c> <NNNN_description.sql ...>

    The build runs this once per service (see the Makefile's SERVICE_RULES)
    so that each binary carries its own migrations and a deployment cannot
    pair code with the wrong schema files. It writes out.c defining

        const sb_migration_t <service>_migrations [];    sorted by version
        const size_t <service>_migration_count;

    from files named NNNN_description.sql (at least four decimal digits, the
    version, then a description of letters, digits, '_' or '-'). Other
    names, version 0 and duplicate versions are refused. Services declare
    the two symbols themselves (extern), as this file does at its top.

    The SQL becomes a C string literal split after each newline, with
    backslashes, quotes and '?' (trigraphs are live in -std=c11) escaped and
    any other byte outside printable ASCII written as a three-digit octal
    escape, so any file compiles to exactly its bytes; a NUL byte is refused
    because it would cut the string short. The output is written to a
    temporary file and renamed, so an interrupted build never leaves a
    half-written out.c that make would consider up to date.

    A build tool: plain C11 and the C library only.
*/
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    const char *path;               //  as given on the command line
    char *name;                     //  file name without ".sql"
    int version;
    char *sql;
    size_t size;
} s_input_t;


//  --------------------------------------------------------------------------
//  Prints an error in the usual "tool: message" form; returns -1.

static int s_fail (const char *format, ...) __attribute__ ((format (printf, 1, 2)));

static int
s_fail (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    fputs ("sb-embed-sql: ", stderr);
    vfprintf (stderr, format, args);
    fputc ('\n', stderr);
    va_end (args);
    return -1;
}


//  --------------------------------------------------------------------------
//  Allocation for a build tool: out of memory just stops.

static void *
s_alloc (void *ptr, size_t size)
{
    ptr = realloc (ptr, size ? size : 1);
    if (!ptr) {
        fputs ("sb-embed-sql: out of memory\n", stderr);
        exit (1);
    }
    return ptr;
}


//  --------------------------------------------------------------------------
//  True when service can prefix a C identifier: [a-z_][a-z0-9_]*.

static int
s_valid_service (const char *service)
{
    if (!*service || (*service >= '0' && *service <= '9'))
        return 0;
    for (const char *p = service; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return 0;
    return 1;
}


//  --------------------------------------------------------------------------
//  Checks that path's file name is NNNN_description.sql and fills in the
//  input's name and version. Returns 0 or -1 (reported).

static int
s_parse_name (s_input_t *input)
{
    const char *base = strrchr (input->path, '/');
    base = base ? base + 1 : input->path;
    size_t length = strlen (base);
    size_t digits = strspn (base, "0123456789");
    const char *description = base + digits + 1;
    size_t description_length = length > digits + 5 ? length - digits - 5 : 0;
    int valid = digits >= 4 && base [digits] == '_' && length > 4
             && strcmp (base + length - 4, ".sql") == 0 && description_length > 0;
    for (size_t i = 0; valid && i < description_length; i++) {
        char c = description [i];
        valid = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
             || c == '_' || c == '-';
    }
    if (!valid)
        return s_fail ("%s: migration files must be named NNNN_description.sql "
                       "(four or more digits, '_', letters, digits, '_' or '-')",
                       input->path);
    long version = 0;
    for (size_t i = 0; i < digits; i++) {
        version = version * 10 + (base [i] - '0');
        if (version > INT_MAX)
            return s_fail ("%s: version number is too large", input->path);
    }
    if (version == 0)
        return s_fail ("%s: versions start at 1", input->path);
    input->version = (int) version;
    input->name = s_alloc (NULL, length - 3);
    memcpy (input->name, base, length - 4);
    input->name [length - 4] = 0;
    return 0;
}


//  --------------------------------------------------------------------------
//  Reads the whole file. Returns 0 or -1 (reported).

static int
s_read_file (s_input_t *input)
{
    FILE *file = fopen (input->path, "rb");
    if (!file)
        return s_fail ("cannot open %s: %s", input->path, strerror (errno));
    size_t capacity = 4096;
    input->sql = s_alloc (NULL, capacity);
    input->size = 0;
    while (1) {
        if (input->size == capacity) {
            capacity *= 2;
            input->sql = s_alloc (input->sql, capacity);
        }
        size_t got = fread (input->sql + input->size, 1, capacity - input->size, file);
        input->size += got;
        if (got == 0)
            break;
    }
    int failed = ferror (file);
    fclose (file);
    if (failed)
        return s_fail ("cannot read %s", input->path);
    if (memchr (input->sql, 0, input->size))
        return s_fail ("%s: contains a NUL byte", input->path);
    return 0;
}


//  --------------------------------------------------------------------------
//  Writes text as a C string literal, starting a new literal on a new line,
//  prefixed by indent, after each newline.

static void
s_write_literal (FILE *out, const char *text, size_t size, const char *indent)
{
    fputc ('"', out);
    for (size_t i = 0; i < size; i++) {
        unsigned char c = (unsigned char) text [i];
        if (c == '\n') {
            fputs ("\\n\"", out);
            if (i + 1 < size)
                fprintf (out, "\n%s\"", indent);
            else
                return;             //  literal closed already
        }
        else if (c == '\\' || c == '"')
            fprintf (out, "\\%c", c);
        else if (c == '?' && i > 0 && text [i - 1] == '?')
            fputs ("\\?", out);     //  never two raw '?' in a row: no trigraph
        else if (c == '\t')
            fputs ("\\t", out);
        else if (c == '\r')
            fputs ("\\r", out);
        else if (c < 0x20 || c > 0x7e)
            fprintf (out, "\\%03o", c);
        else
            fputc (c, out);
    }
    fputc ('"', out);
}


//  --------------------------------------------------------------------------
//  Orders inputs by version, for qsort.

static int
s_compare (const void *left, const void *right)
{
    const s_input_t *a = left, *b = right;
    return (a->version > b->version) - (a->version < b->version);
}


//  --------------------------------------------------------------------------
//  Writes the generated C to out. Returns 0, or -1 on a write error.

static int
s_write_output (FILE *out, const char *service, const s_input_t *inputs, size_t count)
{
    fprintf (out,
             "/*  Generated by tools/sb-embed-sql from %zu migration file%s of service %s.\n"
             "    Do not edit: edit the .sql files and rebuild.\n"
             "*/\n"
             "#include \"sb/migrate.h\"\n"
             "\n"
             "extern const sb_migration_t %s_migrations [];\n"
             "extern const size_t %s_migration_count;\n"
             "\n"
             "const sb_migration_t %s_migrations [] = {\n",
             count, count == 1 ? "" : "s", service, service, service, service);
    if (count == 0)
        fputs ("    { 0, NULL, NULL }              //  no migrations: count is 0\n", out);
    for (size_t i = 0; i < count; i++) {
        fprintf (out, "    { %d, ", inputs [i].version);
        s_write_literal (out, inputs [i].name, strlen (inputs [i].name), "");
        fputs (",\n      ", out);
        s_write_literal (out, inputs [i].sql, inputs [i].size, "      ");
        fputs (" },\n", out);
    }
    fprintf (out,
             "};\n"
             "\n"
             "const size_t %s_migration_count = %zu;\n",
             service, count);
    if (fflush (out) || ferror (out))
        return -1;
    return 0;
}


//  --------------------------------------------------------------------------
//  Exits 0 with out.c written, or 1 with the reason on stderr and out.c
//  untouched.

int
main (int argc, char *argv [])
{
    if (argc < 3) {
        fputs ("usage: sb-embed-sql <service> <out.c> [NNNN_description.sql ...]\n", stderr);
        return 1;
    }
    const char *service = argv [1];
    const char *out_path = argv [2];
    if (!s_valid_service (service)) {
        s_fail ("service name '%s' is not a C identifier prefix ([a-z_][a-z0-9_]*)", service);
        return 1;
    }
    size_t count = (size_t) (argc - 3);
    s_input_t *inputs = s_alloc (NULL, count * sizeof (s_input_t));
    memset (inputs, 0, count * sizeof (s_input_t));
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++) {
        inputs [i].path = argv [3 + i];
        rc = s_parse_name (&inputs [i]);
        if (rc == 0)
            rc = s_read_file (&inputs [i]);
    }
    if (rc == 0) {
        qsort (inputs, count, sizeof (s_input_t), s_compare);
        for (size_t i = 1; i < count && rc == 0; i++)
            if (inputs [i].version == inputs [i - 1].version)
                rc = s_fail ("%s and %s have the same version %d", inputs [i - 1].path,
                             inputs [i].path, inputs [i].version);
    }
    if (rc == 0) {
        size_t size = strlen (out_path) + 32;
        char *temp_path = s_alloc (NULL, size);
        snprintf (temp_path, size, "%s.tmp.%ld", out_path, (long) getpid ());
        FILE *out = fopen (temp_path, "w");
        if (!out)
            rc = s_fail ("cannot create %s: %s", temp_path, strerror (errno));
        else {
            rc = s_write_output (out, service, inputs, count);
            if (fclose (out) != 0)
                rc = -1;
            if (rc)
                s_fail ("cannot write %s: %s", temp_path, strerror (errno));
            else if (rename (temp_path, out_path) != 0)
                rc = s_fail ("cannot rename %s to %s: %s", temp_path, out_path,
                             strerror (errno));
            if (rc)
                unlink (temp_path);
        }
        free (temp_path);
    }
    for (size_t i = 0; i < count; i++) {
        free (inputs [i].name);
        free (inputs [i].sql);
    }
    free (inputs);
    return rc == 0 ? 0 : 1;
}
