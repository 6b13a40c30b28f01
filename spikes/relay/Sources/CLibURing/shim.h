#ifndef RELAY_SPIKE_CLIBURING_SHIM_H
#define RELAY_SPIKE_CLIBURING_SHIM_H
/* liburing's submission helpers (io_uring_prep_*, io_uring_get_sqe, io_uring_cq_advance) are
   static inline functions, which Swift imports and compiles like its own code; only the ring set-up,
   submission and completion batching are calls into liburing.so. */
#include <liburing.h>
#endif
