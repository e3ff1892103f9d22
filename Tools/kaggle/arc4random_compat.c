/* arc4random_buf for C libraries older than glibc 2.36, bundled by scripts/kaggle-bundle.
 *
 * Debian 12's libarchive calls arc4random_buf, which glibc provides from 2.36 on; the Kaggle image
 * may have an older glibc. The bundle marks libarchive's need for GLIBC_2.36 as weak, leaves its
 * arc4random_buf reference unversioned and adds this library to libarchive's dependencies: with a
 * newer glibc the C library's definition is found first, with an older one this one is used. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/random.h>

void arc4random_buf(void *buffer, size_t length) {
    unsigned char *bytes = buffer;
    while (length > 0) {
        ssize_t got = getrandom(bytes, length, 0);
        if (got < 0) {
            if (errno == EINTR) continue;
            abort(); /* no entropy source: glibc's arc4random_buf also terminates */
        }
        bytes += got;
        length -= (size_t)got;
    }
}
