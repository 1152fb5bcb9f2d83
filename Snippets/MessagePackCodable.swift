// MessagePack on its own: Codable types to bytes and back, through libmsgpack-c.
import MessagePack

struct Reading: Codable, Equatable {
    var sensor: String
    var celsius: Double
    var tags: [String: String]
}

let reading = Reading(sensor: "north-1", celsius: 21.5, tags: ["room": "lab"])
let bytes = try MessagePackEncoder().encode(reading)                 // a MessagePack map
let back = try MessagePackDecoder().decode(Reading.self, from: bytes)
let value = try MessagePackDecoder().decode(MessagePackValue.self, from: bytes)   // untyped
print(bytes.count, back == reading, value["sensor"]?.stringValue ?? "")
