import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import Skynet
import SkynetCLI
import SkynetConsole
import SkynetCoordinator
import SkynetEtcd
import SkynetRPC
import SkynetTimer
import Synchronization

/// `skynetd`: the Skynet coordinator daemon.
struct Skynetd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "skynetd",
        abstract: "The Skynet coordinator: a durable config tree with revisions, watches and sessions, served over MessagePack-RPC.",
        usage: "skynetd [-flag=value ...]",
        discussion: """
            `skynetd --dev` runs the embedded default: one node on 127.0.0.1:8046 with its data in ./.skynet.
            Otherwise name the data directory with --data-dir (or SKYNET_DATA_DIR).
            With --store etcd://HOST:PORT,... skynetd is a stateless front over an etcd cluster: run as many
            as you like, each serves the whole tree; the data lives in etcd (no --data-dir).
            Once it serves, skynetd prints one line to standard output: `skynetd listening on HOST:PORT`; once its
            HTTP port listens, `skynetd dashboard http://HOST:PORT/` (the dashboard, its JSON API under /api,
            Prometheus metrics at /metrics); then, once its timer service (skynet.timer, on by default) is
            registered, `skynetd timer serving HOST:PORT, http HOST:PORT` (the timer API is on the same HTTP port).
            SIGINT and SIGTERM stop it gracefully: in-flight calls finish, the log is closed.
            Flags may be written Go-style: -dev, -listen=127.0.0.1:8046 and --listen 127.0.0.1:8046 are alike.
            Exit status: 0 stopped cleanly, 1 could not start, 2 usage error.

            Examples:
              skynetd --dev
              skynetd --dev --http 127.0.0.1:8080
              skynetd --name n1 --listen 10.0.0.5:8046 --data-dir /var/lib/skynet --tls-cert n1.pem --tls-key n1-key.pem
              skynetd --name front-a --store etcd://10.0.0.1:2379,10.0.0.2:2379,10.0.0.3:2379
              SKYNET_DATA_DIR=/var/lib/skynet skynetd --log-level notice
            """,
        version: "skynetd \(BuildInfo.description)")

    @Flag(help: "Development mode: one node on 127.0.0.1:8046, data in ./.skynet (flags below still override).")
    var dev = false

    @Option(help: "This node's name, reported by `status`.")
    var name: String?

    @Option(help: ArgumentHelp("Client address to listen on, HOST:PORT; port 0 picks a free port.", valueName: "host:port"))
    var listen = "127.0.0.1:8046"

    @Option(help: ArgumentHelp("Where the tree lives: embedded (this process, in --data-dir) or etcd://HOST:PORT,... (an etcd cluster).", valueName: "embedded|etcd://..."))
    var store = "embedded"

    @Option(help: ArgumentHelp("Directory for the write-ahead log and snapshots (default with --dev: ./.skynet; else $SKYNET_DATA_DIR).", valueName: "path"))
    var dataDir: String?

    @Option(help: ArgumentHelp("Where the HTTP port listens (dashboard, /api, /metrics, timers), HOST:PORT; port 0 picks a free one; \"none\" for no HTTP port.", valueName: "host:port"))
    var http = "127.0.0.1:8048"

    @Flag(help: "Serve without TLS on addresses other machines reach (without --dev, plain ports are refused anywhere but loopback).")
    var insecure = false

    @Option(help: ArgumentHelp("Turn auth on: callers need a token, checked against roles in the tree. At first start the file's tokens (one per line) become root tokens (admin on everything); a missing file is created with a new token, mode 0600 (default: $SKYNET_AUTH_BOOTSTRAP). A store that holds auth records keeps auth on without it.", valueName: "file"))
    var authBootstrap: String?

    @Flag(help: "Do not run the timer service (skynet.timer) in-process.")
    var noTimer = false

    @Option(help: "Take a snapshot (and drop the log before it) at least every N log entries, once the log has also grown by twice the last snapshot's size.")
    var snapshotEvery: UInt64 = 10_000

    @Option(help: "Log level: trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    @Option(help: ArgumentHelp("Certificate (PEM) the client port serves TLS with, beside --tls-key; SIGHUP re-reads both (default: $SKYNET_TLS_CERT).", valueName: "file"))
    var tlsCert: String?

    @Option(help: ArgumentHelp("That certificate's private key (PEM) (default: $SKYNET_TLS_KEY).", valueName: "file"))
    var tlsKey: String?

    @Option(help: ArgumentHelp("CA (PEM) that client certificates chain to, for --tls-client-auth; skynetd's own timer service and dashboard trust it too (default: $SKYNET_TLS_CA).", valueName: "file"))
    var tlsCa: String?

    @Flag(help: "Serve only clients whose certificate --tls-ca signed: mutual TLS (default: $SKYNET_TLS_CLIENT_AUTH).")
    var tlsClientAuth = false

    @Option(help: ArgumentHelp("With --store etcd://...: talk TLS to etcd, trusting this CA (PEM) (default: $SKYNET_ETCD_TLS_CA).", valueName: "file"))
    var etcdTlsCa: String?

    @Option(help: ArgumentHelp("The client certificate (PEM) shown to etcd, for its --client-cert-auth (default: $SKYNET_ETCD_TLS_CERT).", valueName: "file"))
    var etcdTlsCert: String?

    @Option(help: ArgumentHelp("That certificate's private key (PEM) (default: $SKYNET_ETCD_TLS_KEY).", valueName: "file"))
    var etcdTlsKey: String?

    /// `--dev` serves loopback only; otherwise a port other machines reach needs TLS or auth
    /// (the HTTP port, whose dashboard does not take tokens, needs TLS), or `--insecure`.
    private func checkExposure(tls: Bool) throws {
        var ports = [("the client port", try ListenAddress(listen).host, "--listen", bootstrapFile != nil)]
        if http != "none" { ports.append(("the HTTP port", try TimerHTTPAddress(http).host, "--http", false)) }
        for (what, host, flag, auth) in ports {
            if dev, !ExposurePolicy.isLoopback(host) {
                throw ValidationError("--dev serves without TLS or auth, so it listens on loopback only; for \(flag) \(host), drop --dev and give --tls-cert and --tls-key or --auth-bootstrap (or --insecure)")
            }
            if let refusal = ExposurePolicy.refusal(what, host: host, tls: tls, auth: auth, insecure: insecure, tlsFlags: "--tls-cert and --tls-key", authFlag: "--auth-bootstrap", insecureFlag: "--insecure") {
                throw ValidationError(refusal)
            }
        }
    }

    /// TLS toward etcd from the flags, else `SKYNET_ETCD_TLS_*`; nil: plain. The files are
    /// checked now, so a bad one stops skynetd at start, naming it.
    private func etcdTLS() throws -> TLSSettings? {
        let environment = ProcessInfo.processInfo.environment
        func pick(_ flag: String?, _ variable: String) -> String? { flag ?? environment[variable].flatMap { $0.isEmpty ? nil : $0 } }
        let settings = TLSSettings(
            certificatePath: pick(etcdTlsCert, "SKYNET_ETCD_TLS_CERT"), keyPath: pick(etcdTlsKey, "SKYNET_ETCD_TLS_KEY"),
            caPath: pick(etcdTlsCa, "SKYNET_ETCD_TLS_CA"))
        guard settings.caPath != nil || settings.certificatePath != nil || settings.keyPath != nil else { return nil }
        guard store != "embedded" else { throw ValidationError("--etcd-tls-* are for --store etcd://...") }
        do {
            _ = try RPCTLS(settings)
        } catch {
            throw ValidationError("--etcd-tls-*: \(error.message)")
        }
        return settings
    }

    /// The bootstrap token file, from the flag or `SKYNET_AUTH_BOOTSTRAP`.
    private var bootstrapFile: String? {
        authBootstrap ?? ProcessInfo.processInfo.environment["SKYNET_AUTH_BOOTSTRAP"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The tokens of the bootstrap file, creating it with a new token when it is missing.
    private func bootstrapTokens(logger: Logger) throws -> [String]? {
        guard let path = bootstrapFile else { return nil }
        do {
            let tokens = try AuthBootstrapFile.tokens(at: path)
            if tokens.created { logger.notice("auth: wrote a new root token to \(path) (mode 0600); give it to sky with --token @\(path)") }
            return tokens.tokens
        } catch {
            throw StartFailure("--auth-bootstrap \(path): \(error)")
        }
    }

    /// TLS from the flags, else `SKYNET_TLS_*`; nil: plain TCP. Reads the files.
    private func tls() throws(ServiceConfigError) -> RPCTLS? {
        var given = ["tls-cert": tlsCert, "tls-key": tlsKey, "tls-ca": tlsCa].compactMapValues { $0 }
        if tlsClientAuth { given["tls-client-auth"] = "true" }
        let tls = try TLSFlags.tls(given, environment: ProcessInfo.processInfo.environment, current: nil)
        if let tls, !tls.canServe {
            throw ServiceConfigError(field: "--tls-cert", "serving TLS needs a certificate and its key (--tls-cert and --tls-key)")
        }
        return tls
    }

    func validate() throws {
        _ = try ListenAddress(listen)
        if http != "none" {
            do { _ = try TimerHTTPAddress(http) } catch { throw ValidationError("--\(error)") }
        }
        _ = try LogLevelFlag.level(logLevel)
        let secured: Bool
        do { secured = try tls() != nil } catch { throw ValidationError("\(error)") }
        _ = try etcdTLS()
        try checkExposure(tls: secured)
        guard snapshotEvery > 0 else { throw ValidationError("--snapshot-every must be at least 1") }
        if store != "embedded", EtcdEndpoint.list(store) == nil || !store.hasPrefix("etcd://") {
            throw ValidationError("--store must be embedded or etcd://HOST:PORT[,HOST:PORT...], found \"\(store)\"")
        }
        if store != "embedded", dataDir != nil {
            throw ValidationError("--data-dir is for the embedded store; with --store etcd://... the data lives in etcd")
        }
        if store == "embedded", !dev, dataDir == nil, ProcessInfo.processInfo.environment["SKYNET_DATA_DIR"] == nil {
            throw ValidationError("name a data directory with --data-dir (or SKYNET_DATA_DIR), or use --dev for ./.skynet")
        }
    }

    func run() async throws {
        LogLevelFlag.bootstrap(try LogLevelFlag.level(logLevel))
        let registry = PrometheusExport.registry
        let consoleBox = ConsoleBox()
        let logger = Logger(label: "skynetd")
        let address = try ListenAddress(listen)
        let tls = try self.tls()
        if dev { logger.notice(bootstrapFile == nil ? "development mode: no TLS and no auth, so it listens on loopback only" : "development mode: it listens on loopback only") }
        let bootstrap = try bootstrapTokens(logger: logger)
        let opened = try await openStore(logger: logger)
        let access: AccessControl?
        do {
            access = try await AccessControl.load(store: opened.store, bootstrapTokens: bootstrap, logger: logger)
        } catch {
            await opened.store.close()
            throw StartFailure("cannot read the auth records: \(ErrorText.sentence(error))")
        }
        if access != nil { logger.notice("auth on: every caller needs a token") }
        let server = CoordinatorServer(store: opened.store, host: address.host, port: address.port, tls: tls, access: access, logger: logger)
        let bound: String
        do {
            let local = try await server.start()
            bound = "\(address.host):\(local.port ?? address.port)"
        } catch {
            await server.shutdown()   // closes the log; the server never listened
            throw StartFailure("cannot listen on \(listen): \(ErrorText.sentence(error))")
        }
        FileHandle.standardOutput.write(Data("skynetd listening on \(bound)\n".utf8))
        let http = self.http == "none" ? nil : try TimerHTTPAddress(self.http)
        var timer: TimerServer?
        if !noTimer {
            // The timer service is an ordinary Skynet service that happens to live in this
            // process: it reaches the coordinator over loopback like any other. Its HTTP
            // API is served on the console's port, beside the dashboard.
            let timerLogger = Logger(label: "skynet.timer")
            var config: ServiceConfig
            do {
                // Ports the system picks: the 9000-9999 range stays for the services users start.
                config = try ServiceConfig(
                    name: TimerServer.serviceName, serviceAddress: "\(address.host):0", adminAddress: "\(address.host):0",
                    coordinators: [bound], logger: timerLogger)
                config.tls = tls
                config.token = access?.localToken
            } catch {
                throw StartFailure("cannot configure the timer service: \(error)")
            }
            timer = TimerServer(config: config, httpAddress: nil, logger: timerLogger) { [console = consoleBox] rpc, _ in
                guard let http, let console = console.value else {
                    FileHandle.standardOutput.write(Data("skynetd timer serving \(rpc), http none\n".utf8))
                    return
                }
                guard let port = await console.listeningPort() else { return }   // it could not listen: skynetd stops
                FileHandle.standardOutput.write(Data("skynetd timer serving \(rpc), http \(http.host):\(port)\n".utf8))
            }
        }
        var services: [any ServiceLifecycle.Service] = [server]
        if let http {
            let console = ConsoleServer(
                host: http.host, port: http.port, coordinators: [bound], timer: timer,
                metrics: SkynetdMetrics.console(registry: registry, store: opened.store, timer: timer), tls: tls,
                token: access?.localToken, logger: logger
            ) { port in
                FileHandle.standardOutput.write(Data("skynetd dashboard \(tls == nil ? "http" : "https")://\(http.host):\(port)/\n".utf8))
            }
            consoleBox.value = console
            services.append(console)
        }
        if let timer { services.append(timer) }
        // Services start in order and stop in reverse: the timer service lets go of its
        // shards while the coordinator still serves.
        // One failing (the HTTP port taken) shuts the rest down gracefully, in that order too:
        // cancelling them all at once would take the coordinator away under the timer service
        // while it lets go of its shards.
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: services.map { .init(service: $0, failureTerminationBehavior: .gracefullyShutdownGroup) },
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        let reload = tls.map { TLSReloadOnHangup($0, logger: logger) }
        try await group.run()
        reload?.cancel()
        await opened.etcd?.close()
    }

    /// The store `--store` names: the embedded node in the data directory, or a front over
    /// an etcd cluster (waiting up to ten seconds for the cluster to answer).
    private func openStore(logger: Logger) async throws -> (store: any CoordinatorStore, etcd: EtcdClient?) {
        let name = name ?? (dev ? "dev" : "skynetd")
        guard store == "embedded" else {
            let endpoints = EtcdEndpoint.list(store)!
            let client: EtcdClient
            // A write etcd cannot commit within two seconds (no quorum) fails as Unavailable
            // rather than holding its caller: on loopback or a LAN a commit takes milliseconds.
            do { client = try EtcdClient(endpoints: endpoints, tls: try etcdTLS(), callTimeout: .seconds(2), logger: logger) } catch {
                throw StartFailure(ErrorText.sentence(error))
            }
            let deadline = ContinuousClock.now + .seconds(10)
            while true {
                do {
                    return (try await EtcdStore(client: client, name: name, logger: logger), client)
                } catch where ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(200))
                } catch {
                    await client.close()
                    throw StartFailure("cannot reach the etcd cluster at \(endpoints.map(\.description).joined(separator: ",")): \(ErrorText.sentence(error))")
                }
            }
        }
        let directory = dataDir ?? ProcessInfo.processInfo.environment["SKYNET_DATA_DIR"] ?? "./.skynet"
        do {
            let node = try CoordinatorNode.open(
                configuration: .init(name: name, dataDirectory: directory, snapshotEvery: snapshotEvery), logger: logger)
            return (node, nil)
        } catch {
            throw StartFailure(ErrorText.sentence(error))
        }
    }
}

/// The console, for the timer's start line (made after the timer, which it serves).
final class ConsoleBox: Sendable {
    private let box = Mutex<ConsoleServer?>(nil)
    var value: ConsoleServer? {
        get { box.withLock { $0 } }
        set { box.withLock { $0 = newValue } }
    }
}

/// Why skynetd could not start, as the one sentence it prints.
struct StartFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

@main
enum SkynetdMain {
    static func main() async {
        await CommandLineTool.main(Skynetd.self)
    }
}
