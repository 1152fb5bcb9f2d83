import Foundation

/// Renders an ordered list of figures as one JSON object, keys in the order given.
enum JSONReport {
    static func render(_ fields: [(String, Any)]) -> String {
        let parts = fields.map { key, value -> String in
            let rendered: String
            switch value {
            case let b as Bool: rendered = b ? "true" : "false"
            case let s as String: rendered = "\"\(s)\""
            default: rendered = "\(value)"
            }
            return "\"\(key)\": \(rendered)"
        }
        return "{" + parts.joined(separator: ", ") + "}"
    }
}
