import RadRelayCore

extension Configuration {
    /// The `compression:` section (issue 3): how derived variants are made. Which syntax a
    /// destination gets is `destinations[].transfer_syntax`.
    public struct Compression: Sendable, Equatable {
        /// Threads that normalize and transcode (DCMTK's codecs are CPU-bound and blocking; they
        /// never run on Swift's cooperative pool). At least 1.
        public var workers: Int
        /// Decode every transcoded file and compare its pixel data with the source before it is
        /// sent. Turning it off saves about a third of the CPU and loses the proof.
        public var verify: Bool
        /// Objects larger than this are sent in their own syntax (codecs hold the whole pixel
        /// data in memory, once per worker); normalization still applies.
        public var maxObjectSize: UInt64

        public init(workers: Int = 2, verify: Bool = true, maxObjectSize: UInt64 = 1 << 30) {
            self.workers = workers
            self.verify = verify
            self.maxObjectSize = maxObjectSize
        }
    }
}
