/*
 * jsonw: the agent's json-c helpers, one copy for every file here that builds or reads
 * JSON. Building keeps a sticky *ok instead of a return code per call: json-c does not take
 * a child whose add failed, so it is released here and *ok goes false, and the caller
 * checks once at the end. Reading integers knows json-c's quirk: a value above INT64_MAX is
 * kept as a uint64, and get_int64 reports it as INT64_MAX.
 */
#ifndef WATCH53_JSONW_H
#define WATCH53_JSONW_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

/* o[key] = v; v NULL is an allocation failure. */
void jsonw_put(struct json_object *o, const char *key, struct json_object *v, bool *ok);
/* o[key] = null */
void jsonw_put_null(struct json_object *o, const char *key, bool *ok);
/* a[] += v; v NULL is an allocation failure. */
void jsonw_push(struct json_object *a, struct json_object *v, bool *ok);
/* v an integer in [min, max] (any of 0 .. UINT64_MAX): 0 with *out, else -EINVAL. */
int jsonw_uint(struct json_object *v, uint64_t min, uint64_t max, uint64_t *out);

#endif
