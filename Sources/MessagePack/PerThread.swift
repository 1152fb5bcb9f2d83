#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One object per thread, made on a thread's first use and released when the thread ends.
///
/// For scratch state on hot paths (a writer to pack into, a batch of answers) that is
/// cheaper to keep than to allocate per call. Only the thread that made an object reaches
/// it, so the object itself needs no lock.
package final class PerThread<Object: AnyObject>: Sendable {
    private let key: pthread_key_t
    private let make: @Sendable () -> Object

    /// Makes each thread's object with `make` on its first use.
    package init(_ make: @escaping @Sendable () -> Object) {
        var key = pthread_key_t()
        let created = pthread_key_create(&key) { object in
            if let object { Unmanaged<AnyObject>.fromOpaque(object).release() }
        }
        precondition(created == 0, "pthread_key_create failed: \(created)")
        self.key = key
        self.make = make
    }

    /// This thread's object.
    package var current: Object {
        if let object = pthread_getspecific(key) { return Unmanaged<Object>.fromOpaque(object).takeUnretainedValue() }
        let object = make()
        pthread_setspecific(key, Unmanaged.passRetained(object).toOpaque())
        return object
    }
}
