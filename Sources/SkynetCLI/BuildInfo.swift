/// Which Skynet this is: the release and the git commit it was built from.
package enum BuildInfo {
    /// The release of the platform.
    package static let version = "0.5.0"

    /// The git commit of the build (`-dirty` with local changes; `unknown` outside git).
    package static var commit: String { GitBuild.commit }

    /// `0.5.0 (commit 1a2b3c4d5e6f)`.
    package static var description: String { "\(version) (commit \(commit))" }

}
