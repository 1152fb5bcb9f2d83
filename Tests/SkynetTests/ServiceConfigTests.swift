import Foundation
import MessagePack
import Skynet
import Testing

@Suite("Service configuration: code, environment, Go-style flags")
struct ServiceConfigTests {
    @Test("flags win over SKYNET_* variables, which win over code")
    func precedence() throws {
        let code = try ServiceConfig(name: "echo", version: "1", region: "us", serviceAddress: "127.0.0.1:9000-9099")
        let environment = ["SKYNET_REGION": "eu", "SKYNET_VERSION": "2", "SKYNET_COORDINATORS": "10.0.0.1:8046,10.0.0.2:8046"]
        let config = try code.overriding(environment: environment, arguments: ["-version=3", "-l", "127.0.0.1:9500"])
        #expect(config.name == "echo")
        #expect(config.region == "eu")
        #expect(config.version == "3")
        #expect(config.serviceAddress == AddressRange(host: "127.0.0.1", ports: 9500...9500))
        #expect(config.coordinators == ["10.0.0.1:8046", "10.0.0.2:8046"])
        #expect(config.instancePath(port: 9500) == "/skynet/services/echo/3/eu/127.0.0.1/9500")
    }

    @Test("-flag=value, -flag value and --flag value are the same")
    func spellings() throws {
        for arguments in [["-region=us"], ["-region", "us"], ["--region", "us"], ["--region=us"]] {
            let flags = try GoFlags(arguments, known: ServiceConfig.flags)
            #expect(flags["region"] == "us", "\(arguments)")
        }
        let mixed = try GoFlags(["serve", "-name=a", "-yes", "extra"], known: ["name"], booleans: ["yes"])
        #expect(mixed.positional == ["serve", "extra"])
        #expect(mixed["yes"] == "true")
    }

    @Test("bad values name the field, variable or flag at fault")
    func errors() throws {
        #expect(throws: ServiceConfigError(field: "name", "\"echo service\" cannot be a path segment: segments may only use A-Z a-z 0-9 . _ - (found ' ')")) {
            try ServiceConfig(name: "echo service")
        }
        #expect(throws: ServiceConfigError(field: "version", "must not be empty")) { try ServiceConfig(name: "echo", version: "") }
        #expect(throws: ServiceConfigError(field: "region", "\"..\" cannot be a path segment: segments . and .. are not allowed")) {
            try ServiceConfig(name: "echo", region: "..")
        }
        let base = try ServiceConfig(name: "echo")
        #expect(throws: ServiceConfigError.self) { try base.overriding(environment: ["SKYNET_REGION": "us/east"]) }
        do {
            _ = try base.overriding(environment: ["SKYNET_REGION": "us/east"])
            Issue.record("a region that cannot be a path segment was accepted")
        } catch {
            #expect(error.field == "SKYNET_REGION")
        }
        #expect(throws: ServiceConfigError(field: "-l", "port range 9999-9000 is empty: the low port must come first")) {
            try base.overriding(environment: [:], arguments: ["-l=127.0.0.1:9999-9000"])
        }
        #expect(throws: ServiceConfigError.self) { try base.overriding(environment: [:], arguments: ["-l=127.0.0.1:99999"]) }
        do {
            _ = try base.overriding(environment: [:], arguments: ["-nmae=echo"])
            Issue.record("an unknown flag was accepted")
        } catch {
            #expect(error.field == "-nmae")
            #expect(error.message.contains("-name"), "the known flags are listed: \(error.message)")
        }
        #expect(throws: ServiceConfigError(field: "-region", "needs a value: -region=VALUE or -region VALUE")) {
            try base.overriding(environment: [:], arguments: ["-region"])
        }
    }

    @Test("host:port addresses")
    func hostPort() throws {
        let v4 = try #require(HostPort("127.0.0.1:8046"))
        #expect(v4.host == "127.0.0.1" && v4.port == 8046 && v4.description == "127.0.0.1:8046")
        #expect(HostPort("::1:9000")?.host == "::1")
        for bad in ["8046", ":8046", "host:", "host:port", "host:70000"] { #expect(HostPort(bad) == nil, "\(bad)") }
        #expect(throws: ServiceConfigError.self) { try ServiceConfig(name: "echo", coordinators: ["nowhere"]) }
    }

    @Test("instance paths and globs")
    func paths() {
        #expect(ServicePath.glob(name: "echo", region: "us") == "/skynet/services/echo/*/us/*/*")
        #expect(ServicePath.glob() == "/skynet/services/*/*/*/*/*")
        let parsed = ServicePath.parse("/skynet/services/echo/1/us/host-a/9001")
        #expect(parsed?.name == "echo" && parsed?.host == "host-a" && parsed?.port == 9001)
        #expect(ServicePath.parse("/skynet/services/echo/1/us/host-a") == nil)
    }
}

@Suite("ServiceInfo")
struct ServiceInfoTests {
    @Test("round-trips through MessagePack with its field names, and knows its registry path")
    func roundTrip() throws {
        let info = ServiceInfo(
            uuid: "0b7e4a3c", name: "echo", version: "1", region: "us", host: "host-a", serviceAddress: "127.0.0.1:9001",
            adminAddress: "127.0.0.1:9002", pid: 4242, started: Date(timeIntervalSince1970: 1_700_000_000), registered: true,
            metadata: ["tier": "gold"])
        let bytes = try MessagePackEncoder().encode(info)
        #expect(try MessagePackDecoder().decode(ServiceInfo.self, from: bytes) == info)
        let map = try MessagePackDecoder().decode(MessagePackValue.self, from: bytes)
        #expect(map["serviceAddress"] == "127.0.0.1:9001")
        #expect(map["registered"] == true)
        #expect(info.path == "/skynet/services/echo/1/us/host-a/9001")
    }
}
