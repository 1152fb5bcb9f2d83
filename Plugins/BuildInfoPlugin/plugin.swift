import Foundation
import PackagePlugin

/// Writes `GitBuild.swift` (the git commit the tools were built from, `-dirty` when tracked
/// files differ from it, `unknown` outside a git checkout) before each build, so `sky
/// version` and `skynetd --version` can say which build they are. The file is rewritten
/// only when its content changes, so an unchanged tree does not recompile.
@main
struct BuildInfoPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let output = context.pluginWorkDirectoryURL.appending(path: "GitBuild")
        let script = #"""
            dir="$1"; repo="$2"
            commit=$(git -C "$repo" rev-parse --short=12 HEAD 2>/dev/null) || commit=unknown
            if [ "$commit" != unknown ] && [ -n "$(git -C "$repo" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
                commit="$commit-dirty"
            fi
            new="package enum GitBuild { package static let commit = \"$commit\" }"
            mkdir -p "$dir"
            [ "$(cat "$dir/GitBuild.swift" 2>/dev/null)" = "$new" ] || printf '%s\n' "$new" > "$dir/GitBuild.swift"
            """#
        return [
            .prebuildCommand(
                displayName: "Recording the git commit of this build",
                executable: URL(fileURLWithPath: "/bin/sh"),
                arguments: ["-c", script, "sh", output.path, context.package.directoryURL.path],
                outputFilesDirectory: output)
        ]
    }
}
