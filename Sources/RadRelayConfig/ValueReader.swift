import RadRelayCore

/// How to read one typed value from a node, named so that section parsers read like the file:
/// `try map.read("port", into: &gateway.port, .port(allowZero: true))`. (A closure such as
/// `{ try $0.count() }` would be inferred as throwing `any Error`, not `ConfigurationError`.)
struct ValueReader<Value> {
    /// Reads the value or throws a positioned error.
    let read: (ConfigNode) throws(ConfigurationError) -> Value
}

extension ValueReader where Value == Double {
    /// A duration in seconds, greater than zero.
    static var seconds: Self { Self { node throws(ConfigurationError) in try node.seconds() } }
    /// A duration in seconds where zero is allowed ("off").
    static var secondsOrZero: Self { Self { node throws(ConfigurationError) in try node.seconds(allowZero: true) } }
    /// A fraction from 0 to 1 (`0.2` or `20%`).
    static var fraction: Self { Self { node throws(ConfigurationError) in try node.fraction() } }
}

extension ValueReader where Value == Int {
    /// A whole number ≥ 1.
    static var count: Self { Self { node throws(ConfigurationError) in try node.count() } }
    /// A TCP port; 0 only where `allowZero`.
    static func port(allowZero: Bool) -> Self {
        Self { node throws(ConfigurationError) in try node.port(allowZero: allowZero) }
    }
}

extension ValueReader where Value == UInt64 {
    /// A size in bytes within `range`.
    static func byteCount(in range: ClosedRange<UInt64>) -> Self {
        Self { node throws(ConfigurationError) in try node.byteCount(in: range) }
    }
}

extension ValueReader where Value == Bool {
    /// `true` or `false`.
    static var bool: Self { Self { node throws(ConfigurationError) in try node.bool() } }
}

extension ValueReader where Value == String {
    /// An IP address or host name.
    static var host: Self { Self { node throws(ConfigurationError) in try node.host() } }
    /// One of `choices`, in lower case.
    static func choice(_ choices: [String]) -> Self {
        Self { node throws(ConfigurationError) in try node.choice(choices) }
    }
}

extension ValueReader where Value == AETitle {
    /// A validated AE title.
    static var aeTitle: Self { Self { node throws(ConfigurationError) in try node.aeTitle() } }
}
