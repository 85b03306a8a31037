// swift-tools-version:6.0
// radrelay: a DICOM edge routing gateway. Module map and import rules: docs/architecture.md.
import PackageDescription

/// DCMTK's shared libraries (Debian `libdcmtk-dev`), named directly because Debian's dcmtk.pc
/// requires sndfile.pc, which nothing installs (see docs/decisions.md).
let dcmtkLibraries: [LinkerSetting] = ["dcmnet", "dcmdata", "oflog", "ofstd", "dcmjpls", "dcmjpeg", "dcmtls", "crypto"]
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
            dependencies: [.product(name: "Logging", package: "swift-log")]
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
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "radrelayd",
            dependencies: [
                "RadRelayDaemon", "RadRelayConfig", "RadRelaySystemd",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "radrelayctl",
            dependencies: [
                "RadRelayDaemon", "RadRelayConfig",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // MARK: - Tests
        .target(
            name: "RadRelayTestSupport",
            dependencies: [
                "RadRelayCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/RadRelayTestSupport"
        ),
        .testTarget(name: "RadRelayCoreTests", dependencies: ["RadRelayCore"]),
        .testTarget(name: "RadRelayConfigTests", dependencies: ["RadRelayConfig", "RadRelayCore"]),
        .testTarget(name: "RadRelayOutboxTests", dependencies: ["RadRelayOutbox", "RadRelayTestSupport"]),
        .testTarget(name: "RadRelayDIMSETests", dependencies: ["RadRelayDIMSE", "RadRelayTestSupport"]),
        .testTarget(
            name: "RadRelayEndToEndTests",
            dependencies: ["RadRelayTestSupport", "RadRelayCore"]
        ),
    ],
    cxxLanguageStandard: .cxx17
)
