import Testing

@testable import SkynetTimer

@Suite("Timer callback destinations")
struct TimerCallbackTests {
    @Test("an HTTP callback's destination is its scheme and authority, whatever the path, query or case",
          arguments: [
              ("http://127.0.0.1:8080/hook", "http://127.0.0.1:8080"),
              ("http://127.0.0.1:8080/other?x=1", "http://127.0.0.1:8080"),
              ("HTTP://Example.COM:80?x=1", "http://example.com:80"),
              ("https://example.com#frag", "https://example.com"),
              ("https://user@example.com/a/b", "https://user@example.com"),
          ])
    func http(uri: String, destination: String) {
        #expect(TimerCallback.http(method: "POST", uri: uri).destination == destination)
    }

    @Test("different hosts or ports are different destinations; a Skynet callback's is its service and version")
    func distinct() {
        let a = TimerCallback.http(method: "POST", uri: "http://127.0.0.1:8080/x").destination
        #expect(a != TimerCallback.http(method: "POST", uri: "http://127.0.0.1:8081/x").destination)
        #expect(a != TimerCallback.http(method: "POST", uri: "https://127.0.0.1:8080/x").destination)
        let echo = TimerCallback.skynet(service: "echo", version: "1", method: "ping").destination
        #expect(echo == TimerCallback.skynet(service: "echo", version: "1", method: "other").destination)
        #expect(echo != TimerCallback.skynet(service: "echo", version: nil, method: "ping").destination)
        #expect(echo != a)
    }
}
