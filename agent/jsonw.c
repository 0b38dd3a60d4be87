/* jsonw: the agent's json-c helpers (see jsonw.h). */
#include "agent/jsonw.h"

#include <errno.h>

void
jsonw_put(struct json_object *o, const char *key, struct json_object *v, bool *ok)
{
	if (o == NULL || v == NULL || json_object_object_add(o, key, v) != 0) {
		json_object_put(v);
		*ok = false;
	}
}

void
jsonw_put_null(struct json_object *o, const char *key, bool *ok)
{
	if (o == NULL || json_object_object_add(o, key, NULL) != 0)
		*ok = false;
}

void
jsonw_push(struct json_object *a, struct json_object *v, bool *ok)
{
	if (a == NULL || v == NULL || json_object_array_add(a, v) != 0) {
		json_object_put(v);
		*ok = false;
	}
}

int
jsonw_uint(struct json_object *v, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t u;

	if (!json_object_is_type(v, json_type_int))
		return -EINVAL;
	/* the sign test first: get_uint64 of a negative value is 0 */
	if (json_object_get_int64(v) < 0)
		return -EINVAL;
	u = json_object_get_uint64(v);
	if (u < min || u > max)
		return -EINVAL;
	*out = u;
	return 0;
}
