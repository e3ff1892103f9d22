#include <curl/curl.h>
// Variadic curl_easy_setopt / getinfo are not callable from Swift: typed wrappers.
static inline CURLcode arc_curl_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode arc_curl_setopt_ptr(CURL *h, CURLoption o, const void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode arc_curl_setopt_off(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode arc_curl_getinfo_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode arc_curl_getinfo_off(CURL *h, CURLINFO i, curl_off_t *v) { return curl_easy_getinfo(h, i, v); }
typedef size_t (*arc_curl_write_cb)(char *, size_t, size_t, void *);
typedef int (*arc_curl_xfer_cb)(void *, curl_off_t, curl_off_t, curl_off_t, curl_off_t);
static inline CURLcode arc_curl_setopt_write(CURL *h, arc_curl_write_cb f) { return curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, f); }
static inline CURLcode arc_curl_setopt_header(CURL *h, arc_curl_write_cb f) { return curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, f); }
static inline CURLcode arc_curl_setopt_xfer(CURL *h, arc_curl_xfer_cb f) { return curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, f); }
