#if os(Linux)
import Glibc

/// A value guarded by a pthread mutex.
///
/// Rather than the standard library's `Synchronization.Mutex`: that one locks with futexes in
/// uninstrumented standard-library code, so ThreadSanitizer sees no ordering between a task
/// queued on one thread and run on the reactor's, and reports every handoff as a race
/// (`scripts/test --sanitize thread`). ThreadSanitizer intercepts pthread mutexes. Uncontended,
/// both cost about the same.
final class LockedValue<Value>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        let result = pthread_mutex_init(mutex, nil)
        precondition(result == 0, "pthread_mutex_init: \(result)")
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
#endif
