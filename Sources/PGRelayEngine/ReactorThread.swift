#if os(Linux)
import CEngineLinux
import Glibc

/// A POSIX thread running one closure: a reactor's loop.
///
/// The engine starts its threads itself (rather than through Foundation's `Thread`) so that the
/// library depends on nothing but NIOCore and Glibc, and so that the thread can be joined.
struct ReactorThread {
    private let handle: pthread_t

    /// Starts `body` on a new thread named `name` (at most 15 bytes are kept, Linux's limit).
    static func start(name: String, _ body: @escaping () -> Void) throws -> ReactorThread {
        final class Start {
            let name: String
            let body: () -> Void
            init(name: String, body: @escaping () -> Void) {
                self.name = name
                self.body = body
            }
        }
        let start = Unmanaged.passRetained(Start(name: name, body: body))
        var handle = pthread_t()
        let result = pthread_create(&handle, nil, { argument in
            let start = Unmanaged<Start>.fromOpaque(argument!).takeRetainedValue()
            // Linux keeps 15 bytes; a longer name makes the call fail (ERANGE), which only
            // costs the name.
            _ = pthread_setname_np(pthread_self(), String(decoding: start.name.utf8.prefix(15), as: UTF8.self))
            start.body()
            return nil
        }, start.toOpaque())
        guard result == 0 else {
            start.release()
            throw SystemCallError("pthread_create", code: result)
        }
        return ReactorThread(handle: handle)
    }

    /// Waits for the thread to end. Once per thread, never from the thread itself.
    func join() {
        _ = pthread_join(handle, nil)
    }
}
#endif
