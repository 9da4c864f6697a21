/* yajl_error.c - yajl's error text as one line (see util.h). */
#include "util.h"

#include <stdio.h>
#include <string.h>
#include <yajl/yajl_parse.h>

const char *util_yajl_error(void *h, char *buf, size_t cap)
{
    unsigned char *msg = yajl_get_error((yajl_handle)h, 0, NULL, 0);
    size_t n;

    if (cap == 0)
        return buf;
    buf[0] = '\0';
    if (msg == NULL)
        return buf;
    snprintf(buf, cap, "%s", (const char *)msg);
    yajl_free_error((yajl_handle)h, msg);
    n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = '\0';
    return buf;
}
