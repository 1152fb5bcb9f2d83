/// Watchers indexed by the literal leading segments of their globs, as a trie of
/// segments: the watchers that might care about a path hang on the trie nodes along it.
///
/// `/skynet/services/echo/**` hangs on `/skynet/services/echo`; `/**` and `/*/x` on the
/// root. A commit asks only the watchers on the nodes its paths pass through, so 20,000
/// watchers on distinct prefixes cost a commit to an unwatched path a few dictionary
/// lookups, not 20,000 glob matches.
struct WatchPrefixIndex: Sendable {
    private struct Node: Sendable {
        var children: [String: Int] = [:]
        var members: Set<WatchID> = []
        var parent: Int
        var name: String
    }

    private var nodes: [Node] = [Node(parent: -1, name: "")]
    private var freeNodes: [Int] = []

    /// Hangs `id` on the node of `prefix`; returns that node, for `remove`.
    mutating func insert(_ id: WatchID, prefix: some Sequence<String>) -> Int {
        var node = 0
        for segment in prefix {
            if let child = nodes[node].children[segment] {
                node = child
                continue
            }
            let child: Int
            if let reused = freeNodes.popLast() {
                nodes[reused] = Node(parent: node, name: segment)
                child = reused
            } else {
                nodes.append(Node(parent: node, name: segment))
                child = nodes.count - 1
            }
            nodes[node].children[segment] = child
            node = child
        }
        nodes[node].members.insert(id)
        return node
    }

    /// Takes `id` off `node`, dropping nodes left with neither members nor children.
    mutating func remove(_ id: WatchID, node start: Int) {
        nodes[start].members.remove(id)
        var node = start
        while node != 0, nodes[node].members.isEmpty, nodes[node].children.isEmpty {
            let parent = nodes[node].parent
            nodes[parent].children[nodes[node].name] = nil
            nodes[node] = Node(parent: -1, name: "")
            freeNodes.append(node)
            node = parent
        }
    }

    /// Adds to `candidates` every watcher whose literal prefix is a prefix of `path`.
    func collect(_ path: TreePath, into candidates: inout Set<WatchID>) {
        var node = 0
        candidates.formUnion(nodes[0].members)
        for segment in path.segments {
            guard let child = nodes[node].children[String(segment)] else { return }
            node = child
            candidates.formUnion(nodes[node].members)
        }
    }

    /// Trie nodes in use (the root included).
    var nodeCount: Int { nodes.count - freeNodes.count }
}
