/// Type bytes of the v3 regular messages. Frontend and backend share some letters with different
/// meanings, so they live in two namespaces.
///
/// Inlinable constants rather than `static let`s: a stored static in another module is read
/// through an accessor call with a once-check, ~200 instructions per relayed transaction in the
/// relay's per-message switches (callgrind, 2026-12-04); inlined, each is an immediate.
public enum FrontendType {
    @inlinable public static var bind: UInt8 { UInt8(ascii: "B") }
    @inlinable public static var close: UInt8 { UInt8(ascii: "C") }
    @inlinable public static var copyData: UInt8 { UInt8(ascii: "d") }
    @inlinable public static var copyDone: UInt8 { UInt8(ascii: "c") }
    @inlinable public static var copyFail: UInt8 { UInt8(ascii: "f") }
    @inlinable public static var describe: UInt8 { UInt8(ascii: "D") }
    @inlinable public static var execute: UInt8 { UInt8(ascii: "E") }
    @inlinable public static var flush: UInt8 { UInt8(ascii: "H") }
    @inlinable public static var functionCall: UInt8 { UInt8(ascii: "F") }
    @inlinable public static var parse: UInt8 { UInt8(ascii: "P") }
    /// PasswordMessage, SASLInitialResponse, SASLResponse, GSSResponse all use 'p'.
    @inlinable public static var password: UInt8 { UInt8(ascii: "p") }
    @inlinable public static var query: UInt8 { UInt8(ascii: "Q") }
    @inlinable public static var sync: UInt8 { UInt8(ascii: "S") }
    @inlinable public static var terminate: UInt8 { UInt8(ascii: "X") }
}

public enum BackendType {
    @inlinable public static var authentication: UInt8 { UInt8(ascii: "R") }
    @inlinable public static var backendKeyData: UInt8 { UInt8(ascii: "K") }
    @inlinable public static var bindComplete: UInt8 { UInt8(ascii: "2") }
    @inlinable public static var closeComplete: UInt8 { UInt8(ascii: "3") }
    @inlinable public static var commandComplete: UInt8 { UInt8(ascii: "C") }
    @inlinable public static var copyData: UInt8 { UInt8(ascii: "d") }
    @inlinable public static var copyDone: UInt8 { UInt8(ascii: "c") }
    @inlinable public static var copyInResponse: UInt8 { UInt8(ascii: "G") }
    @inlinable public static var copyOutResponse: UInt8 { UInt8(ascii: "H") }
    @inlinable public static var copyBothResponse: UInt8 { UInt8(ascii: "W") }
    @inlinable public static var dataRow: UInt8 { UInt8(ascii: "D") }
    @inlinable public static var emptyQueryResponse: UInt8 { UInt8(ascii: "I") }
    @inlinable public static var errorResponse: UInt8 { UInt8(ascii: "E") }
    @inlinable public static var functionCallResponse: UInt8 { UInt8(ascii: "V") }
    @inlinable public static var negotiateProtocolVersion: UInt8 { UInt8(ascii: "v") }
    @inlinable public static var noData: UInt8 { UInt8(ascii: "n") }
    @inlinable public static var noticeResponse: UInt8 { UInt8(ascii: "N") }
    @inlinable public static var notificationResponse: UInt8 { UInt8(ascii: "A") }
    @inlinable public static var parameterDescription: UInt8 { UInt8(ascii: "t") }
    @inlinable public static var parameterStatus: UInt8 { UInt8(ascii: "S") }
    @inlinable public static var parseComplete: UInt8 { UInt8(ascii: "1") }
    @inlinable public static var portalSuspended: UInt8 { UInt8(ascii: "s") }
    @inlinable public static var readyForQuery: UInt8 { UInt8(ascii: "Z") }
    @inlinable public static var rowDescription: UInt8 { UInt8(ascii: "T") }
}

/// Transaction status carried by ReadyForQuery.
public enum TransactionStatus: UInt8, Sendable {
    case idle = 73 // 'I'
    case inTransaction = 84 // 'T'
    case failed = 69 // 'E'
}
