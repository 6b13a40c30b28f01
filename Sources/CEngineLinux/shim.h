#ifndef PGRELAY_CENGINELINUX_SHIM_H
#define PGRELAY_CENGINELINUX_SHIM_H
/* The Linux-only parts of glibc that the relay engine needs and Swift's Glibc module leaves out. */
#ifdef __linux__
#include <sys/epoll.h>
#include <sys/eventfd.h>

/* glibc declares accept4 only under _GNU_SOURCE, which Swift's Glibc module is not built with.
   Declared here by hand (socklen_t is an unsigned int) rather than by including <sys/socket.h>
   with _GNU_SOURCE, which would take the socket constants out of the Glibc module for every file
   that imports this one. */
struct sockaddr;
int accept4(int fd, struct sockaddr *address, unsigned int *address_length, int flags);

/* Also _GNU_SOURCE only: names a reactor's thread for top -H, perf and gdb (pthread_t is an
   unsigned long on Linux). */
int pthread_setname_np(unsigned long thread, const char *name);
#endif
#endif
