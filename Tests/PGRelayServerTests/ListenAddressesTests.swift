import NIOCore
import XCTest
@testable import PGRelayServer

/// listen_addr as the listeners' addresses.
final class ListenAddressesTests: XCTestCase {
    func testNumericAddressesAreTakenAsTheyAre() throws {
        let addresses = try ListenAddresses.resolve(["127.0.0.1", "::1"], port: 6432)
        XCTAssertEqual(addresses.map(\.ipAddress), ["127.0.0.1", "::1"])
        XCTAssertEqual(addresses.map(\.port), [6432, 6432])
    }

    func testStarListensOnEveryIPv4AddressAndEveryIPv6OneWhereThereIsIPv6() throws {
        let addresses = try ListenAddresses.resolve(["*"], port: 5000)
        XCTAssertEqual(addresses.first?.ipAddress, "0.0.0.0")
        XCTAssertLessThanOrEqual(addresses.count, 2)
        if addresses.count == 2 { XCTAssertEqual(addresses[1].ipAddress, "::") }
    }

    func testANameIsLookedUpAndAnAddressListedTwiceGetsOneListener() throws {
        let addresses = try ListenAddresses.resolve(["localhost", "127.0.0.1"], port: 7000)
        XCTAssertTrue(addresses.contains { $0.ipAddress == "127.0.0.1" })
        XCTAssertEqual(addresses.filter { $0.ipAddress == "127.0.0.1" }.count, 1)
    }

    func testANameThatDoesNotResolveIsAnError() {
        XCTAssertThrowsError(try ListenAddresses.resolve(["no-such-host.invalid"], port: 1)) { error in
            XCTAssertTrue("\(error)".contains("could not resolve no-such-host.invalid"), "\(error)")
        }
    }

    func testAPortCanBeSetOnAResolvedAddress() throws {
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: 0).withPort(6543)
        XCTAssertEqual(address.port, 6543)
    }
}
