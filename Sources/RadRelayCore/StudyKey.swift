/// A short pseudonymous key for a study (16 hex digits of FNV-1a 64 over the Study Instance
/// UID), written to every log line about the study as `STUDY_KEY` and shown by
/// `radrelayctl studies`, so an operator can follow one study through the journal
/// (`journalctl STUDY_KEY=…`) without the UID itself in the logs (`logging.log_uids`).
/// A correlation key, not a secret: anyone holding the UID can compute it.
public enum StudyKey {
    public static func make(_ studyInstanceUID: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in studyInstanceUID.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
