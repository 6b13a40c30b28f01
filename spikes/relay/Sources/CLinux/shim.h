#ifndef RELAY_SPIKE_CLINUX_SHIM_H
#define RELAY_SPIKE_CLINUX_SHIM_H
/* The Linux-only parts of glibc that Swift's Glibc module leaves out. */
#include <sys/epoll.h>

/* glibc declares accept4 only under _GNU_SOURCE, which Swift's Glibc module is not built with.
   Declared here by hand (socklen_t is an unsigned int) rather than by including <sys/socket.h>,
   which would take the socket constants out of the Glibc module for every file that does not
   import this one. */
struct sockaddr;
int accept4(int fd, struct sockaddr *address, unsigned int *address_length, int flags);
#endif
