#include "kv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    char *end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1])) *--end = '\0';
    return s;
}

char *kv_get(const char *path, const char *key) {
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char line[1024];
    char *found = NULL;
    while (!found && fgets(line, sizeof line, f)) {
        char *text = trim(line);
        char *eq = strchr(text, '=');
        if (*text == '#' || !eq) continue;
        *eq = '\0';
        if (strcmp(trim(text), key) == 0) found = strdup(trim(eq + 1));
    }
    fclose(f);
    return found;
}

const char *kv_version(void) { return KV_VERSION; }
