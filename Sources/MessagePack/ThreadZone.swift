import CMsgPack
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One libmsgpack-c zone per thread, for the unpacker's temporary objects.
///
/// A value is unpacked into the zone, converted into Swift values and the zone cleared,
/// all on one thread and without anything in between that could unpack again, so one zone
/// per thread is never used by two unpacks at once. The zone goes with its thread.
enum ThreadZone {
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        let created = pthread_key_create(&key) { zone in
            msgpack_zone_free(zone?.assumingMemoryBound(to: msgpack_zone.self))
        }
        precondition(created == 0, "pthread_key_create failed: \(created)")
        return key
    }()

    /// This thread's zone, made on first use.
    static var current: UnsafeMutablePointer<msgpack_zone> {
        if let zone = pthread_getspecific(key) { return zone.assumingMemoryBound(to: msgpack_zone.self) }
        guard let zone = msgpack_zone_new(Int(MSGPACK_ZONE_CHUNK_SIZE)) else { fatalError("out of memory for a MessagePack zone") }
        pthread_setspecific(key, zone)
        return zone
    }
}
