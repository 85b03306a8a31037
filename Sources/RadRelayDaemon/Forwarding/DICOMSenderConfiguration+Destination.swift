import RadRelayConfig
import RadRelayDIMSE

extension DICOMSenderConfiguration {
    /// The sender settings of a `kind: dicom` destination: its address and AE titles, one timeout
    /// per phase (`timeouts.connect`, `acse`, `dimse`, `idle`), and DICOM TLS when configured
    /// (issue 5). The one place a destination becomes a sender configuration, so a worker's
    /// associations and `radrelayctl echo` connect alike. Lives here rather than in RadRelayDIMSE,
    /// which must not import RadRelayConfig (docs/architecture.md).
    init(destination: Configuration.Destination) {
        self.init(
            host: destination.host,
            port: destination.port,
            calledAE: destination.aeTitle,
            callingAE: destination.callingAETitle,
            connectTimeout: destination.timeouts.connect,
            acseTimeout: destination.timeouts.acse,
            dimseTimeout: destination.timeouts.dimse,
            idleRelease: destination.timeouts.idle,
            tls: destination.tls.map(DICOMTLSSettings.make)
        )
    }
}
