import Foundation

/// PgBouncer's `pidfile`: refuses to start while the process it names is alive, replaces a
/// stale one, holds our pid while we run and is removed at exit.
struct PidFile {
    let path: String

    struct AlreadyRunning: Error, CustomStringConvertible {
        let path: String
        let pid: pid_t
        var description: String { "pidfile \(path) names running process \(pid): is pgrelay already running?" }
    }

    struct WriteFailed: Error, CustomStringConvertible {
        let path: String
        let reason: String
        var description: String { "could not write pidfile \(path): \(reason)" }
    }

    /// The pid in the file, when it holds one.
    func recordedPID() -> pid_t? {
        guard let data = FileManager.default.contents(atPath: path), data.count < 64,
              let text = String(data: data, encoding: .utf8) else { return nil }
        return pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Throws when the recorded process is alive (and is not this one).
    func ensureNotRunning() throws {
        guard let pid = recordedPID(), pid > 0, pid != getpid() else { return }
        if kill(pid, 0) == 0 || errno == EPERM {
            throw AlreadyRunning(path: path, pid: pid)
        }
    }

    /// Writes this process's pid, replacing any stale file.
    func write() throws {
        try ensureNotRunning()
        let temporary = path + ".tmp.\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: Data("\(getpid())\n".utf8),
                                             attributes: [.posixPermissions: 0o644]) else {
            throw WriteFailed(path: path, reason: String(cString: strerror(errno)))
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw WriteFailed(path: path, reason: reason)
        }
    }

    /// Removes the file if it still holds our pid (a successor may have replaced it).
    func remove() {
        if recordedPID() == getpid() { unlink(path) }
    }
}
