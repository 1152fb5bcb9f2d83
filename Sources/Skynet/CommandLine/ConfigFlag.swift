/// One command-line flag of a configuration: the flag, the `SKYNET_*` variable it
/// overrides, and the words its help line uses.
package struct ConfigFlag: Sendable {
    /// The flag without dashes (`l`, `coordinators`).
    package var name: String
    /// The environment variable it overrides.
    package var variable: String
    /// How its value is written (`HOST:PORT[-PORT]`).
    package var value: String
    /// What it sets.
    package var help: String

    package init(_ name: String, _ variable: String, value: String, help: String) {
        self.name = name
        self.variable = variable
        self.value = value
        self.help = help
    }
}
