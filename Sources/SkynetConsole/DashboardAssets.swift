import Hummingbird
import NIOCore

/// The dashboard's page, script and style sheet, compiled into the binary (Assets/, through
/// SwiftPM's `embedInCode`): the dashboard works with no network and no files beside skynetd.
enum DashboardAssets {
    static func addRoutes(to router: Router<BasicRequestContext>) {
        let page = ByteBuffer(bytes: PackageResources.index_html)
        let script = ByteBuffer(bytes: PackageResources.dashboard_js)
        let style = ByteBuffer(bytes: PackageResources.dashboard_css)
        router.get("/") { _, _ in asset(page, "text/html; charset=utf-8") }
        router.get("/dashboard.js") { _, _ in asset(script, "text/javascript; charset=utf-8") }
        router.get("/dashboard.css") { _, _ in asset(style, "text/css; charset=utf-8") }
    }

    private static func asset(_ body: ByteBuffer, _ type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type, .cacheControl: "no-cache"], body: .init(byteBuffer: body))
    }
}
