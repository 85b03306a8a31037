// swift-tools-version:6.0
// radrelay: a DICOM edge routing gateway. Module map and import rules: docs/architecture.md.
import PackageDescription

/// DCMTK's shared libraries (Debian `libdcmtk-dev`), named directly because Debian's dcmtk.pc
/// requires sndfile.pc, which nothing installs (see docs/decisions.md).
let dcmtkLibraries: [LinkerSetting] = ["dcmnet", "dcmdata", "oflog", "ofstd", "dcmjpls", "dcmjpeg", "dcmtls", "ssl", "crypto"]
    .map { .linkedLibrary($0) }

let package = Package(
    name: "radrelay",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "radrelayd", targets: ["radrelayd"]),
        .executable(name: "radrelayctl", targets: ["radrelayctl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.81.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "5.0.1"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        // Issue 5: STOW-RS sender (HTTPS) and inbound DICOM TLS on the Swift listener.
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    ],
    targets: [
        // MARK: - C and C++ adapters
        .target(
            name: "CDCMTK",
            cxxSettings: [.unsafeFlags(["-Wno-deprecated-declarations"])],
            linkerSettings: dcmtkLibraries
        ),
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),

        // MARK: - Pure core
        .target(
            name: "RadRelayCore",
            dependencies: [.product(name: "Logging", package: "swift-log")],
            // Fault points (issue 7) exist in debug builds only; see FaultPoints.swift.
            swiftSettings: [.define("RADRELAY_FAULT_INJECTION", .when(configuration: .debug))]
        ),

        // MARK: - Adapters
        .target(
            name: "RadRelayConfig",
            dependencies: ["RadRelayCore", .product(name: "Yams", package: "Yams")]
        ),
        .target(
            name: "RadRelayOutbox",
            dependencies: [
                "RadRelayCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "RadRelayDIMSE",
            dependencies: [
                "RadRelayCore", "CDCMTK",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "RadRelayDICOMweb",
            dependencies: [
                "RadRelayCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "RadRelaySystemd",
            dependencies: ["CSystemd", .product(name: "Logging", package: "swift-log")]
        ),

        // MARK: - Composition root and executables
        .target(
            name: "RadRelayDaemon",
            dependencies: [
                "RadRelayCore", "RadRelayConfig", "RadRelayOutbox", "RadRelayDIMSE", "RadRelaySystemd",
                "RadRelayDICOMweb",
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .executableTarget(
            name: "radrelayd",
            dependencies: [
                "RadRelayDaemon", "RadRelayConfig", "RadRelaySystemd",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .executableTarget(
            name: "radrelayctl",
            dependencies: [
                "RadRelayDaemon", "RadRelayConfig",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Issue 7: outbox-scale benchmark tool (scripts/bench/outbox.py); not run by `swift test`.
        .executableTarget(
            name: "radrelay-bench",
            dependencies: ["RadRelayOutbox", "RadRelayCore", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        // Issue 3: codec throughput of the transform path (scripts/bench/compression.py); not run by `swift test`.
        .executableTarget(
            name: "radrelay-transcode-bench",
            dependencies: ["RadRelayDIMSE", "RadRelayCore"]
        ),

        // MARK: - Tests
        .target(
            name: "RadRelayTestSupport",
            dependencies: [
                "RadRelayCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/RadRelayTestSupport"
        ),
        .testTarget(name: "RadRelayCoreTests", dependencies: ["RadRelayCore"]),
        .testTarget(name: "RadRelayConfigTests", dependencies: ["RadRelayConfig", "RadRelayCore"]),
        .testTarget(name: "RadRelayOutboxTests", dependencies: ["RadRelayOutbox", "RadRelayTestSupport"]),
        .testTarget(name: "RadRelayDIMSETests", dependencies: ["RadRelayDIMSE", "RadRelayTestSupport"]),
        .testTarget(
            name: "RadRelayDICOMwebTests",
            dependencies: ["RadRelayDICOMweb", "RadRelayCore", "RadRelayTestSupport"]
        ),
        .testTarget(name: "RadRelaySystemdTests", dependencies: ["RadRelaySystemd"]),
        .testTarget(
            name: "RadRelayOperationsTests",
            dependencies: ["RadRelayTestSupport", "RadRelayCore"]
        ),
        .testTarget(
            name: "RadRelayEndToEndTests",
            dependencies: ["RadRelayTestSupport", "RadRelayCore"]
        ),
        // Issue 7: kill -9, fault points, disk full, remote faults, bad input, floods.
        .testTarget(name: "RadRelayFaultTests", dependencies: ["RadRelayTestSupport", "RadRelayCore"]),
    ],
    cxxLanguageStandard: .cxx17
)
