/* kvget: print the value of a key from a "key = value" file (default /etc/kv/kv.conf). */
#include <kv.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    const char *path = "/etc/kv/kv.conf";
    int arg = 1;
    if (argc > 2 && strcmp(argv[1], "-f") == 0) {
        path = argv[2];
        arg = 3;
    }
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("kvget with libkv %s\n", kv_version());
        return 0;
    }
    if (arg != argc - 1) {
        fprintf(stderr, "usage: kvget [-f FILE] KEY\n");
        return 2;
    }
    char *value = kv_get(path, argv[arg]);
    if (!value) {
        fprintf(stderr, "kvget: %s: no key %s\n", path, argv[arg]);
        return 1;
    }
    puts(value);
    free(value);
    return 0;
}
