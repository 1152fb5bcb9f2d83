/// Turns the seed's Go-style flags into the double-dash form swift-argument-parser reads:
/// `-region=us` and `-region us` become `--region=us` and `--region us`. Single-letter
/// flags (`-h`), `--` flags, `-` alone and negative numbers are left as they are, and
/// everything after `--` is passed through untouched.
package enum GoStyleArguments {
    package static func normalize(_ arguments: [String]) -> [String] {
        var out: [String] = []
        var passthrough = false
        for argument in arguments {
            if passthrough || argument == "--" {
                passthrough = true
                out.append(argument)
                continue
            }
            guard argument.hasPrefix("-"), !argument.hasPrefix("--") else {
                out.append(argument)
                continue
            }
            let name = argument.dropFirst().prefix { $0 != "=" }
            if name.count >= 2, name.first!.isLetter {
                out.append("-" + argument)
            } else {
                out.append(argument)
            }
        }
        return out
    }
}
