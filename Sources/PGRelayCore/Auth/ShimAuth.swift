// TEMPORARY compile shim for the lead's server work; replaced by the auth branch at merge.
public enum StoredSecret: Sendable { case plain(String), md5(String), scram(SCRAMSecret)
  public init(parsing: String) { self = .plain(parsing) } }
public struct SCRAMSecret: Sendable { public var iterations: Int; public var salt: [UInt8]; public var storedKey: [UInt8]; public var serverKey: [UInt8] }
public enum AuthFile { public static func load(path: String) throws -> [String: String] { [:] } }
public enum MD5Password {
  public static func hash(password: String, user: String) -> String { "" }
  public static func response(hashedSecret: String, salt: [UInt8]) -> String { "" }
  public static func verify(clientResponse: String, secret: StoredSecret, user: String, salt: [UInt8]) -> Bool { false }
}
public enum SCRAMCredential: Sendable { case password(String); case keys(clientKey: [UInt8], serverKey: [UInt8]) }
public struct SCRAMClientExchange { public init(username: String, credential: SCRAMCredential) {}
  public func clientFirstMessage() -> [UInt8] { [] }
  public mutating func receiveServerFirst(_ m: [UInt8]) throws -> [UInt8] { [] }
  public mutating func receiveServerFinal(_ m: [UInt8]) throws {} }
public struct SCRAMServerExchange { public init(username: String, secret: StoredSecret) throws {}
  public mutating func receiveClientFirst(_ m: [UInt8]) throws -> [UInt8] { [] }
  public mutating func receiveClientFinal(_ m: [UInt8]) throws -> [UInt8] { [] }
  public var recoveredClientKey: [UInt8]? { nil }; public var serverKey: [UInt8]? { nil } }
extension SCRAMSecret { public func matches(password: String) -> Bool { false } }
