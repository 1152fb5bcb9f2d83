import CMsgPack

/// One libmsgpack-c zone per thread, for the unpacker's temporary objects.
///
/// A value is unpacked into the zone, converted into Swift values and the zone cleared,
/// all on one thread and without anything in between that could unpack again, so one zone
/// per thread is never used by two unpacks at once. The zone goes with its thread.
final class ThreadZone {
    private static let perThread = PerThread { ThreadZone() }

    /// This thread's zone, made on first use.
    static var current: UnsafeMutablePointer<msgpack_zone> { perThread.current.zone }

    private let zone: UnsafeMutablePointer<msgpack_zone>

    private init() {
        guard let zone = msgpack_zone_new(Int(MSGPACK_ZONE_CHUNK_SIZE)) else { fatalError("out of memory for a MessagePack zone") }
        self.zone = zone
    }

    deinit { msgpack_zone_free(zone) }
}
