import FuzzSupport
@testable import PGRelayCore

/// Both sides of SCRAM-SHA-256. The input is up to four NUL-separated payloads (SCRAM messages
/// never hold a NUL): client-first and client-final for the proxy's server side, server-first and
/// server-final for its client side.
///
/// So that the fuzzer gets past the nonce and proof checks into the rest of the parser, `%n` in
/// the client-final stands for the combined nonce the server sent, and a client-final ending in
/// `,p=%p` gets the correct proof for everything before it. Properties: only `AuthError`s are
/// thrown; a correct proof over a message the server accepted up to the proof is accepted.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSCRAM(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let parts = fuzzParts(UnsafeRawBufferPointer(start: start, count: count), separator: 0, limit: 4)
    serverSide(clientFirst: parts[0], clientFinal: parts.count > 1 ? parts[1] : [])
    if parts.count > 2 { clientSide(serverFirst: parts[2], serverFinal: parts.count > 3 ? parts[3] : []) }
    return 0
}

/// The secret of password "pencil", derived once (PBKDF2 is too slow to run per input).
private let saltedPassword = try! PBKDF2Cache.shared.saltedPassword(
    password: Array("pencil".utf8), salt: Array("fuzz-salt-16byte".utf8), iterations: 4096)
private let clientKey = SCRAMPrimitives.clientKey(saltedPassword: saltedPassword)
private let secret = SCRAMSecret.make(saltedPassword: saltedPassword, salt: Array("fuzz-salt-16byte".utf8), iterations: 4096)

private func serverSide(clientFirst: [UInt8], clientFinal: [UInt8]) {
    var exchange = try! SCRAMServerExchange(username: "fuzz", secret: .scram(secret), nonce: "serverNONCE")
    let serverFirst: [UInt8]
    do {
        serverFirst = try exchange.receiveClientFirst(clientFirst)
    } catch {
        fuzzRequire(error is AuthError, "client-first: unexpected error \(error)")
        return
    }
    let serverFirstText = String(decoding: serverFirst, as: UTF8.self)
    let combinedNonce = serverFirstText.split(separator: ",")[0].dropFirst(2)
    var final = String(decoding: clientFinal, as: UTF8.self).replacing("%n", with: combinedNonce)
    var proofIsCorrect = false
    if final.hasSuffix(",p=%p") {
        // The bare part of the client-first: after the GS2 header's second comma.
        let firstText = String(decoding: clientFirst, as: UTF8.self)
        let bare = firstText.split(separator: ",", maxSplits: 2, omittingEmptySubsequences: false).last ?? ""
        let withoutProof = final.dropLast(5)
        let authMessage = Array("\(bare),\(serverFirstText),\(withoutProof)".utf8)
        let proof = SCRAMPrimitives.xor(clientKey, SCRAMPrimitives.hmac(key: secret.storedKey, authMessage))
        final = "\(withoutProof),p=\(SCRAMPrimitives.base64(proof))"
        proofIsCorrect = true
    }
    do {
        _ = try exchange.receiveClientFinal(Array(final.utf8))
        fuzzRequire(exchange.isComplete, "accepted without completing")
        fuzzRequire(exchange.recoveredClientKey == clientKey, "accepted a proof of another key")
    } catch let error as AuthError {
        fuzzRequire(!(proofIsCorrect && error == .wrongPassword(user: "fuzz")), "a correct proof was refused")
    } catch {
        fuzzRequire(false, "client-final: unexpected error \(error)")
    }
}

private func clientSide(serverFirst: [UInt8], serverFinal: [UInt8]) {
    let credential = SCRAMCredential.keys(
        clientKey: clientKey, serverKey: secret.serverKey, salt: secret.salt, iterations: secret.iterations)
    var exchange = try! SCRAMClientExchange(username: "fuzz", credential: credential, nonce: "clientNONCE")
    do {
        _ = try exchange.receiveServerFirst(serverFirst)
        try exchange.receiveServerFinal(serverFinal)
    } catch {
        fuzzRequire(error is AuthError, "server message: unexpected error \(error)")
    }
}

runLibFuzzer()
