import Foundation

/// `-d/--daemon`: the process re-executes itself detached (new session, standard streams on
/// /dev/null) and waits until the child has written the pidfile, so that the exit status tells
/// whether the daemon started. Re-executing instead of forking keeps fork() away from a process
/// that may already run threads (Dispatch, NIO).
enum Daemon {
    /// Set in the child's environment; its presence means "you are the daemon".
    static let childMarker = "PGRELAY_DAEMON_CHILD"
    /// How long the parent waits for the child to start listening.
    static let startupWait: TimeInterval = 60

    static var isChild: Bool { ProcessInfo.processInfo.environment[childMarker] == "1" }

    struct StartFailed: Error, CustomStringConvertible {
        let description: String
    }

    /// Called first thing in the child: leaves the parent's session and terminal.
    static func detach() {
        _ = setsid()
    }

    /// Starts the daemon child and returns once it has written `pidfile` (its pid), or throws
    /// when it exited or did not start in time.
    static func spawn(pidfile: PidFile) throws -> pid_t {
        var fileActions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fileActions)
        defer { posix_spawn_file_actions_destroy(&fileActions) }
        for descriptor: Int32 in [0, 1, 2] {
            posix_spawn_file_actions_addopen(&fileActions, descriptor, "/dev/null", descriptor == 0 ? O_RDONLY : O_WRONLY, 0)
        }
        var environment = ProcessInfo.processInfo.environment
        environment[childMarker] = "1"
        let arguments = CommandLine.arguments
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, "/proc/self/exe", &fileActions, nil, argv, envp)
        guard status == 0 else {
            throw StartFailed(description: "could not start the daemon process: \(String(cString: strerror(status)))")
        }
        let deadline = Date().addingTimeInterval(startupWait)
        while Date() < deadline {
            var exitStatus: Int32 = 0
            if waitpid(pid, &exitStatus, WNOHANG) == pid {
                throw StartFailed(description: "the daemon process exited during startup (see logfile)")
            }
            if pidfile.recordedPID() == pid { return pid }
            usleep(20_000)
        }
        throw StartFailed(description: "the daemon process did not start within \(Int(startupWait)) s (see logfile)")
    }
}

/// `-u user`: drops to that OS user (its groups, then its uid) before sockets and the logfile are opened.
enum UserSwitch {
    struct Failed: Error, CustomStringConvertible {
        let description: String
    }

    static func become(_ name: String) throws {
        guard let entry = getpwnam(name) else { throw Failed(description: "-u: no such OS user \"\(name)\"") }
        let uid = entry.pointee.pw_uid
        let gid = entry.pointee.pw_gid
        if getuid() == uid, geteuid() == uid { return }
        guard initgroups(name, gid) == 0, setgid(gid) == 0, setuid(uid) == 0 else {
            throw Failed(description: "-u: could not switch to \"\(name)\": \(String(cString: strerror(errno)))")
        }
    }
}
