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

/* The relay's reads and writes as plain system calls. glibc's read, send and sendmsg are
   pthread cancellation points: in a process with more than one thread each call brackets the
   system call with __pthread_enable_asynccancel and __pthread_disable_asynccancel, ~190
   instructions per relayed transaction (callgrind, 2026-12-04). No thread of pgrelay is ever
   cancelled, so the bracket buys nothing; syscall(2) makes the same system call without it and
   returns -1 with errno set, as the wrappers do. (send is sendto without an address.) */
#include <sys/syscall.h>
struct msghdr;
long syscall(long number, ...);
static inline long pgrelay_read(int fd, void *buffer, unsigned long count) {
    return syscall(SYS_read, fd, buffer, count);
}
static inline long pgrelay_send(int fd, const void *bytes, unsigned long count, int flags) {
    return syscall(SYS_sendto, fd, bytes, count, flags, (void *)0, 0);
}
static inline long pgrelay_sendmsg(int fd, const struct msghdr *message, int flags) {
    return syscall(SYS_sendmsg, fd, message, flags);
}
#endif
#endif
