import Foundation
import Logging

/// `unix_socket_mode` and `unix_socket_group` applied to the socket file once it is bound, as
/// PgBouncer does. A failure is logged, not fatal: the socket still works for its owner.
struct UnixSocketPermissions {
    var mode: Int
    var group: String

    func apply(path: String, logger: Logger) {
        if chmod(path, mode_t(mode & 0o7777)) != 0 {
            logger.warning("could not apply unix_socket_mode", metadata: ["path": "\(path)", "errno": "\(errno)"])
        }
        guard !group.isEmpty else { return }
        guard let entry = getgrnam(group) else {
            logger.warning("unix_socket_group is not a known group", metadata: ["group": "\(group)"])
            return
        }
        if chown(path, uid_t.max, entry.pointee.gr_gid) != 0 {
            logger.warning("could not apply unix_socket_group", metadata: ["path": "\(path)", "group": "\(group)", "errno": "\(errno)"])
        }
    }
}
