// Header-only module (include/cavx512bf16.h); SwiftPM needs one source file.
#include "cavx512bf16.h"
