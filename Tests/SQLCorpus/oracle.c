/*
 * The libpg_query oracle for pgrelay's SQL corpus (not part of the Swift package).
 * Reads NUL-separated statements on stdin; for each writes three NUL-terminated fields to
 * stdout: pg_query_normalize's output (or "ERROR: ..."), pg_query_parse's JSON tree (or
 * "ERROR: ..."), and an empty separator field.
 * Build: cc -O1 -o oracle oracle.c -lpg_query
 */
#include <pg_query.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void emit(const char *text) {
    fputs(text, stdout);
    fputc('\0', stdout);
}

static void emit_error(const PgQueryError *error) {
    fputs("ERROR: ", stdout);
    emit(error->message ? error->message : "unknown");
}

int main(void) {
    size_t capacity = 1 << 20, length = 0;
    char *input = malloc(capacity);
    size_t got;
    while ((got = fread(input + length, 1, capacity - length - 1, stdin)) > 0) {
        length += got;
        if (capacity - length < 2) {
            capacity *= 2;
            input = realloc(input, capacity);
        }
    }
    input[length] = '\0';
    for (size_t start = 0; start < length;) {
        const char *statement = input + start;
        size_t statement_length = strlen(statement);
        PgQueryNormalizeResult normalized = pg_query_normalize(statement);
        if (normalized.error) emit_error(normalized.error); else emit(normalized.normalized_query);
        pg_query_free_normalize_result(normalized);
        PgQueryParseResult parsed = pg_query_parse(statement);
        if (parsed.error) emit_error(parsed.error); else emit(parsed.parse_tree);
        pg_query_free_parse_result(parsed);
        emit("");
        start += statement_length + 1;
    }
    free(input);
    return 0;
}
