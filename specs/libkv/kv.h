/* libkv: read "key = value" configuration files. */
#ifndef KV_H
#define KV_H

/* Looks up `key` in the file at `path`. Returns a newly allocated copy of its value, or NULL
 * when the file cannot be read or has no such key. Blank lines and lines starting with '#'
 * are skipped; spaces around keys and values are trimmed. */
char *kv_get(const char *path, const char *key);

/* The library's version, e.g. "1.0". */
const char *kv_version(void);

#endif
