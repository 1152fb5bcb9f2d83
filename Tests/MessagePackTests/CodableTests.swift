import Foundation
import MessagePack
import Testing

@Suite("Codable through MessagePackEncoder / MessagePackDecoder")
struct CodableTests {
    enum Color: String, Codable, Equatable { case red, green }
    enum Shape: Codable, Equatable {
        case circle(radius: Double)
        case square(side: Int)
        case point
    }
    struct Address: Codable, Equatable {
        var street: String
        var zip: Int?
    }
    struct Person: Codable, Equatable {
        var name: String
        var age: UInt8
        var tags: [String]
        var address: Address
        var previous: [Address]
        var scores: [String: Double]
        var byID: [Int: String]
        var color: Color
        var shapes: [Shape]
        var avatar: Data
        var born: Date
        var nickname: String?
        var extra: MessagePackValue
        var big: UInt64
        var small: Int8
    }

    private let person = Person(
        name: "Ada", age: 36, tags: ["math", "engines"],
        address: .init(street: "St James's Square", zip: nil),
        previous: [.init(street: "Marylebone", zip: 1), .init(street: "Ockham", zip: 2)],
        scores: ["analysis": 9.5, "poetry": 7], byID: [1: "one", -2: "minus two"],
        color: .green, shapes: [.circle(radius: 1.5), .square(side: 2), .point],
        avatar: Data([0, 1, 2, 255]), born: Date(timeIntervalSince1970: -4_849_000_000.25),
        nickname: nil, extra: ["anything", 1, .map(["x": .binary([9])])], big: .max, small: -128)

    @Test("nested structs, enums, optionals and dictionaries round trip")
    func roundTrip() throws {
        let bytes = try MessagePackEncoder().encode(person)
        let back = try MessagePackDecoder().decode(Person.self, from: bytes)
        #expect(back == person)
    }

    @Test("structs become maps with string keys; Data becomes bin; Date a timestamp; nil keys are left out")
    func shape() throws {
        let value = try MessagePackEncoder().encodeToValue(person)
        #expect(value["name"] == "Ada")
        #expect(value["avatar"] == .binary([0, 1, 2, 255]))
        guard case .timestamp = value["born"] else { Issue.record("born is \(String(describing: value["born"]))"); return }
        #expect(value["nickname"] == nil)
        #expect(value["address"]?["zip"] == nil)
        #expect(value["big"] == .uint(.max))
    }

    @Test("a type mismatch names the coding path and the expected and found types")
    func typeMismatch() throws {
        var value = try MessagePackEncoder().encodeToValue(person)
        guard case .map(var pairs) = value else { Issue.record("not a map"); return }
        let i = pairs.firstIndex { $0.key == "previous" }!
        pairs[i].value = [["street": "ok"], ["street": 42]]
        value = .map(pairs)
        let error = #expect(throws: DecodingError.self) { try MessagePackDecoder().decode(Person.self, from: value) }
        #expect(error?.messagePackDescription == "at previous[1].street: expected String, found int 42")
    }

    @Test("out-of-range integers and missing keys are precise")
    func rangeAndMissing() throws {
        struct Small: Codable { var v: UInt8 }
        let error = #expect(throws: DecodingError.self) { try MessagePackDecoder().decode(Small.self, from: ["v": 300]) }
        #expect(error?.messagePackDescription == "at v: expected UInt8, found int 300 (out of range)")
        let missing = #expect(throws: DecodingError.self) { try MessagePackDecoder().decode(Small.self, from: .map([])) }
        #expect(missing?.messagePackDescription == "missing key \"v\"")
    }

    @Test("interop leniency: integer map keys, ints as doubles, bin as [UInt8]")
    func leniency() throws {
        struct Loose: Codable, Equatable { var d: Double; var bytes: [UInt8] }
        let loose = try MessagePackDecoder().decode(Loose.self, from: ["d": 3, "bytes": .binary([1, 2])])
        #expect(loose == Loose(d: 3, bytes: [1, 2]))
        let byID = try MessagePackDecoder().decode([Int: String].self, from: [7: "seven"])
        #expect(byID == [7: "seven"])
    }

    @Test("top-level primitives and large dictionaries")
    func primitivesAndLargeMaps() throws {
        #expect(try MessagePackDecoder().decode(String.self, from: MessagePackEncoder().encode("hi")) == "hi")
        #expect(try MessagePackDecoder().decode([Int?].self, from: MessagePackEncoder().encode([1, nil, 3])) == [1, nil, 3])
        let dict = Dictionary(uniqueKeysWithValues: (0..<5000).map { ("k\($0)", $0) })
        #expect(try MessagePackDecoder().decode([String: Int].self, from: MessagePackEncoder().encode(dict)) == dict)
    }
}
